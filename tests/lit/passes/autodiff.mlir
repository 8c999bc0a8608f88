// RUN: gptc-opt %s -split-input-file -verify-diagnostics -gpt-autodiff | FileCheck %s
// RUN: gptc-opt %s -split-input-file -verify-diagnostics -gpt-autodiff='trainable=w' | FileCheck %s --check-prefix=FROZEN

// A value used twice (fan-out) gets the sum of both gradients; a broadcast
// operand gets its gradient summed back to its shape.
// CHECK-LABEL: func.func @loss_grad
// CHECK-SAME: -> (tensor<f32> {gpt.output = "loss"}, tensor<4xf32> {gpt.output = "grad.w"}, tensor<4xf32> {gpt.output = "grad.u"})
// CHECK: gpt.constant 1.000000e+00
// CHECK: %[[D3:.*]] = gpt.reshape %{{.*}} to [3, 4]
// CHECK: %[[GU:.*]] = gpt.mul %[[D3]], %arg0
// CHECK: %[[U:.*]] = gpt.unbroadcast %[[GU]] to %arg2 : tensor<3x4xf32>, tensor<4xf32> -> tensor<4xf32>
// The two uses of %0 (by %1 = %0 + %0) accumulate:
// CHECK: %[[ACC:.*]] = gpt.add %[[D3]], %[[D3]]
// CHECK: %[[GW:.*]] = gpt.mul %[[ACC]], %arg0
// CHECK: %[[W:.*]] = gpt.unbroadcast %[[GW]] to %arg1 : tensor<3x4xf32>, tensor<4xf32> -> tensor<4xf32>
// CHECK: return %{{.*}}, %[[W]], %[[U]]

// A frozen parameter gets no gradient and no backward work.
// FROZEN-LABEL: func.func @loss_grad
// FROZEN-SAME: -> (tensor<f32> {gpt.output = "loss"}, tensor<4xf32> {gpt.output = "grad.w"})
// FROZEN-NOT: to %arg2
// FROZEN: return
func.func @loss(%x: tensor<3x4xf32> {gpt.input = "x"}, %w: tensor<4xf32> {gpt.param = "w"}, %u: tensor<4xf32> {gpt.param = "u"}) -> tensor<f32> {
  %0 = gpt.mul %x, %w : tensor<3x4xf32>, tensor<4xf32> -> tensor<3x4xf32>
  %1 = gpt.add %0, %0 : tensor<3x4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
  %2 = gpt.mul %x, %u : tensor<3x4xf32>, tensor<4xf32> -> tensor<3x4xf32>
  %3 = gpt.add %1, %2 : tensor<3x4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
  %4 = gpt.reshape %3 to [12] : tensor<3x4xf32> -> tensor<12xf32>
  %5 = gpt.sum %4 {axis = 0 : i64, keepdim = false} : tensor<12xf32> -> tensor<f32>
  return %5 : tensor<f32>
}

// -----

