// RUN: gptc-opt %s -gpt-kv-cache | FileCheck %s

// One attention layer between the embeddings and the head. The slice of
// the last position moves above the head's matmul and stops at the
// reshape that merges the heads.

// CHECK-LABEL: func.func @forward
// CHECK: gpt.attention

// CHECK-LABEL: func.func @prefill
// CHECK-SAME: gpt.input = "cache.k.0"
// CHECK-NOT: gpt.input = "positions"
// CHECK: gpt.arange
// CHECK: gpt.cache_write %{{[^,]*}}, %{{[^,]*}} : tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32> -> tensor<?x2x?x4xf32>
// CHECK: gpt.attention
// CHECK: gpt.slice
// CHECK: gpt.matmul {{.*}} -> tensor<?x16xf32>

// CHECK-LABEL: func.func @decode
// CHECK-SAME: %[[TOK:[^:]*]]: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}
// CHECK-SAME: %[[WPE:[^:]*]]: tensor<6x8xf32> {gpt.param = "wpe"}
// CHECK-SAME: %[[POS:[^:]*]]: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "positions"}
// CHECK-SAME: %[[K:[^:]*]]: tensor<?x2x?x4xf32> {gpt.dims = ["B", "2", "S", "4"], gpt.input = "cache.k.0"}
// CHECK-SAME: %[[V:[^:]*]]: tensor<?x2x?x4xf32> {gpt.dims = ["B", "2", "S", "4"], gpt.input = "cache.v.0"}
// CHECK-SAME: -> (tensor<?x16xf32> {gpt.output = "logits"}, tensor<?x2x?x4xf32> {gpt.output = "cache.k.0"}, tensor<?x2x?x4xf32> {gpt.output = "cache.v.0"})
// CHECK-NOT: gpt.arange
// CHECK: gpt.embedding %[[POS]], %[[WPE]] : tensor<?x?xi32>, tensor<6x8xf32> -> tensor<?x?x8xf32>
// CHECK: %[[KW:.*]] = gpt.cache_write %[[K]], %[[Q:[^,]*]], %[[POS]]
// CHECK: %[[VW:.*]] = gpt.cache_write %[[V]], %[[Q]], %[[POS]]
// CHECK: %[[O:.*]] = gpt.cached_attention %[[Q]], %[[KW]], %[[VW]], %[[POS]] {scale = 5.000000e-01 : f64}
// CHECK-NOT: gpt.attention
// CHECK: %[[M:.*]] = gpt.reshape
// CHECK: %[[L:.*]] = gpt.slice %[[M]] [0, -1, 0] [%{{.*}}, 0, 8] {squeeze = array<i64: 1>} : tensor<?x?x8xf32> -> tensor<?x8xf32>
// CHECK: %[[Y:.*]] = gpt.matmul %[[L]], %{{.*}} : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
// CHECK: return %[[Y]], %[[KW]], %[[VW]]
func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %wte: tensor<16x8xf32> {gpt.param = "wte"}, %wpe: tensor<6x8xf32> {gpt.param = "wpe"}, %w: tensor<8x16xf32> {gpt.param = "head"}) -> tensor<?x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %B = tensor.dim %tok, %c0 : tensor<?x?xi32>
  %T = tensor.dim %tok, %c1 : tensor<?x?xi32>
  %x = gpt.embedding %tok, %wte : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %ar = gpt.arange %T : tensor<?xi32>
  %p = gpt.embedding %ar, %wpe : tensor<?xi32>, tensor<6x8xf32> -> tensor<?x8xf32>
  %h = gpt.add %x, %p : tensor<?x?x8xf32>, tensor<?x8xf32> -> tensor<?x?x8xf32>
  %r = gpt.reshape %h to [%B, %T, 2, 4] : tensor<?x?x8xf32> -> tensor<?x?x2x4xf32>
  %q = gpt.transpose %r {perm = array<i64: 0, 2, 1, 3>} : tensor<?x?x2x4xf32> -> tensor<?x2x?x4xf32>
  %o, %lse = gpt.attention %q, %q, %q {causal = true, id = 0 : i64, p = 0.0 : f64, scale = 0.5 : f64} : tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32> -> tensor<?x2x?x4xf32>, tensor<?x2x?xf32>
  %t = gpt.transpose %o {perm = array<i64: 0, 2, 1, 3>} : tensor<?x2x?x4xf32> -> tensor<?x?x2x4xf32>
  %m = gpt.reshape %t to [%B, %T, 8] : tensor<?x?x2x4xf32> -> tensor<?x?x8xf32>
  %l = gpt.matmul %m, %w : tensor<?x?x8xf32>, tensor<8x16xf32> -> tensor<?x?x16xf32>
  return %l : tensor<?x?x16xf32>
}

