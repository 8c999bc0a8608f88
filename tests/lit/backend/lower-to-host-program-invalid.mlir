// What the host lowering refuses, each at the op or function it is about.
// RUN: gptc-opt %s --gpt-lower-to-host-program -split-input-file -verify-diagnostics -o /dev/null

// An op outside any gpt.kernel: gpt-fuse has not run.
func.func @forward(%x: tensor<4x8xf32> {gpt.dims = ["4", "8"], gpt.input = "x"}) -> tensor<4x8xf32> {
  // expected-error @below {{gpt.gelu: not in a kernel (run gpt-fuse before lowering)}}
  %0 = gpt.gelu %x : tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// An argument that is neither a named input nor a parameter.
// expected-error @below {{@forward: argument 0 has no gpt.param/gpt.input name}}
module {
  func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
    return %x : tensor<4x8xf32>
  }
}
