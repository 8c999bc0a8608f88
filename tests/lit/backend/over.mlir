// The host lowering marks the results a run may write over the inputs it
// donates (HostProgram.cpp, step 7).
// RUN: gptc-opt %s --gpt-lower-to-host-program -o /dev/null | FileCheck %s

// An update of two results, each reading its old value (the new p reads
// the new m, not the old): each may take its input's buffer.
// CHECK-LABEL: function update
// CHECK: value [[P:[0-9]+]] param p f32 4
// CHECK-NEXT: value [[M:[0-9]+]] input m f32 4
// CHECK: value {{[0-9]+}} temp over [[M]] f32 4
// CHECK-NEXT: value {{[0-9]+}} temp over [[P]] f32 4
// CHECK: end
func.func @update(%p: tensor<4xf32> {gpt.dims = ["4"], gpt.param = "p"},
                  %m: tensor<4xf32> {gpt.dims = ["4"], gpt.input = "m"},
                  %g: tensor<4xf32> {gpt.dims = ["4"], gpt.input = "g"})
    -> (tensor<4xf32> {gpt.output = "m"}, tensor<4xf32> {gpt.output = "p"}) {
  %r:2 = gpt.kernel "fused"(%m, %g, %p) : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%a0: tensor<4xf32>, %a1: tensor<4xf32>, %a2: tensor<4xf32>):
    %0 = gpt.add %a0, %a1 : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    %1 = gpt.sub %a2, %0 : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    gpt.yield %0, %1 : tensor<4xf32>, tensor<4xf32>
  }
  return %r#0, %r#1 : tensor<4xf32>, tensor<4xf32>
}

// A later kernel reads p (and the step size is a scalar, not of the
// result's type): the update keeps a buffer of its own.
// CHECK-LABEL: function read_later
// CHECK-NOT: over
// CHECK: end
func.func @read_later(%p: tensor<4xf32> {gpt.dims = ["4"], gpt.param = "p"},
                      %s: tensor<f32> {gpt.dims = [], gpt.input = "s"})
    -> (tensor<4xf32> {gpt.output = "p"}, tensor<f32> {gpt.output = "q"}) {
  %n = gpt.kernel "fused"(%p, %s) : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32> {
  ^bb0(%a0: tensor<4xf32>, %a1: tensor<f32>):
    %0 = gpt.sub %a0, %a1 : tensor<4xf32>, tensor<f32> -> tensor<4xf32>
    gpt.yield %0 : tensor<4xf32>
  }
  %q = gpt.kernel "fused"(%p) : (tensor<4xf32>) -> tensor<f32> {
  ^bb0(%a0: tensor<4xf32>):
    %0 = gpt.sum %a0 {axis = 0 : i64, keepdim = false} : tensor<4xf32> -> tensor<f32>
    gpt.yield %0 : tensor<f32>
  }
  return %n, %q : tensor<4xf32>, tensor<f32>
}

// Two results read p directly: whichever were stored over it first, the
// other could read the new value.
// CHECK-LABEL: function two_readers
// CHECK-NOT: over
// CHECK: end
func.func @two_readers(%p: tensor<4xf32> {gpt.dims = ["4"], gpt.param = "p"})
    -> (tensor<4xf32> {gpt.output = "a"}, tensor<4xf32> {gpt.output = "b"}) {
  %r:2 = gpt.kernel "fused"(%p) : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%a0: tensor<4xf32>):
    %0 = gpt.exp %a0 : tensor<4xf32>
    %1 = gpt.neg %a0 : tensor<4xf32>
    gpt.yield %0, %1 : tensor<4xf32>, tensor<4xf32>
  }
  return %r#0, %r#1 : tensor<4xf32>, tensor<4xf32>
}

// Not elementwise (an element reads the whole row), a result of another
// type, and a result no one returns: none is marked.
// CHECK-LABEL: function not_elementwise
// CHECK-NOT: over
// CHECK: end
func.func @not_elementwise(%x: tensor<2x4xf32> {gpt.dims = ["2", "4"], gpt.input = "x"},
                           %b: tensor<4xf32> {gpt.dims = ["4"], gpt.input = "b"})
    -> (tensor<2x4xf32> {gpt.output = "s"}, tensor<2x4xf32> {gpt.output = "y"}) {
  %s = gpt.kernel "fused"(%x) : (tensor<2x4xf32>) -> tensor<2x4xf32> {
  ^bb0(%a0: tensor<2x4xf32>):
    %0 = gpt.softmax %a0 {axis = 1 : i64} : tensor<2x4xf32>
    gpt.yield %0 : tensor<2x4xf32>
  }
  %t = gpt.kernel "fused"(%b) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a0: tensor<4xf32>):
    %0 = gpt.exp %a0 : tensor<4xf32>
    gpt.yield %0 : tensor<4xf32>
  }
  %y = gpt.kernel "fused"(%s, %t) : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32> {
  ^bb0(%a0: tensor<2x4xf32>, %a1: tensor<4xf32>):
    %0 = gpt.add %a0, %a1 : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x4xf32>
    gpt.yield %0 : tensor<2x4xf32>
  }
  return %s, %y : tensor<2x4xf32>, tensor<2x4xf32>
}
