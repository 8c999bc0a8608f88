// RUN: gptc-opt %s -gpt-kv-cache | FileCheck %s

// Rotary angles computed from arange(T) (cast, reshape to [T, 1], times the
// frequencies, concat, cos) and applied to q [B, H, T, D]. In @decode the
// chain runs on the positions [B, T] with a leading batch dim, and the
// cosines [B, T, D] become [B, 1, T, D] where they meet q; the arange of the
// frequencies (a static size) is a constant and stays.

// CHECK-LABEL: func.func @prefill
// CHECK: gpt.arange %{{.*}} : tensor<2xi32>
// CHECK: gpt.arange %{{.*}} : tensor<?xi32>

// CHECK-LABEL: func.func @decode
// CHECK-SAME: %[[TOK:[^:]*]]: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}
// CHECK-SAME: %[[POS:[^:]*]]: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "positions"}
// CHECK: %[[F:.*]] = gpt.arange %{{.*}} : tensor<2xi32>
// CHECK-NOT: gpt.arange
// CHECK: %[[PF:.*]] = gpt.cast %[[POS]] : tensor<?x?xi32> -> tensor<?x?xf32>
// CHECK: %[[PC:.*]] = gpt.reshape %[[PF]] to [%{{.*}}, %{{.*}}, 1] : tensor<?x?xf32> -> tensor<?x?x1xf32>
// CHECK: %[[ANG:.*]] = gpt.mul %[[PC]], %{{.*}} : tensor<?x?x1xf32>, tensor<2xf32> -> tensor<?x?x2xf32>
// CHECK: %[[EMB:.*]] = gpt.concat %[[ANG]], %[[ANG]] {axis = 2 : i64} : tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x4xf32>
// CHECK: %[[COS:.*]] = gpt.cos %[[EMB]] : tensor<?x?x4xf32>
// CHECK: %[[C4:.*]] = gpt.reshape %[[COS]] to [%{{.*}}, 1, %{{.*}}, 4] : tensor<?x?x4xf32> -> tensor<?x1x?x4xf32>
// CHECK: gpt.mul %{{.*}}, %[[C4]] : tensor<?x2x?x4xf32>, tensor<?x1x?x4xf32> -> tensor<?x2x?x4xf32>
// CHECK: gpt.cached_attention
func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %wte: tensor<16x8xf32> {gpt.param = "wte"}, %w: tensor<8x16xf32> {gpt.param = "head"}) -> tensor<?x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %B = tensor.dim %tok, %c0 : tensor<?x?xi32>
  %T = tensor.dim %tok, %c1 : tensor<?x?xi32>
  %i = gpt.arange %c2 : tensor<2xi32>
  %freq = gpt.cast %i : tensor<2xi32> -> tensor<2xf32>
  %x = gpt.embedding %tok, %wte : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %r = gpt.reshape %x to [%B, %T, 2, 4] : tensor<?x?x8xf32> -> tensor<?x?x2x4xf32>
  %q = gpt.transpose %r {perm = array<i64: 0, 2, 1, 3>} : tensor<?x?x2x4xf32> -> tensor<?x2x?x4xf32>
  %ar = gpt.arange %T : tensor<?xi32>
  %pf = gpt.cast %ar : tensor<?xi32> -> tensor<?xf32>
  %pc = gpt.reshape %pf to [%T, 1] : tensor<?xf32> -> tensor<?x1xf32>
  %ang = gpt.mul %pc, %freq : tensor<?x1xf32>, tensor<2xf32> -> tensor<?x2xf32>
  %emb = gpt.concat %ang, %ang {axis = 1 : i64} : tensor<?x2xf32>, tensor<?x2xf32> -> tensor<?x4xf32>
  %cos = gpt.cos %emb : tensor<?x4xf32>
  %qr = gpt.mul %q, %cos : tensor<?x2x?x4xf32>, tensor<?x4xf32> -> tensor<?x2x?x4xf32>
  %o, %lse = gpt.attention %qr, %qr, %qr {causal = true, id = 0 : i64, p = 0.0 : f64, scale = 0.5 : f64} : tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32> -> tensor<?x2x?x4xf32>, tensor<?x2x?xf32>
  %t = gpt.transpose %o {perm = array<i64: 0, 2, 1, 3>} : tensor<?x2x?x4xf32> -> tensor<?x?x2x4xf32>
  %m = gpt.reshape %t to [%B, %T, 8] : tensor<?x?x2x4xf32> -> tensor<?x?x8xf32>
  %l = gpt.matmul %m, %w : tensor<?x?x8xf32>, tensor<8x16xf32> -> tensor<?x?x16xf32>
  return %l : tensor<?x?x16xf32>
}
