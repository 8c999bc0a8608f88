// RUN: gptc-opt %s -cse -split-input-file | FileCheck %s

// Identical pure ops are computed once (attention written per head twice,
// the same mask built twice).
// CHECK-LABEL: func.func @merge
// CHECK: %[[MM:.*]] = gpt.matmul
// CHECK-NOT: gpt.matmul
// CHECK: %[[MASK:.*]] = gpt.causal_mask
// CHECK-NOT: gpt.causal_mask
// CHECK: return %[[MM]], %[[MM]], %[[MASK]], %[[MASK]]
func.func @merge(%a: tensor<?x8xf32>, %w: tensor<8x8xf32>, %n: index) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x?xi1>, tensor<?x?xi1>) {
  %0 = gpt.matmul %a, %w : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %1 = gpt.matmul %a, %w : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %m0 = gpt.causal_mask %n : tensor<?x?xi1>
  %m1 = gpt.causal_mask %n : tensor<?x?xi1>
  return %0, %1, %m0, %m1 : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x?xi1>, tensor<?x?xi1>
}

// -----

// Negative: different pieces of a split, and dropouts with different ids
// (different random masks in training), are different values.
// CHECK-LABEL: func.func @keep
// CHECK-COUNT-2: gpt.split
// CHECK-COUNT-2: gpt.dropout
func.func @keep(%x: tensor<4x6xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x6xf32>, tensor<4x6xf32>) {
  %0 = gpt.split %x {axis = 1 : i64, parts = 2 : i64, index = 0 : i64} : tensor<4x6xf32> -> tensor<4x3xf32>
  %1 = gpt.split %x {axis = 1 : i64, parts = 2 : i64, index = 1 : i64} : tensor<4x6xf32> -> tensor<4x3xf32>
  %2 = gpt.dropout %x {p = 0.1 : f64, id = 0 : i64} : tensor<4x6xf32>
  %3 = gpt.dropout %x {p = 0.1 : f64, id = 1 : i64} : tensor<4x6xf32>
  return %0, %1, %2, %3 : tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x6xf32>, tensor<4x6xf32>
}
