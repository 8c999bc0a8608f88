// The host lowering as a pass: fused IR in, kernel descriptions and the plan
// out (what `gptc emit --stage=kernels` prints), the module unchanged.
// RUN: gptc-opt %s --gpt-lower-to-host-program -o /dev/null | FileCheck %s
// RUN: gptc-opt %s --gpt-lower-to-host-program="entries=forward" -o /dev/null | FileCheck %s --check-prefix=ENTRIES
// RUN: not gptc-opt %s --gpt-lower-to-host-program="entries=nothing" -o /dev/null 2>&1 | FileCheck %s --check-prefix=MISSING

// One fused kernel: GELU, a scale and a reshape whose size B*T is an index
// operand. Its description names the symbolic dims; the plan binds B and T
// to the input's dims and sizes the temporary B*T x 8.
// CHECK: gptc-kernel 1
// CHECK-NEXT: family = fused
// CHECK-NEXT: name = [[K:k[0-9a-f]+]]
// CHECK-NEXT: in.000 = f32 B,T,8
// CHECK-NEXT: op.000 = v0 = constant value=2 : f32 -
// CHECK-NEXT: op.001 = v1 = gelu a0 : f32 B,T,8
// CHECK-NEXT: op.002 = v2 = mul v1 v0 : f32 B,T,8
// CHECK-NEXT: op.003 = v3 = reshape v2 dyn=B*T : f32 B*T,8
// CHECK-NEXT: out = v3
// CHECK-NEXT: syms = B,T
// CHECK: gptc-plan 1
// CHECK-NEXT: kernel 0 [[K]] fused syms
// CHECK-NEXT: kernel 1 {{k[0-9a-f]+}} fused
// CHECK-NEXT: function forward
// CHECK-NEXT: sym B
// CHECK-NEXT: sym T
// CHECK-NEXT: value 0 input x f32 B,T,8
// CHECK-NEXT: bind B 0 0
// CHECK-NEXT: bind T 0 1
// CHECK-NEXT: value 1 temp f32 B*T,8
// CHECK-NEXT: call 0 0 0:B,T,8 1:B*T,8
// CHECK-NEXT: output logits 1
// Only `entries` are lowered.
// ENTRIES: function forward
// ENTRIES-NOT: function
// MISSING: error: the model has no function @nothing
func.func @forward(%arg0: tensor<?x?x8xf32> {gpt.dims = ["B", "T", "8"], gpt.input = "x"}) -> tensor<?x8xf32> {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %dim = tensor.dim %arg0, %c0 : tensor<?x?x8xf32>
  %dim_0 = tensor.dim %arg0, %c1 : tensor<?x?x8xf32>
  %0 = arith.muli %dim, %dim_0 : index
  %1 = gpt.kernel "fused"(%arg0, %0) : (tensor<?x?x8xf32>, index) -> tensor<?x8xf32> {
  ^bb0(%arg1: tensor<?x?x8xf32>, %arg2: index):
    %2 = gpt.constant 2.000000e+00 : tensor<f32>
    %3 = gpt.gelu %arg1 : tensor<?x?x8xf32>
    %4 = gpt.mul %3, %2 : tensor<?x?x8xf32>, tensor<f32> -> tensor<?x?x8xf32>
    %5 = gpt.reshape %4 to [%arg2, 8] : tensor<?x?x8xf32> -> tensor<?x8xf32>
    gpt.yield %5 : tensor<?x8xf32>
  }
  return %1 : tensor<?x8xf32>
}

// A second public function: lowered by default, left out by entries=forward.
// CHECK: function other
// CHECK-NEXT: value 0 input y f32 4
func.func @other(%y: tensor<4xf32> {gpt.dims = ["4"], gpt.input = "y"}) -> tensor<4xf32> {
  %0 = gpt.kernel "fused"(%y) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %1 = gpt.neg %a : tensor<4xf32>
    gpt.yield %1 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}
