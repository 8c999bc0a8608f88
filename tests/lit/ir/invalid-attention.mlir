// Verifier errors of gpt.attention and its gradient, and of the KV-cache ops.
// RUN: gptc-opt %s -split-input-file -verify-diagnostics

func.func @head_dims(%q: tensor<2x5x4xf32>, %k: tensor<2x5x3xf32>, %v: tensor<2x5x4xf32>) {
  // expected-error @+1 {{'gpt.attention' op q and k head dims differ: [2, 5, 4] and [2, 5, 3]}}
  %0, %1 = gpt.attention %q, %k, %v {causal = false, scale = 1.0 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<2x5x4xf32>, tensor<2x5x3xf32>, tensor<2x5x4xf32> -> tensor<2x5x4xf32>, tensor<2x5xf32>
  return
}

// -----

func.func @causal_lengths(%q: tensor<2x3x4xf32>, %k: tensor<2x5x4xf32>, %v: tensor<2x5x4xf32>) {
  // expected-error @+1 {{'gpt.attention' op a causal mask needs as many queries as keys: [2, 3, 4] and [2, 5, 4]}}
  %0, %1 = gpt.attention %q, %k, %v {causal = true, scale = 1.0 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<2x3x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32> -> tensor<2x3x4xf32>, tensor<2x3xf32>
  return
}

// -----

func.func @kv_lengths(%q: tensor<2x3x4xf32>, %k: tensor<2x5x4xf32>, %v: tensor<2x6x4xf32>) {
  // expected-error @+1 {{'gpt.attention' op k and v lengths differ: [2, 5, 4] and [2, 6, 4]}}
  %0, %1 = gpt.attention %q, %k, %v {causal = false, scale = 1.0 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<2x3x4xf32>, tensor<2x5x4xf32>, tensor<2x6x4xf32> -> tensor<2x3x4xf32>, tensor<2x3xf32>
  return
}

// -----

func.func @lse_shape(%q: tensor<2x5x4xf32>) {
  // expected-error @+1 {{'gpt.attention' op result type 'tensor<2x4xf32>' does not match the inferred shape [2, 5]}}
  %0, %1 = gpt.attention %q, %q, %q {causal = true, scale = 1.0 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32> -> tensor<2x5x4xf32>, tensor<2x4xf32>
  return
}

// -----

func.func @grad_lse(%g: tensor<2x5x4xf32>, %q: tensor<2x5x4xf32>, %lse: tensor<2x4xf32>) {
  // expected-error @+1 {{'gpt.attention_grad' op lse [2, 4] does not match the rows [2, 5]}}
  %0, %1, %2 = gpt.attention_grad %g, %q, %q, %q, %q, %lse {causal = true, scale = 1.0 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x4xf32> -> tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32>
  return
}

// -----

func.func @grad_out(%g: tensor<2x5x4xf32>, %q: tensor<2x5x4xf32>, %o: tensor<2x5x3xf32>, %lse: tensor<2x5xf32>) {
  // expected-error @+1 {{'gpt.attention_grad' op forward output [2, 5, 3] does not match the attention output [2, 5, 4]}}
  %0, %1, %2 = gpt.attention_grad %g, %q, %q, %q, %o, %lse {causal = true, scale = 1.0 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x5x3xf32>, tensor<2x5xf32> -> tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32>
  return
}

// -----

func.func @cache_heads(%c: tensor<2x4x8x16xf32>, %x: tensor<2x3x1x16xf32>) {
  // expected-error @+1 {{'gpt.cache_write' op new entries [2, 3, 1, 16] does not fit the cache [2, 4, 8, 16]}}
  %r = gpt.cache_write %c, %x : tensor<2x4x8x16xf32>, tensor<2x3x1x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @cache_rank(%c: tensor<2x8x16xf32>, %x: tensor<2x1x16xf32>) {
  // expected-error @+1 {{'gpt.cache_write' op needs new entries [B, H, T, D] and a cache [B, H, S, D], got [2, 1, 16] and [2, 8, 16]}}
  %r = gpt.cache_write %c, %x : tensor<2x8x16xf32>, tensor<2x1x16xf32> -> tensor<2x8x16xf32>
  return
}

// -----

func.func @cache_positions(%c: tensor<2x4x8x16xf32>, %x: tensor<2x4x3x16xf32>, %p: tensor<2x1xi32>) {
  // expected-error @+1 {{'gpt.cache_write' op positions [2, 1] must be [B, T] for [2, 4, 3, 16]}}
  %r = gpt.cache_write %c, %x, %p : tensor<2x4x8x16xf32>, tensor<2x4x3x16xf32>, tensor<2x1xi32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @cached_head_dim(%q: tensor<2x4x1x8xf32>, %c: tensor<2x4x8x16xf32>, %p: tensor<2x1xi32>) {
  // expected-error @+1 {{'gpt.cached_attention' op q [2, 4, 1, 8] does not fit the cache [2, 4, 8, 16]}}
  %o = gpt.cached_attention %q, %c, %c, %p {scale = 0.5 : f64} : tensor<2x4x1x8xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x1xi32> -> tensor<2x4x1x8xf32>
  return
}

// -----

// Grouped-query attention: caches of 2 heads serve 4 query heads (valid),
// not 3.
func.func @cached_groups(%q: tensor<2x3x1x8xf32>, %c: tensor<2x2x8x8xf32>, %p: tensor<2x1xi32>) {
  // expected-error @+1 {{'gpt.cached_attention' op q [2, 3, 1, 8] does not fit the cache [2, 2, 8, 8]}}
  %o = gpt.cached_attention %q, %c, %c, %p {scale = 0.5 : f64} : tensor<2x3x1x8xf32>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>, tensor<2x1xi32> -> tensor<2x3x1x8xf32>
  return
}

// -----

// k and v of 3 heads cannot serve 4 query heads (4 is no multiple of 3).
func.func @attention_groups(%q: tensor<2x4x5x8xf32>, %k: tensor<2x3x5x8xf32>) {
  // expected-error @+1 {{'gpt.attention' op attention batch dims differ}}
  %o, %l = gpt.attention %q, %k, %k {causal = true, id = 0 : i64, p = 0.0 : f64, scale = 0.5 : f64} : tensor<2x4x5x8xf32>, tensor<2x3x5x8xf32>, tensor<2x3x5x8xf32> -> tensor<2x4x5x8xf32>, tensor<2x4x5xf32>
  return
}