// Negative: the loss must be a scalar.
// expected-error @+1 {{gpt-autodiff: the loss @loss must return one scalar tensor<f32>, but returns 'tensor<4xf32>'}}
func.func @loss(%w: tensor<4xf32> {gpt.param = "w"}) -> tensor<4xf32> {
  %0 = gpt.exp %w : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Negative: an op on the path to the loss without a gradient rule.
func.func @loss(%w: tensor<4xf32> {gpt.param = "w"}) -> tensor<f32> {
  // expected-error @+1 {{gpt-autodiff: 'gpt.step' has no gradient rule}}
  %0 = gpt.step %w : tensor<4xf32>
  %1 = gpt.sum %0 {axis = 0 : i64, keepdim = false} : tensor<4xf32> -> tensor<f32>
  return %1 : tensor<f32>
}

// -----

// Integers and masks carry no gradient: the mask of a comparison and its
// cast back to f32 are not active, so they need no gradient rule and only
// the product's gradient reaches w (negative: before, the cast failed with
// "has no gradient rule").
// CHECK-LABEL: func.func @loss_grad
// CHECK-SAME: tensor<4xf32> {gpt.output = "grad.w"}
// CHECK-NOT: gpt.cast {{.*}} -> tensor<4xi1>
// CHECK: return
// FROZEN-LABEL: func.func @loss_grad
// FROZEN-SAME: tensor<4xf32> {gpt.output = "grad.w"}
func.func @loss(%x: tensor<4xf32> {gpt.input = "x"}, %w: tensor<4xf32> {gpt.param = "w"}) -> tensor<f32> {
  %0 = gpt.mul %x, %w : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  %c = gpt.constant 0.0 : tensor<f32>
  %m = gpt.gt %0, %c : tensor<4xf32>, tensor<f32> -> tensor<4xi1>
  %f = gpt.cast %m : tensor<4xi1> -> tensor<4xf32>
  %1 = gpt.mul %0, %f : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  %s = gpt.sum %1 {axis = 0 : i64, keepdim = false} : tensor<4xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// -----

// A tied table, read by an embedding and, transposed, by a product: the
// scatter of the embedding's gradient takes the product's gradient as its
// base, so no add sums the two.
// CHECK-LABEL: func.func @loss_grad
// CHECK-SAME: tensor<10x4xf32> {gpt.output = "grad.w"}
// CHECK-NOT: gpt.add
// CHECK: %[[G:.*]] = gpt.embedding_grad %{{.*}}, %arg0, %arg1 base %{{.*}} : tensor<2x3x4xf32>, tensor<2x3xi32>, tensor<10x4xf32>, tensor<10x4xf32> -> tensor<10x4xf32>
// CHECK-NOT: gpt.add
// CHECK: return %{{.*}}, %[[G]]
func.func @loss(%ids: tensor<2x3xi32> {gpt.input = "ids"}, %w: tensor<10x4xf32> {gpt.param = "w"}) -> tensor<f32> {
  %0 = gpt.embedding %ids, %w : tensor<2x3xi32>, tensor<10x4xf32> -> tensor<2x3x4xf32>
  %1 = gpt.transpose %w {perm = array<i64: 1, 0>} : tensor<10x4xf32> -> tensor<4x10xf32>
  %2 = gpt.matmul %0, %1 : tensor<2x3x4xf32>, tensor<4x10xf32> -> tensor<2x3x10xf32>
  %3 = gpt.reshape %2 to [60] : tensor<2x3x10xf32> -> tensor<60xf32>
  %4 = gpt.sum %3 {axis = 0 : i64, keepdim = false} : tensor<60xf32> -> tensor<f32>
  return %4 : tensor<f32>
}

// -----

// Two embeddings of one table: one scatter takes the other as its base,
// and that one keeps zeros (a sum of two other terms stays an add, as in
// the first case).
// CHECK-LABEL: func.func @loss_grad
// CHECK: %[[E:.*]] = gpt.embedding_grad %{{.*}}, %arg0, %arg1 :
// CHECK: gpt.embedding_grad %{{.*}}, %arg0, %arg1 base %[[E]]
func.func @loss(%ids: tensor<2x3xi32> {gpt.input = "ids"}, %w: tensor<10x4xf32> {gpt.param = "w"}) -> tensor<f32> {
  %0 = gpt.embedding %ids, %w : tensor<2x3xi32>, tensor<10x4xf32> -> tensor<2x3x4xf32>
  %1 = gpt.embedding %ids, %w : tensor<2x3xi32>, tensor<10x4xf32> -> tensor<2x3x4xf32>
  %2 = gpt.mul %0, %1 : tensor<2x3x4xf32>, tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %3 = gpt.reshape %2 to [24] : tensor<2x3x4xf32> -> tensor<24xf32>
  %4 = gpt.sum %3 {axis = 0 : i64, keepdim = false} : tensor<24xf32> -> tensor<f32>
  return %4 : tensor<f32>
}
