// Verifier errors of gpt.kernel, the op gpt-fuse outlines groups into.
// RUN: gptc-opt %s -split-input-file -verify-diagnostics

func.func @kind(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'gpt.kernel' op kind must be "matmul" or "fused", got "conv"}}
  %0 = gpt.kernel "conv"(%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    %1 = gpt.exp %x : tensor<4xf32>
    gpt.yield %1 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @arity(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'gpt.kernel' op body takes 2 arguments but the kernel has 1 operands}}
  %0 = gpt.kernel "fused"(%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>, %y: tensor<4xf32>):
    %1 = gpt.exp %x : tensor<4xf32>
    gpt.yield %1 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @arg_type(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'gpt.kernel' op body argument 0 is 'tensor<8xf32>' but operand 0 is 'tensor<4xf32>'}}
  %0 = gpt.kernel "fused"(%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<8xf32>):
    %1 = gpt.exp %x : tensor<8xf32>
    gpt.yield %1 : tensor<8xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @yield_type(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'gpt.kernel' op yields ('tensor<f32>') but the kernel returns ('tensor<4xf32>')}}
  %0 = gpt.kernel "fused"(%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    %1 = gpt.sum %x {axis = 0 : i64, keepdim = false} : tensor<4xf32> -> tensor<f32>
    gpt.yield %1 : tensor<f32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @isolated(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-note @+1 {{required by region isolation constraints}}
  %0 = gpt.kernel "fused"(%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    // expected-error @+1 {{using value defined outside the region}}
    %1 = gpt.add %x, %a : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    gpt.yield %1 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @matmul_results(%a: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'gpt.kernel' op a matmul kernel has one result, got 2}}
  %0:2 = gpt.kernel "matmul"(%a, %a) : (tensor<4x4xf32>, tensor<4x4xf32>) -> (tensor<4x4xf32>, tensor<4x4xf32>) {
  ^bb0(%x: tensor<4x4xf32>, %y: tensor<4x4xf32>):
    %1 = gpt.matmul %x, %y : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
    gpt.yield %1, %1 : tensor<4x4xf32>, tensor<4x4xf32>
  }
  return %0#0 : tensor<4x4xf32>
}

// -----

// Several results are one elementwise pass: a reduction cannot be in it.
func.func @multi_reduction(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0:2 = gpt.kernel "fused"(%a) : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%x: tensor<4xf32>):
    // expected-error @+1 {{'gpt.softmax' op in a kernel of 2 results: only elementwise ops and generators compute several results in one pass}}
    %1 = gpt.softmax %x {axis = 0 : i64} : tensor<4xf32>
    %2 = gpt.exp %x : tensor<4xf32>
    gpt.yield %1, %2 : tensor<4xf32>, tensor<4xf32>
  }
  return %0#0 : tensor<4xf32>
}

// -----

func.func @multi_types(%a: tensor<4xf32>, %b: tensor<8xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'gpt.kernel' op results must share one type, got 'tensor<4xf32>' and 'tensor<8xf32>'}}
  %0:2 = gpt.kernel "fused"(%a, %b) : (tensor<4xf32>, tensor<8xf32>) -> (tensor<4xf32>, tensor<8xf32>) {
  ^bb0(%x: tensor<4xf32>, %y: tensor<8xf32>):
    %1 = gpt.exp %x : tensor<4xf32>
    %2 = gpt.exp %y : tensor<8xf32>
    gpt.yield %1, %2 : tensor<4xf32>, tensor<8xf32>
  }
  return %0#0 : tensor<4xf32>
}

// -----

func.func @precision_on_fused(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'gpt.kernel' op only a matmul kernel has a precision}}
  %0 = gpt.kernel "fused"(%a) {precision = "bf16"} : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    %1 = gpt.exp %x : tensor<4xf32>
    gpt.yield %1 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @precision_name(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{'gpt.kernel' op precision must be "f32" or "bf16", got "fp16"}}
  %0 = gpt.kernel "matmul"(%a, %b) {epilogue = "none", precision = "fp16", trans_a = false, trans_b = false} : (tensor<4x8xf32>, tensor<8x2xf32>) -> tensor<4x2xf32> {
  ^bb0(%x: tensor<4x8xf32>, %y: tensor<8x2xf32>):
    %1 = gpt.matmul %x, %y : tensor<4x8xf32>, tensor<8x2xf32> -> tensor<4x2xf32>
    gpt.yield %1 : tensor<4x2xf32>
  }
  return %0 : tensor<4x2xf32>
}
