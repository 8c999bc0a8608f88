// RUN: gptc-opt %s -gpt-autodiff -gpt-training-step='decay=w' | FileCheck %s
// RUN: gptc-opt %s -gpt-autodiff -gpt-training-step='clip=false' | FileCheck %s --check-prefix=NOCLIP

// The step takes the moments and the run-time scalars and returns every
// updated tensor under its run-contract name.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: {gpt.input = "adam.m.w"}
// CHECK-SAME: {gpt.input = "adam.m.b"}
// CHECK-SAME: {gpt.input = "adam.v.w"}
// CHECK-SAME: {gpt.input = "adam.v.b"}
// CHECK-SAME: %[[LR:[a-z0-9]+]]: tensor<f32> {gpt.input = "lr"}
// CHECK-SAME: %[[STEP:[a-z0-9]+]]: tensor<f32> {gpt.input = "step"}
// CHECK-SAME: %[[WD:[a-z0-9]+]]: tensor<f32> {gpt.input = "weight_decay"}
// CHECK-SAME: %[[CLIP:[a-z0-9]+]]: tensor<f32> {gpt.input = "clip_norm"}
// CHECK-SAME: {gpt.output = "loss"}
// CHECK-SAME: {gpt.output = "w"}
// CHECK-SAME: {gpt.output = "b"}
// CHECK-SAME: {gpt.output = "adam.m.w"}
// CHECK-SAME: {gpt.output = "adam.v.b"}
// CHECK-SAME: {gpt.output = "grad.w"}
// CHECK-SAME: {gpt.output = "grad.b"}
// Clipping scales by min(1, clip / (norm + 1e-6)).
// CHECK: gpt.sqrt
// CHECK: gpt.div %[[CLIP]]
// CHECK: gpt.relu
// Bias corrections from the run-time step: 1 - exp(step * ln(beta)).
// CHECK: gpt.mul %[[STEP]]
// CHECK: gpt.exp
// Decoupled weight decay, p * (1 - lr * wd), only where `decay` matches:
// CHECK: %[[LRWD:.*]] = gpt.mul %[[LR]], %[[WD]]
// CHECK: %[[KEEP:.*]] = gpt.sub %{{.*}}, %[[LRWD]]
// CHECK: gpt.mul %arg1, %[[KEEP]] : tensor<4x2xf32>
// CHECK-NOT: gpt.mul %arg2, %[[KEEP]]
// The update alone takes the gradients as inputs and returns no loss.
// CHECK-LABEL: func.func @adamw_step
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<4x2xf32> {gpt.param = "w"}
// CHECK-SAME: {gpt.param = "b"}
// CHECK-SAME: %[[GW:[a-z0-9]+]]: tensor<4x2xf32> {gpt.input = "grad.w"}
// CHECK-SAME: {gpt.input = "grad.b"}
// CHECK-SAME: {gpt.input = "adam.m.w"}
// CHECK-SAME: {gpt.input = "adam.v.b"}
// CHECK-SAME: {gpt.input = "clip_norm"}
// CHECK-NOT: gpt.output = "loss"
// CHECK-SAME: {gpt.output = "w"}
// CHECK-SAME: {gpt.output = "adam.v.b"}
// CHECK-NOT: gpt.matmul
// CHECK: gpt.mul %[[GW]], %[[GW]]
// CHECK: return
// NOCLIP-LABEL: func.func @train_step
// NOCLIP-NOT: clip_norm
// NOCLIP-NOT: gpt.relu
// NOCLIP-LABEL: func.func @adamw_step
// NOCLIP-NOT: clip_norm
// NOCLIP-NOT: gpt.relu
func.func @loss(%x: tensor<3x4xf32> {gpt.input = "x"}, %w: tensor<4x2xf32> {gpt.param = "w"}, %b: tensor<2xf32> {gpt.param = "b"}) -> tensor<f32> {
  %0 = gpt.matmul %x, %w : tensor<3x4xf32>, tensor<4x2xf32> -> tensor<3x2xf32>
  %1 = gpt.add %0, %b : tensor<3x2xf32>, tensor<2xf32> -> tensor<3x2xf32>
  %2 = gpt.tanh %1 : tensor<3x2xf32>
  %3 = gpt.reshape %2 to [6] : tensor<3x2xf32> -> tensor<6xf32>
  %4 = gpt.sum %3 {axis = 0 : i64, keepdim = false} : tensor<6xf32> -> tensor<f32>
  return %4 : tensor<f32>
}

