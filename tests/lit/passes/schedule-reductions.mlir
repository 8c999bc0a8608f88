// RUN: gptc-opt %s -gpt-fuse -gpt-schedule-reductions -split-input-file | FileCheck %s

// A weight gradient's sum of squares moves up to the matmul that wrote it,
// ahead of the rest of the backward; a sum of that sum follows it.
// CHECK-LABEL: func.func @clip_sum
// CHECK: %[[G:.*]] = gpt.kernel "matmul"(%arg0, %arg1)
// CHECK: %[[S:.*]] = gpt.kernel "fused"(%[[G]])
// CHECK: gpt.sum
// CHECK: gpt.kernel "fused"(%[[S]]
// CHECK: gpt.kernel "matmul"(%arg1, %arg2)
func.func @clip_sum(%x: tensor<64x16xf32>, %dy: tensor<64x32xf32>, %w: tensor<32x16xf32>) -> (tensor<64x16xf32>, tensor<f32>) {
  %xt = gpt.transpose %x {perm = array<i64: 1, 0>} : tensor<64x16xf32> -> tensor<16x64xf32>
  %g = gpt.matmul %xt, %dy : tensor<16x64xf32>, tensor<64x32xf32> -> tensor<16x32xf32>
  %dx = gpt.matmul %dy, %w : tensor<64x32xf32>, tensor<32x16xf32> -> tensor<64x16xf32>
  %sq = gpt.mul %g, %g : tensor<16x32xf32>, tensor<16x32xf32> -> tensor<16x32xf32>
  %r = gpt.sum %sq {axis = 1 : i64, keepdim = false} : tensor<16x32xf32> -> tensor<16xf32>
  %s = gpt.sum %r {axis = 0 : i64, keepdim = false} : tensor<16xf32> -> tensor<f32>
  %two = gpt.add %s, %s : tensor<f32>, tensor<f32> -> tensor<f32>
  return %dx, %two : tensor<64x16xf32>, tensor<f32>
}

// -----

// Negative: elementwise kernels (results as large as their inputs) keep
// their place, and so does a reduction of a function argument.
// CHECK-LABEL: func.func @elementwise
// CHECK: gpt.kernel "matmul"
// CHECK: gpt.kernel "matmul"
// CHECK: gpt.kernel "fused"
// CHECK: gpt.tanh
// CHECK: gpt.kernel "fused"
// CHECK: gpt.sum
func.func @elementwise(%x: tensor<64x16xf32>, %dy: tensor<64x32xf32>, %w: tensor<32x16xf32>) -> (tensor<64x16xf32>, tensor<16x32xf32>, tensor<16xf32>) {
  %xt = gpt.transpose %x {perm = array<i64: 1, 0>} : tensor<64x16xf32> -> tensor<16x64xf32>
  %g = gpt.matmul %xt, %dy : tensor<16x64xf32>, tensor<64x32xf32> -> tensor<16x32xf32>
  %dx = gpt.matmul %dy, %w : tensor<64x32xf32>, tensor<32x16xf32> -> tensor<64x16xf32>
  %t = gpt.tanh %g : tensor<16x32xf32>
  %r = gpt.sum %x {axis = 0 : i64, keepdim = false} : tensor<64x16xf32> -> tensor<16xf32>
  return %dx, %t, %r : tensor<64x16xf32>, tensor<16x32xf32>, tensor<16xf32>
}

// -----

// Negative: a row reduction of a batch (a dynamic result, the size of
// its input's rows) is not one to move.
// CHECK-LABEL: func.func @rows
// CHECK: gpt.kernel "matmul"(%arg0, %arg1)
// CHECK: gpt.kernel "matmul"(%arg0, %arg2)
// CHECK: gpt.kernel "fused"
// CHECK: gpt.sum
func.func @rows(%x: tensor<?x8xf32>, %w: tensor<8x16xf32>, %v: tensor<8x4xf32>) -> (tensor<?x4xf32>, tensor<?xf32>) {
  %h = gpt.matmul %x, %w : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  %o = gpt.matmul %x, %v : tensor<?x8xf32>, tensor<8x4xf32> -> tensor<?x4xf32>
  %s = gpt.sum %h {axis = 1 : i64, keepdim = false} : tensor<?x16xf32> -> tensor<?xf32>
  return %o, %s : tensor<?x4xf32>, tensor<?xf32>
}
