// RUN: gptc-opt %s -gpt-fuse -gpt-mixed-precision -split-input-file | FileCheck %s

// Every matmul kernel (a product, a weight gradient's a^T b) gets bf16
// operands; the fused kernel between them (bias, GELU, tanh) stays fp32.
// CHECK-LABEL: func.func @mlp
// CHECK: %[[H:.*]] = gpt.kernel "matmul"(%arg0, %arg1) {epilogue = "none", precision = "bf16", trans_a = false, trans_b = false}
// CHECK: %[[T:.*]] = gpt.kernel "fused"(%[[H]], %arg2) : (
// CHECK: gpt.tanh
// CHECK: gpt.kernel "matmul"(%arg0, %[[T]]) {epilogue = "none", precision = "bf16", trans_a = true, trans_b = false}
func.func @mlp(%x: tensor<64x16xf32>, %w: tensor<16x32xf32>, %b: tensor<32xf32>) -> tensor<16x32xf32> {
  %h = gpt.matmul %x, %w : tensor<64x16xf32>, tensor<16x32xf32> -> tensor<64x32xf32>
  %hb = gpt.add %h, %b : tensor<64x32xf32>, tensor<32xf32> -> tensor<64x32xf32>
  %g = gpt.gelu %hb : tensor<64x32xf32>
  %xt = gpt.transpose %x {perm = array<i64: 1, 0>} : tensor<64x16xf32> -> tensor<16x64xf32>
  %t = gpt.tanh %g : tensor<64x32xf32>
  %dw = gpt.matmul %xt, %t : tensor<16x64xf32>, tensor<64x32xf32> -> tensor<16x32xf32>
  return %dw : tensor<16x32xf32>
}

// -----

// Negative: a kernel that names its precision keeps it, and a function
// without matmuls is left as it is.
// CHECK-LABEL: func.func @pinned
// CHECK: gpt.kernel "matmul"(%arg0, %arg1) {epilogue = "none", precision = "f32", trans_a = false, trans_b = false}
func.func @pinned(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>) -> tensor<4x2xf32> {
  %0 = gpt.kernel "matmul"(%a, %b) {epilogue = "none", precision = "f32", trans_a = false, trans_b = false} : (tensor<4x8xf32>, tensor<8x2xf32>) -> tensor<4x2xf32> {
  ^bb0(%x: tensor<4x8xf32>, %y: tensor<8x2xf32>):
    %1 = gpt.matmul %x, %y : tensor<4x8xf32>, tensor<8x2xf32> -> tensor<4x2xf32>
    gpt.yield %1 : tensor<4x2xf32>
  }
  return %0 : tensor<4x2xf32>
}

// CHECK-LABEL: func.func @no_matmul
// CHECK: gpt.kernel "fused"(%arg0) : (tensor<4xf32>)
func.func @no_matmul(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = gpt.exp %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
