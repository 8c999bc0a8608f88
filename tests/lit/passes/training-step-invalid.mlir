// RUN: gptc-opt %s -verify-diagnostics -gpt-training-step

// Negative: the step needs the gradient function.
// expected-error @+1 {{gpt-training-step: no @loss_grad; run --gpt-autodiff first}}
module {
  func.func @loss(%w: tensor<4xf32> {gpt.param = "w"}) -> tensor<f32> {
    %0 = gpt.sum %w {axis = 0 : i64, keepdim = false} : tensor<4xf32> -> tensor<f32>
    return %0 : tensor<f32>
  }
}
