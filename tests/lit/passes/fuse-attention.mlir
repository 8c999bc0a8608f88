// RUN: gptc-opt %s -gpt-fuse-attention -split-input-file | FileCheck %s

// The book's spelling: scores, causal masked_fill with -inf, division by
// sqrt(head_dim), softmax, dropout, times v.
// CHECK-LABEL: func.func @book
// CHECK: %[[O:.*]], %{{.*}} = gpt.attention %arg0, %arg1, %arg2 {causal = true, id = 7 : i64, p = 1.000000e-01 : f64, scale = 5.000000e-01 : f64} : {{.*}} -> tensor<2x3x5x4xf32>, tensor<2x3x5xf32>
// CHECK-NOT: gpt.softmax
// CHECK-NOT: gpt.matmul
// CHECK: return %[[O]]
func.func @book(%q: tensor<2x3x5x4xf32>, %k: tensor<2x3x5x4xf32>, %v: tensor<2x3x5x4xf32>) -> tensor<2x3x5x4xf32> {
  %c = gpt.constant 2.0 : tensor<f32>
  %n = arith.constant 5 : index
  %kt = gpt.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<2x3x5x4xf32> -> tensor<2x3x4x5xf32>
  %s = gpt.matmul %q, %kt : tensor<2x3x5x4xf32>, tensor<2x3x4x5xf32> -> tensor<2x3x5x5xf32>
  %mask = gpt.causal_mask %n : tensor<5x5xi1>
  %m = gpt.masked_fill %s, %mask {value = 0xFFF0000000000000 : f64} : tensor<2x3x5x5xf32>, tensor<5x5xi1> -> tensor<2x3x5x5xf32>
  %d = gpt.div %m, %c : tensor<2x3x5x5xf32>, tensor<f32> -> tensor<2x3x5x5xf32>
  %w = gpt.softmax %d {axis = 3 : i64} : tensor<2x3x5x5xf32>
  %w2 = gpt.dropout %w {p = 0.1 : f64, id = 7 : i64} : tensor<2x3x5x5xf32>
  %o = gpt.matmul %w2, %v : tensor<2x3x5x5xf32>, tensor<2x3x5x4xf32> -> tensor<2x3x5x4xf32>
  return %o : tensor<2x3x5x4xf32>
}

// -----

