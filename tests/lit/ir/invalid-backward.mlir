// Verifier errors of the backward-pass ops that gradient rules build.
// RUN: gptc-opt %s -split-input-file -verify-diagnostics

func.func @unbroadcast(%g: tensor<4x8xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'gpt.unbroadcast' op shape [3] does not broadcast to [4, 8]}}
  %0 = gpt.unbroadcast %g to %b : tensor<4x8xf32>, tensor<3xf32> -> tensor<3xf32>
  return
}

// -----

func.func @broadcast_like(%s: tensor<4x2xf32>, %x: tensor<4x8xf32>) {
  // expected-error @+1 {{'gpt.broadcast_like' op shape [4, 2] does not broadcast to [4, 8]}}
  %0 = gpt.broadcast_like %s to %x : tensor<4x2xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @unsqueeze(%s: tensor<4xf32>) {
  // expected-error @+1 {{'gpt.unsqueeze' op axis 2 is out of range for a new dim of a rank-1 tensor (0..1)}}
  %0 = gpt.unsqueeze %s {axis = 2 : i64} : tensor<4xf32> -> tensor<4x1xf32>
  return
}

// -----

func.func @argmax_mask(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'gpt.argmax_mask' op axis 2 is out of range for a rank-2 tensor}}
  %0 = gpt.argmax_mask %x {axis = 2 : i64} : tensor<4x8xf32>
  return
}

// -----

func.func @embedding_grad(%g: tensor<2x3x5xf32>, %ids: tensor<2x3xi32>, %t: tensor<10x4xf32>) {
  // expected-error @+1 {{'gpt.embedding_grad' op gradient [2, 3, 5] does not fit ids [2, 3] and table [10, 4]}}
  %0 = gpt.embedding_grad %g, %ids, %t : tensor<2x3x5xf32>, tensor<2x3xi32>, tensor<10x4xf32> -> tensor<10x4xf32>
  return
}

// -----

func.func @cross_entropy_grad(%g: tensor<f32>, %l: tensor<2x3x7xf32>, %t: tensor<3xi32>) {
  // expected-error @+1 {{'gpt.cross_entropy_grad' op cross_entropy expects logits [..., V] and targets with the leading dims, got [2, 3, 7] and [3]}}
  %0 = gpt.cross_entropy_grad %g, %l, %t {ignore_index = -100 : i64} : tensor<f32>, tensor<2x3x7xf32>, tensor<3xi32> -> tensor<2x3x7xf32>
  return
}

// -----

func.func @unsplit(%p: tensor<4x4xf32>, %x: tensor<4x9xf32>) {
  // expected-error @+1 {{'gpt.unsplit' op piece [4, 4] is not piece 0 of 3 of [4, 9] along axis 1}}
  %0 = gpt.unsplit %p to %x {axis = 1 : i64, parts = 3 : i64, index = 0 : i64} : tensor<4x4xf32>, tensor<4x9xf32> -> tensor<4x9xf32>
  return
}

// -----

func.func @unslice(%p: tensor<4xf32>, %x: tensor<4x8xf32>) {
  // expected-error @+1 {{'gpt.unslice' op needs one start and one end per dim of the result}}
  %0 = gpt.unslice %p to %x [0] [4] {squeeze = array<i64>} : tensor<4xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @step(%x: tensor<4xi32>) {
  // expected-error @+1 {{operand #0 must be tensor of 32-bit float values}}
  %0 = "gpt.step"(%x) : (tensor<4xi32>) -> tensor<4xi32>
  return
}

// -----

func.func @embedding_grad_base(%g: tensor<2x3x4xf32>, %ids: tensor<2x3xi32>, %t: tensor<10x4xf32>, %b: tensor<10x5xf32>) {
  // expected-error @+1 {{'gpt.embedding_grad' op base [10, 5] is not shaped like table [10, 4]}}
  %0 = gpt.embedding_grad %g, %ids, %t base %b : tensor<2x3x4xf32>, tensor<2x3xi32>, tensor<10x4xf32>, tensor<10x5xf32> -> tensor<10x4xf32>
  return
}
