// The host lowering writes an embedding gradient over its base when
// nothing else reads the base (HostProgram.cpp, step 6).
// RUN: gptc-opt %s --gpt-lower-to-host-program -o /dev/null | FileCheck %s

// An embedding gradient scattered onto a base that only it reads (the tied
// lm_head's weight gradient) writes in place: its result is a view of the
// base, and the description says which input it overwrites.
// CHECK: in.003 = f32 10,4
// CHECK-NEXT: in_place = a3
// CHECK-NEXT: op.000 = v0 = embedding_grad a0 a1 a2 a3 : f32 10,4
// CHECK-LABEL: function scatter
// CHECK: value [[BASE:[0-9]+]] temp f32 10,4
// CHECK-NEXT: call
// CHECK-NEXT: value [[GRAD:[0-9]+]] view [[BASE]] f32 10,4
// CHECK-NEXT: call {{[0-9]+}} 0 {{.*}} [[BASE]]:10,4 [[GRAD]]:10,4
// CHECK-NEXT: output grad [[GRAD]]
func.func @scatter(%g: tensor<2x3x4xf32> {gpt.dims = ["2", "3", "4"], gpt.input = "g"},
                   %ids: tensor<2x3xi32> {gpt.dims = ["2", "3"], gpt.input = "ids"},
                   %t: tensor<10x4xf32> {gpt.dims = ["10", "4"], gpt.input = "t"})
    -> (tensor<10x4xf32> {gpt.output = "grad"}) {
  %b = gpt.kernel "fused"(%t) : (tensor<10x4xf32>) -> tensor<10x4xf32> {
  ^bb0(%a: tensor<10x4xf32>):
    %0 = gpt.neg %a : tensor<10x4xf32>
    gpt.yield %0 : tensor<10x4xf32>
  }
  %r = gpt.kernel "fused"(%g, %ids, %t, %b) : (tensor<2x3x4xf32>, tensor<2x3xi32>, tensor<10x4xf32>, tensor<10x4xf32>) -> tensor<10x4xf32> {
  ^bb0(%a0: tensor<2x3x4xf32>, %a1: tensor<2x3xi32>, %a2: tensor<10x4xf32>, %a3: tensor<10x4xf32>):
    %0 = gpt.embedding_grad %a0, %a1, %a2 base %a3 : tensor<2x3x4xf32>, tensor<2x3xi32>, tensor<10x4xf32>, tensor<10x4xf32> -> tensor<10x4xf32>
    gpt.yield %0 : tensor<10x4xf32>
  }
  return %r : tensor<10x4xf32>
}

// A base something else reads too (here the function's result) keeps its
// own buffer: the scatter copies it.
// CHECK-LABEL: function shared_base
// CHECK: value [[B2:[0-9]+]] temp f32 10,4
// CHECK: value {{[0-9]+}} temp f32 10,4
// CHECK-NOT: view
// CHECK: end
func.func @shared_base(%g: tensor<2x3x4xf32> {gpt.dims = ["2", "3", "4"], gpt.input = "g"},
                       %ids: tensor<2x3xi32> {gpt.dims = ["2", "3"], gpt.input = "ids"},
                       %t: tensor<10x4xf32> {gpt.dims = ["10", "4"], gpt.input = "t"})
    -> (tensor<10x4xf32> {gpt.output = "grad"}, tensor<10x4xf32> {gpt.output = "base"}) {
  %b = gpt.kernel "fused"(%t) : (tensor<10x4xf32>) -> tensor<10x4xf32> {
  ^bb0(%a: tensor<10x4xf32>):
    %0 = gpt.neg %a : tensor<10x4xf32>
    gpt.yield %0 : tensor<10x4xf32>
  }
  %r = gpt.kernel "fused"(%g, %ids, %t, %b) : (tensor<2x3x4xf32>, tensor<2x3xi32>, tensor<10x4xf32>, tensor<10x4xf32>) -> tensor<10x4xf32> {
  ^bb0(%a0: tensor<2x3x4xf32>, %a1: tensor<2x3xi32>, %a2: tensor<10x4xf32>, %a3: tensor<10x4xf32>):
    %0 = gpt.embedding_grad %a0, %a1, %a2 base %a3 : tensor<2x3x4xf32>, tensor<2x3xi32>, tensor<10x4xf32>, tensor<10x4xf32> -> tensor<10x4xf32>
    gpt.yield %0 : tensor<10x4xf32>
  }
  return %r, %b : tensor<10x4xf32>, tensor<10x4xf32>
}
