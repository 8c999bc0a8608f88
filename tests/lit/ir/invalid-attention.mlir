// Verifier errors of gpt.attention and its gradient.
// RUN: gptc-opt %s -split-input-file -verify-diagnostics

func.func @head_dims(%q: tensor<2x5x4xf32>, %k: tensor<2x5x3xf32>, %v: tensor<2x5x4xf32>) {
  // expected-error @+1 {{'gpt.attention' op q and k head dims differ: [2, 5, 4] and [2, 5, 3]}}
  %0 = gpt.attention %q, %k, %v {causal = false, scale = 1.0 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<2x5x4xf32>, tensor<2x5x3xf32>, tensor<2x5x4xf32> -> tensor<2x5x4xf32>
  return
}

// -----

func.func @causal_lengths(%q: tensor<2x3x4xf32>, %k: tensor<2x5x4xf32>, %v: tensor<2x5x4xf32>) {
  // expected-error @+1 {{'gpt.attention' op a causal mask needs as many queries as keys: [2, 3, 4] and [2, 5, 4]}}
  %0 = gpt.attention %q, %k, %v {causal = true, scale = 1.0 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<2x3x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32> -> tensor<2x3x4xf32>
  return
}

// -----

func.func @kv_lengths(%q: tensor<2x3x4xf32>, %k: tensor<2x5x4xf32>, %v: tensor<2x6x4xf32>) {
  // expected-error @+1 {{'gpt.attention' op k and v lengths differ: [2, 5, 4] and [2, 6, 4]}}
  %0 = gpt.attention %q, %k, %v {causal = false, scale = 1.0 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<2x3x4xf32>, tensor<2x5x4xf32>, tensor<2x6x4xf32> -> tensor<2x3x4xf32>
  return
}

// -----

func.func @grad_wrt(%g: tensor<2x5x4xf32>, %q: tensor<2x5x4xf32>) {
  // expected-error @+1 {{'gpt.attention_grad' op wrt must be 0 (q), 1 (k) or 2 (v), got 3}}
  %0 = gpt.attention_grad %g, %q, %q, %q {wrt = 3 : i64, causal = true, scale = 1.0 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32> -> tensor<2x5x4xf32>
  return
}