// Scale on q before the product, no mask, no dropout: non-causal attention.
// CHECK-LABEL: func.func @scaled_q
// CHECK: gpt.attention %arg0, %arg1, %arg2 {causal = false, id = 0 : i64, p = 0.000000e+00 : f64, scale = 2.500000e-01 : f64}
func.func @scaled_q(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x6x4xf32>, %v: tensor<1x2x6x4xf32>) -> tensor<1x2x3x4xf32> {
  %c = gpt.constant 0.25 : tensor<f32>
  %qs = gpt.mul %q, %c : tensor<1x2x3x4xf32>, tensor<f32> -> tensor<1x2x3x4xf32>
  %kt = gpt.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x6x4xf32> -> tensor<1x2x4x6xf32>
  %s = gpt.matmul %qs, %kt : tensor<1x2x3x4xf32>, tensor<1x2x4x6xf32> -> tensor<1x2x3x6xf32>
  %w = gpt.softmax %s {axis = 3 : i64} : tensor<1x2x3x6xf32>
  %o = gpt.matmul %w, %v : tensor<1x2x3x6xf32>, tensor<1x2x6x4xf32> -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// -----

// Negative: values with another head dim than queries and keys (the
// kernels take one head dim).
// CHECK-LABEL: func.func @value_dim
// CHECK-NOT: gpt.attention
// CHECK: gpt.softmax
func.func @value_dim(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x6x4xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x2x3x8xf32> {
  %kt = gpt.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x6x4xf32> -> tensor<1x2x4x6xf32>
  %s = gpt.matmul %q, %kt : tensor<1x2x3x4xf32>, tensor<1x2x4x6xf32> -> tensor<1x2x3x6xf32>
  %w = gpt.softmax %s {axis = 3 : i64} : tensor<1x2x3x6xf32>
  %o = gpt.matmul %w, %v : tensor<1x2x3x6xf32>, tensor<1x2x6x8xf32> -> tensor<1x2x3x8xf32>
  return %o : tensor<1x2x3x8xf32>
}

// -----

// Negative: the weights are also returned, so they must exist.
// CHECK-LABEL: func.func @weights_used
// CHECK-NOT: gpt.attention
// CHECK: gpt.softmax
func.func @weights_used(%q: tensor<1x5x4xf32>, %k: tensor<1x5x4xf32>, %v: tensor<1x5x4xf32>) -> (tensor<1x5x4xf32>, tensor<1x5x5xf32>) {
  %kt = gpt.transpose %k {perm = array<i64: 0, 2, 1>} : tensor<1x5x4xf32> -> tensor<1x4x5xf32>
  %s = gpt.matmul %q, %kt : tensor<1x5x4xf32>, tensor<1x4x5xf32> -> tensor<1x5x5xf32>
  %w = gpt.softmax %s {axis = 2 : i64} : tensor<1x5x5xf32>
  %o = gpt.matmul %w, %v : tensor<1x5x5xf32>, tensor<1x5x4xf32> -> tensor<1x5x4xf32>
  return %o, %w : tensor<1x5x4xf32>, tensor<1x5x5xf32>
}

// -----

// Negative: a mask that is an input, not the causal one, stays a
// masked_fill.
// CHECK-LABEL: func.func @other_mask
// CHECK-NOT: gpt.attention
// CHECK: gpt.masked_fill
func.func @other_mask(%q: tensor<1x5x4xf32>, %k: tensor<1x5x4xf32>, %v: tensor<1x5x4xf32>, %mask: tensor<5x5xi1>) -> tensor<1x5x4xf32> {
  %kt = gpt.transpose %k {perm = array<i64: 0, 2, 1>} : tensor<1x5x4xf32> -> tensor<1x4x5xf32>
  %s = gpt.matmul %q, %kt : tensor<1x5x4xf32>, tensor<1x4x5xf32> -> tensor<1x5x5xf32>
  %m = gpt.masked_fill %s, %mask {value = 0xFFF0000000000000 : f64} : tensor<1x5x5xf32>, tensor<5x5xi1> -> tensor<1x5x5xf32>
  %w = gpt.softmax %m {axis = 2 : i64} : tensor<1x5x5xf32>
  %o = gpt.matmul %w, %v : tensor<1x5x5xf32>, tensor<1x5x4xf32> -> tensor<1x5x4xf32>
  return %o : tensor<1x5x4xf32>
}

// -----

// Negative: softmax over another axis is not attention's.
// CHECK-LABEL: func.func @wrong_axis
// CHECK-NOT: gpt.attention
func.func @wrong_axis(%q: tensor<1x5x4xf32>, %k: tensor<1x5x4xf32>, %v: tensor<1x5x4xf32>) -> tensor<1x5x4xf32> {
  %kt = gpt.transpose %k {perm = array<i64: 0, 2, 1>} : tensor<1x5x4xf32> -> tensor<1x4x5xf32>
  %s = gpt.matmul %q, %kt : tensor<1x5x4xf32>, tensor<1x4x5xf32> -> tensor<1x5x5xf32>
  %w = gpt.softmax %s {axis = 1 : i64} : tensor<1x5x5xf32>
  %o = gpt.matmul %w, %v : tensor<1x5x5xf32>, tensor<1x5x4xf32> -> tensor<1x5x4xf32>
  return %o : tensor<1x5x4xf32>
}

// -----

// Softmax written out with the max subtraction, the causal mask added as a
// bias, the scale after the mask. The mask's producers are gone.
// CHECK-LABEL: func.func @spelled_out
// CHECK-NOT: gpt.
// CHECK: %{{.*}}, %{{.*}} = gpt.attention %arg0, %arg1, %arg2 {causal = true, id = 0 : i64, p = 0.000000e+00 : f64, scale = 5.000000e-01 : f64}
// CHECK-NEXT: return
func.func @spelled_out(%q: tensor<1x5x4xf32>, %k: tensor<1x5x4xf32>, %v: tensor<1x5x4xf32>) -> tensor<1x5x4xf32> {
  %n = arith.constant 5 : index
  %zero = gpt.constant 0.0 : tensor<f32>
  %half = gpt.constant 0.5 : tensor<f32>
  %kt = gpt.transpose %k {perm = array<i64: 0, 2, 1>} : tensor<1x5x4xf32> -> tensor<1x4x5xf32>
  %s = gpt.matmul %q, %kt : tensor<1x5x4xf32>, tensor<1x4x5xf32> -> tensor<1x5x5xf32>
  %mask = gpt.causal_mask %n : tensor<5x5xi1>
  %zeros = gpt.broadcast_like %zero to %mask : tensor<f32>, tensor<5x5xi1> -> tensor<5x5xf32>
  %bias = gpt.masked_fill %zeros, %mask {value = -1.0e9 : f64} : tensor<5x5xf32>, tensor<5x5xi1> -> tensor<5x5xf32>
  %b = gpt.add %s, %bias : tensor<1x5x5xf32>, tensor<5x5xf32> -> tensor<1x5x5xf32>
  %x = gpt.mul %b, %half : tensor<1x5x5xf32>, tensor<f32> -> tensor<1x5x5xf32>
  %mx = gpt.max %x {axis = 2 : i64, keepdim = true} : tensor<1x5x5xf32> -> tensor<1x5x1xf32>
  %d = gpt.sub %x, %mx : tensor<1x5x5xf32>, tensor<1x5x1xf32> -> tensor<1x5x5xf32>
  %e = gpt.exp %d : tensor<1x5x5xf32>
  %z = gpt.sum %e {axis = 2 : i64, keepdim = true} : tensor<1x5x5xf32> -> tensor<1x5x1xf32>
  %w = gpt.div %e, %z : tensor<1x5x5xf32>, tensor<1x5x1xf32> -> tensor<1x5x5xf32>
  %o = gpt.matmul %w, %v : tensor<1x5x5xf32>, tensor<1x5x4xf32> -> tensor<1x5x4xf32>
  return %o : tensor<1x5x4xf32>
}

// -----

// exp / sum without the max subtraction is the same softmax.
// CHECK-LABEL: func.func @exp_sum
// CHECK: gpt.attention %arg0, %arg1, %arg2 {causal = false
// CHECK-NOT: gpt.exp
func.func @exp_sum(%q: tensor<1x5x4xf32>, %k: tensor<1x5x4xf32>, %v: tensor<1x5x4xf32>) -> tensor<1x5x4xf32> {
  %kt = gpt.transpose %k {perm = array<i64: 0, 2, 1>} : tensor<1x5x4xf32> -> tensor<1x4x5xf32>
  %s = gpt.matmul %q, %kt : tensor<1x5x4xf32>, tensor<1x4x5xf32> -> tensor<1x5x5xf32>
  %e = gpt.exp %s : tensor<1x5x5xf32>
  %z = gpt.sum %e {axis = 2 : i64, keepdim = true} : tensor<1x5x5xf32> -> tensor<1x5x1xf32>
  %w = gpt.div %e, %z : tensor<1x5x5xf32>, tensor<1x5x1xf32> -> tensor<1x5x5xf32>
  %o = gpt.matmul %w, %v : tensor<1x5x5xf32>, tensor<1x5x4xf32> -> tensor<1x5x4xf32>
  return %o : tensor<1x5x4xf32>
}

// -----

// Negative: the exponentials are also returned, so the spelled-out softmax
// must stay.
// CHECK-LABEL: func.func @exp_reused
// CHECK-NOT: gpt.attention
// CHECK: gpt.exp
func.func @exp_reused(%q: tensor<1x5x4xf32>, %k: tensor<1x5x4xf32>, %v: tensor<1x5x4xf32>) -> (tensor<1x5x4xf32>, tensor<1x5x5xf32>) {
  %kt = gpt.transpose %k {perm = array<i64: 0, 2, 1>} : tensor<1x5x4xf32> -> tensor<1x4x5xf32>
  %s = gpt.matmul %q, %kt : tensor<1x5x4xf32>, tensor<1x4x5xf32> -> tensor<1x5x5xf32>
  %e = gpt.exp %s : tensor<1x5x5xf32>
  %z = gpt.sum %e {axis = 2 : i64, keepdim = true} : tensor<1x5x5xf32> -> tensor<1x5x1xf32>
  %w = gpt.div %e, %z : tensor<1x5x5xf32>, tensor<1x5x1xf32> -> tensor<1x5x5xf32>
  %o = gpt.matmul %w, %v : tensor<1x5x5xf32>, tensor<1x5x4xf32> -> tensor<1x5x4xf32>
  return %o, %e : tensor<1x5x4xf32>, tensor<1x5x5xf32>
}

// -----

// Negative: a bias added to the scores that is not the causal one stays.
// CHECK-LABEL: func.func @other_bias
// CHECK-NOT: gpt.attention
func.func @other_bias(%q: tensor<1x5x4xf32>, %k: tensor<1x5x4xf32>, %v: tensor<1x5x4xf32>, %bias: tensor<5x5xf32>) -> tensor<1x5x4xf32> {
  %kt = gpt.transpose %k {perm = array<i64: 0, 2, 1>} : tensor<1x5x4xf32> -> tensor<1x4x5xf32>
  %s = gpt.matmul %q, %kt : tensor<1x5x4xf32>, tensor<1x4x5xf32> -> tensor<1x5x5xf32>
  %b = gpt.add %s, %bias : tensor<1x5x5xf32>, tensor<5x5xf32> -> tensor<1x5x5xf32>
  %w = gpt.softmax %b {axis = 2 : i64} : tensor<1x5x5xf32>
  %o = gpt.matmul %w, %v : tensor<1x5x5xf32>, tensor<1x5x4xf32> -> tensor<1x5x4xf32>
  return %o : tensor<1x5x4xf32>
}

// -----

// Grouped-query attention by broadcasting the head dim (2 query heads per
// k/v head: heads 2 against 1) is grouped-query attention too.
// CHECK-LABEL: func.func @grouped_query
// CHECK: gpt.attention %arg0, %arg1, %arg2 {{.*}} : tensor<2x2x5x4xf32>, tensor<2x1x5x4xf32>, tensor<2x1x5x4xf32>
func.func @grouped_query(%q: tensor<2x2x5x4xf32>, %k: tensor<2x1x5x4xf32>, %v: tensor<2x1x5x4xf32>) -> tensor<2x2x5x4xf32> {
  %kt = gpt.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<2x1x5x4xf32> -> tensor<2x1x4x5xf32>
  %s = gpt.matmul %q, %kt : tensor<2x2x5x4xf32>, tensor<2x1x4x5xf32> -> tensor<2x2x5x5xf32>
  %w = gpt.softmax %s {axis = 3 : i64} : tensor<2x2x5x5xf32>
  %o = gpt.matmul %w, %v : tensor<2x2x5x5xf32>, tensor<2x1x5x4xf32> -> tensor<2x2x5x4xf32>
  return %o : tensor<2x2x5x4xf32>
}

// -----

// Negative: a batch dim other than the heads broadcast ([1, 2] against
// [2, 2]) is not one batch of heads; it stays as written instead of failing
// attention's shape rule.
// CHECK-LABEL: func.func @broadcast_batch
// CHECK-NOT: gpt.attention
// CHECK: gpt.softmax
func.func @broadcast_batch(%q: tensor<2x2x5x4xf32>, %k: tensor<1x2x5x4xf32>, %v: tensor<1x2x5x4xf32>) -> tensor<2x2x5x4xf32> {
  %kt = gpt.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x5x4xf32> -> tensor<1x2x4x5xf32>
  %s = gpt.matmul %q, %kt : tensor<2x2x5x4xf32>, tensor<1x2x4x5xf32> -> tensor<2x2x5x5xf32>
  %w = gpt.softmax %s {axis = 3 : i64} : tensor<2x2x5x5xf32>
  %o = gpt.matmul %w, %v : tensor<2x2x5x5xf32>, tensor<1x2x5x4xf32> -> tensor<2x2x5x4xf32>
  return %o : tensor<2x2x5x4xf32>
}

// -----

// Grouped-query attention: k and v of 2 heads repeated for 4 query heads
// (repeat_kv: reshape, broadcast_like, reshape). The attention reads them
// from before the repeat, which is dead afterwards.
// CHECK-LABEL: func.func @repeated_kv
// CHECK: gpt.attention %arg0, %arg1, %arg2 {{.*}} : tensor<2x4x5x8xf32>, tensor<2x2x5x8xf32>, tensor<2x2x5x8xf32> -> tensor<2x4x5x8xf32>, tensor<2x4x5xf32>
// CHECK-NOT: gpt.broadcast_like
func.func @repeated_kv(%q: tensor<2x4x5x8xf32>, %k: tensor<2x2x5x8xf32>, %v: tensor<2x2x5x8xf32>) -> tensor<2x4x5x8xf32> {
  %like = gpt.full [2, 2, 2, 5, 8] {value = 0.0 : f64} : tensor<2x2x2x5x8xf32>
  %k1 = gpt.reshape %k to [2, 2, 1, 5, 8] : tensor<2x2x5x8xf32> -> tensor<2x2x1x5x8xf32>
  %k2 = gpt.broadcast_like %k1 to %like : tensor<2x2x1x5x8xf32>, tensor<2x2x2x5x8xf32> -> tensor<2x2x2x5x8xf32>
  %kr = gpt.reshape %k2 to [2, 4, 5, 8] : tensor<2x2x2x5x8xf32> -> tensor<2x4x5x8xf32>
  %v1 = gpt.reshape %v to [2, 2, 1, 5, 8] : tensor<2x2x5x8xf32> -> tensor<2x2x1x5x8xf32>
  %v2 = gpt.broadcast_like %v1 to %like : tensor<2x2x1x5x8xf32>, tensor<2x2x2x5x8xf32> -> tensor<2x2x2x5x8xf32>
  %vr = gpt.reshape %v2 to [2, 4, 5, 8] : tensor<2x2x2x5x8xf32> -> tensor<2x4x5x8xf32>
  %kt = gpt.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : tensor<2x4x5x8xf32> -> tensor<2x4x8x5xf32>
  %s = gpt.matmul %q, %kt : tensor<2x4x5x8xf32>, tensor<2x4x8x5xf32> -> tensor<2x4x5x5xf32>
  %w = gpt.softmax %s {axis = 3 : i64} : tensor<2x4x5x5xf32>
  %o = gpt.matmul %w, %vr : tensor<2x4x5x5xf32>, tensor<2x4x5x8xf32> -> tensor<2x4x5x8xf32>
  return %o : tensor<2x4x5x8xf32>
}

// -----

// Only k repeated (v has every head): the repeat stays, and the attention
// reads k as repeated.
// CHECK-LABEL: func.func @repeated_k_only
// CHECK: gpt.broadcast_like
// CHECK: gpt.attention {{.*}} : tensor<2x4x5x8xf32>, tensor<2x4x5x8xf32>, tensor<2x4x5x8xf32>
func.func @repeated_k_only(%q: tensor<2x4x5x8xf32>, %k: tensor<2x2x5x8xf32>, %v: tensor<2x4x5x8xf32>) -> tensor<2x4x5x8xf32> {
  %like = gpt.full [2, 2, 2, 5, 8] {value = 0.0 : f64} : tensor<2x2x2x5x8xf32>
  %k1 = gpt.reshape %k to [2, 2, 1, 5, 8] : tensor<2x2x5x8xf32> -> tensor<2x2x1x5x8xf32>
  %k2 = gpt.broadcast_like %k1 to %like : tensor<2x2x1x5x8xf32>, tensor<2x2x2x5x8xf32> -> tensor<2x2x2x5x8xf32>
  %kr = gpt.reshape %k2 to [2, 4, 5, 8] : tensor<2x2x2x5x8xf32> -> tensor<2x4x5x8xf32>
  %kt = gpt.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : tensor<2x4x5x8xf32> -> tensor<2x4x8x5xf32>
  %s = gpt.matmul %q, %kt : tensor<2x4x5x8xf32>, tensor<2x4x8x5xf32> -> tensor<2x4x5x5xf32>
  %w = gpt.softmax %s {axis = 3 : i64} : tensor<2x4x5x5xf32>
  %o = gpt.matmul %w, %v : tensor<2x4x5x5xf32>, tensor<2x4x5x8xf32> -> tensor<2x4x5x8xf32>
  return %o : tensor<2x4x5x8xf32>
}
