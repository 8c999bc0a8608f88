// RUN: gptc-opt %s -gpt-fuse-attention -split-input-file | FileCheck %s

// The book's spelling: scores, causal masked_fill with -inf, division by
// sqrt(head_dim), softmax, dropout, times v.
// CHECK-LABEL: func.func @book
// CHECK: %[[O:.*]] = gpt.attention %arg0, %arg1, %arg2 {causal = true, id = 7 : i64, p = 1.000000e-01 : f64, scale = 5.000000e-01 : f64}
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
func.func @scaled_q(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x6x4xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x2x3x8xf32> {
  %c = gpt.constant 0.25 : tensor<f32>
  %qs = gpt.mul %q, %c : tensor<1x2x3x4xf32>, tensor<f32> -> tensor<1x2x3x4xf32>
  %kt = gpt.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x6x4xf32> -> tensor<1x2x4x6xf32>
  %s = gpt.matmul %qs, %kt : tensor<1x2x3x4xf32>, tensor<1x2x4x6xf32> -> tensor<1x2x3x6xf32>
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
