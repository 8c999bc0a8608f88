// RUN: gptc-opt %s -canonicalize -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @transpose_pair
// CHECK-NEXT: return %arg0
func.func @transpose_pair(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %0 = gpt.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x3x4xf32> -> tensor<2x4x3xf32>
  %1 = gpt.transpose %0 {perm = array<i64: 0, 2, 1>} : tensor<2x4x3xf32> -> tensor<2x3x4xf32>
  return %1 : tensor<2x3x4xf32>
}

// -----

// Negative: two transposes that do not undo each other stay.
// CHECK-LABEL: func.func @transpose_not_inverse
// CHECK: gpt.transpose
// CHECK: gpt.transpose
func.func @transpose_not_inverse(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %0 = gpt.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x3x4xf32> -> tensor<2x4x3xf32>
  %1 = gpt.transpose %0 {perm = array<i64: 1, 0, 2>} : tensor<2x4x3xf32> -> tensor<4x2x3xf32>
  return %1 : tensor<4x2x3xf32>
}

// -----

// CHECK-LABEL: func.func @identity_transpose
// CHECK-NEXT: return %arg0
func.func @identity_transpose(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = gpt.transpose %x {perm = array<i64: 0, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// reshape(reshape(x)) keeps only the outer target.
// CHECK-LABEL: func.func @reshape_pair
// CHECK-NEXT: %[[R:.*]] = gpt.reshape %arg0 to [%arg1, 6] : tensor<?x2x3xf32> -> tensor<?x6xf32>
// CHECK-NEXT: return %[[R]]
func.func @reshape_pair(%x: tensor<?x2x3xf32>, %n: index) -> tensor<?x6xf32> {
  %0 = gpt.reshape %x to [%n, 3, 2] : tensor<?x2x3xf32> -> tensor<?x3x2xf32>
  %1 = gpt.reshape %0 to [%n, 6] : tensor<?x3x2xf32> -> tensor<?x6xf32>
  return %1 : tensor<?x6xf32>
}

// -----

// A static reshape to the same type is a no-op; a dynamic one is kept (its
// size operands may differ from the input's run-time dims).
// CHECK-LABEL: func.func @reshape_noop
// CHECK-NOT: gpt.reshape %arg0 to [4, 6]
// CHECK: gpt.reshape %arg1 to [%arg2, 6]
func.func @reshape_noop(%x: tensor<4x6xf32>, %y: tensor<?x6xf32>, %n: index) -> (tensor<4x6xf32>, tensor<?x6xf32>) {
  %0 = gpt.reshape %x to [4, 6] : tensor<4x6xf32> -> tensor<4x6xf32>
  %1 = gpt.reshape %y to [%n, 6] : tensor<?x6xf32> -> tensor<?x6xf32>
  return %0, %1 : tensor<4x6xf32>, tensor<?x6xf32>
}

// -----

// Dropout with p = 0 is the identity; with p > 0 it stays.
// CHECK-LABEL: func.func @dropout
// CHECK-NEXT: %[[D:.*]] = gpt.dropout %arg0 {id = 1 : i64, p = 1.000000e-01 : f64}
// CHECK-NEXT: %[[S:.*]] = gpt.add %arg0, %[[D]]
// CHECK-NEXT: return %[[S]]
func.func @dropout(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = gpt.dropout %x {p = 0.0 : f64, id = 0 : i64} : tensor<4xf32>
  %1 = gpt.dropout %x {p = 0.1 : f64, id = 1 : i64} : tensor<4xf32>
  %2 = gpt.add %0, %1 : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return %2 : tensor<4xf32>
}

// -----

// Unused pure ops are removed.
// CHECK-LABEL: func.func @dead
// CHECK-NEXT: return %arg0
func.func @dead(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = gpt.exp %x : tensor<4xf32>
  %c = gpt.constant 2.0 : tensor<f32>
  return %x : tensor<4xf32>
}
