// RUN: gptc-opt %s -gpt-kv-cache | FileCheck %s

// Grouped-query attention: gpt.attention with k and v of 2 heads for 4
// query heads (as gpt-fuse-attention makes it from repeat_kv). The caches
// hold the 2 heads; @decode's cached_attention reads them per group.

// CHECK-LABEL: func.func @prefill
// CHECK-SAME: gpt.input = "cache.k.0"
// CHECK: %[[K0:.*]] = gpt.reshape %{{.*}} to [%{{.*}}, 2, %{{.*}}, 4] : tensor<?x?x8xf32> -> tensor<?x2x?x4xf32>
// CHECK: gpt.cache_write %{{[^,]*}}, %[[K0]] : tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32> -> tensor<?x2x?x4xf32>
// CHECK: gpt.attention %{{.*}} : tensor<?x4x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>

// CHECK-LABEL: func.func @decode
// CHECK-SAME: %{{[^:]*}}: tensor<?x2x?x4xf32> {gpt.dims = ["B", "2", "S", "4"], gpt.input = "cache.k.0"}
// CHECK: gpt.cached_attention %{{.*}} : tensor<?x4x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x?xi32> -> tensor<?x4x?x4xf32>
// CHECK: return
func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %wte: tensor<16x8xf32> {gpt.param = "wte"}, %wq: tensor<8x16xf32> {gpt.param = "wq"}, %w: tensor<16x16xf32> {gpt.param = "head"}) -> tensor<?x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %B = tensor.dim %tok, %c0 : tensor<?x?xi32>
  %T = tensor.dim %tok, %c1 : tensor<?x?xi32>
  %x = gpt.embedding %tok, %wte : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %qx = gpt.matmul %x, %wq : tensor<?x?x8xf32>, tensor<8x16xf32> -> tensor<?x?x16xf32>
  %qr = gpt.reshape %qx to [%B, 4, %T, 4] : tensor<?x?x16xf32> -> tensor<?x4x?x4xf32>
  %k0 = gpt.reshape %x to [%B, 2, %T, 4] : tensor<?x?x8xf32> -> tensor<?x2x?x4xf32>
  %o, %lse = gpt.attention %qr, %k0, %k0 {causal = true, id = 0 : i64, p = 0.0 : f64, scale = 0.5 : f64} : tensor<?x4x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32> -> tensor<?x4x?x4xf32>, tensor<?x4x?xf32>
  %m = gpt.reshape %o to [%B, %T, 16] : tensor<?x4x?x4xf32> -> tensor<?x?x16xf32>
  %l = gpt.matmul %m, %w : tensor<?x?x16xf32>, tensor<16x16xf32> -> tensor<?x?x16xf32>
  return %l : tensor<?x?x16xf32>
}
