// RUN: gptc-opt %s -split-input-file -verify-diagnostics -gpt-specialize='dims=B=2,T=8' -canonicalize -gpt-shape-inference | FileCheck %s

// Named dims get their sizes; tensor.dim folds; shapes become static.
// CHECK-LABEL: func.func @f
// CHECK-SAME: %arg0: tensor<2x8xi32>
// CHECK-SAME: -> (tensor<2x8x4xf32>, tensor<8xi32>, tensor<8x8xi1>)
// CHECK: gpt.embedding %arg0, %arg1 : tensor<2x8xi32>, tensor<10x4xf32> -> tensor<2x8x4xf32>
// CHECK: gpt.arange %{{.*}} : tensor<8xi32>
// CHECK: gpt.causal_mask %{{.*}} : tensor<8x8xi1>
func.func @f(%ids: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "ids"}, %wte: tensor<10x4xf32> {gpt.param = "wte"}) -> (tensor<?x?x4xf32>, tensor<?xi32>, tensor<?x?xi1>) {
  %c1 = arith.constant 1 : index
  %T = tensor.dim %ids, %c1 : tensor<?x?xi32>
  %x = gpt.embedding %ids, %wte : tensor<?x?xi32>, tensor<10x4xf32> -> tensor<?x?x4xf32>
  %pos = gpt.arange %T : tensor<?xi32>
  %m = gpt.causal_mask %T : tensor<?x?xi1>
  return %x, %pos, %m : tensor<?x?x4xf32>, tensor<?xi32>, tensor<?x?xi1>
}

// -----

// Negative: a binding that names no dim is an error, not ignored.
// expected-error @+1 {{gpt-specialize: no input has a dim named 'B'}}
module {
  func.func @g(%x: tensor<?xf32> {gpt.dims = ["N"], gpt.input = "x"}) -> tensor<?xf32> {
    return %x : tensor<?xf32>
  }
}
