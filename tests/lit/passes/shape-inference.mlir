// RUN: gptc-opt %s -gpt-shape-inference -split-input-file -verify-diagnostics | FileCheck %s

// Sizes known from constants and operands become static, and the function's
// result type follows.
// CHECK-LABEL: func.func @refine
// CHECK-SAME: -> tensor<8x8xi1>
func.func @refine() -> tensor<?x?xi1> {
  %c8 = arith.constant 8 : index
  // CHECK: gpt.causal_mask %{{.*}} : tensor<8x8xi1>
  %m = gpt.causal_mask %c8 : tensor<?x?xi1>
  return %m : tensor<?x?xi1>
}

// -----

// CHECK-LABEL: func.func @chain
func.func @chain(%x: tensor<4x8xf32>, %b: tensor<8xf32>) -> tensor<?x?xf32> {
  // CHECK: gpt.add %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %0 = gpt.add %x, %b : tensor<4x8xf32>, tensor<8xf32> -> tensor<?x?xf32>
  // The refined operand lets the user refine in turn.
  // CHECK: gpt.gelu %{{.*}} : tensor<4x8xf32>
  %1 = "gpt.gelu"(%0) : (tensor<?x?xf32>) -> tensor<?x?xf32>
  return %1 : tensor<?x?xf32>
}

// -----

// Negative: truly dynamic dims stay dynamic.
// CHECK-LABEL: func.func @keep_dynamic
// CHECK-SAME: -> tensor<?x8xf32>
func.func @keep_dynamic(%x: tensor<?x8xf32>, %b: tensor<8xf32>) -> tensor<?x8xf32> {
  // CHECK: gpt.add %{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  %0 = gpt.add %x, %b : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Negative: a result the rule contradicts is an error, not silently changed.
func.func @contradiction(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c4 = arith.constant 4 : index
  // expected-error @+1 {{'gpt.arange' op result type 'tensor<5xi32>' does not match the inferred shape [4]}}
  %r = gpt.arange %c4 : tensor<5xi32>
  return %x : tensor<?x8xf32>
}
