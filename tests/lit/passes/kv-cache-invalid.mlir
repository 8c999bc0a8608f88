// What --gpt-kv-cache refuses, each with the reason.
// RUN: gptc-opt %s -gpt-kv-cache -split-input-file -verify-diagnostics

func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %q: tensor<2x4x3x4xf32> {gpt.param = "q"}) -> tensor<2x4x3x4xf32> {
  // expected-error @+1 {{gpt-kv-cache: only causal attention can be cached}}
  %o, %lse = gpt.attention %q, %q, %q {causal = false, id = 0 : i64, p = 0.0 : f64, scale = 0.5 : f64} : tensor<2x4x3x4xf32>, tensor<2x4x3x4xf32>, tensor<2x4x3x4xf32> -> tensor<2x4x3x4xf32>, tensor<2x4x3xf32>
  return %o : tensor<2x4x3x4xf32>
}

// -----

func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %q: tensor<2x4x3x4xf32> {gpt.param = "q"}) -> (tensor<2x4x3x4xf32>, tensor<2x4x3xf32>) {
  // expected-error @+1 {{gpt-kv-cache: the attention's lse is used}}
  %o, %lse = gpt.attention %q, %q, %q {causal = true, id = 0 : i64, p = 0.0 : f64, scale = 0.5 : f64} : tensor<2x4x3x4xf32>, tensor<2x4x3x4xf32>, tensor<2x4x3x4xf32> -> tensor<2x4x3x4xf32>, tensor<2x4x3xf32>
  return %o, %lse : tensor<2x4x3x4xf32>, tensor<2x4x3xf32>
}

// -----

// An arange sized by the tokens but not their positions (arange(B)): it
// would not follow the cache.
func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %w: tensor<6x8xf32> {gpt.param = "w"}) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %tok, %c0 : tensor<?x?xi32>
  // expected-error @+1 {{gpt-kv-cache: an arange sized by the tokens must be arange(T), their positions}}
  %ar = gpt.arange %b : tensor<?xi32>
  %e = gpt.embedding %ar, %w : tensor<?xi32>, tensor<6x8xf32> -> tensor<?x8xf32>
  return %e : tensor<?x8xf32>
}

// -----

// expected-error @+1 {{gpt-kv-cache: @forward has no gpt.attention to cache (run --gpt-fuse-attention first)}}
func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %w: tensor<16x8xf32> {gpt.param = "w"}) -> tensor<?x?x8xf32> {
  %e = gpt.embedding %tok, %w : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  return %e : tensor<?x?x8xf32>
}

// -----

// expected-error @+1 {{gpt-kv-cache: @forward must take one input, the token ids i32[B, T], and parameters}}
func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %tgt: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "targets"}) -> tensor<?x?xi32> {
  return %tok : tensor<?x?xi32>
}

// -----

// expected-error @+1 {{gpt-kv-cache: no function @forward}}
module {
  func.func @other() {
    return
  }
}

// -----

// Positions as a slice of the table by T (wpe[:T]): @decode (T = 1) would
// read row 0 for every position.
func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %w: tensor<16x8xf32> {gpt.param = "w"}) -> tensor<?x8xf32> {
  %c1 = arith.constant 1 : index
  %t = tensor.dim %tok, %c1 : tensor<?x?xi32>
  // expected-error @+1 {{gpt-kv-cache: a slice of a table by the sequence length (such as wpe[:T]) cannot follow the cache's positions; read positions as embedding(arange(T), table)}}
  %p = gpt.slice %w [0, 0] [%t, 8] {squeeze = array<i64>} : tensor<16x8xf32> -> tensor<?x8xf32>
  return %p : tensor<?x8xf32>
}

// -----

// Position embeddings transposed: per sequence ([B, T, D]) in @decode, the
// transpose would swap other dims.
func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %w: tensor<16x8xf32> {gpt.param = "w"}) -> tensor<8x?xf32> {
  %c1 = arith.constant 1 : index
  %t = tensor.dim %tok, %c1 : tensor<?x?xi32>
  %ar = gpt.arange %t : tensor<?xi32>
  %e = gpt.embedding %ar, %w : tensor<?xi32>, tensor<16x8xf32> -> tensor<?x8xf32>
  // expected-error @+1 {{gpt-kv-cache: positions (arange(T)) reach a gpt.transpose, which cannot take them per sequence ([B, T]) in @decode}}
  %r = gpt.transpose %e {perm = array<i64: 1, 0>} : tensor<?x8xf32> -> tensor<8x?xf32>
  return %r : tensor<8x?xf32>
}

// -----

// Position embeddings meet the tokens' values in a matmul, not an
// elementwise op that broadcasts them over the batch.
func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %w: tensor<16x8xf32> {gpt.param = "w"}) -> tensor<?x?x?xf32> {
  %c1 = arith.constant 1 : index
  %t = tensor.dim %tok, %c1 : tensor<?x?xi32>
  %x = gpt.embedding %tok, %w : tensor<?x?xi32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %ar = gpt.arange %t : tensor<?xi32>
  %e = gpt.embedding %ar, %w : tensor<?xi32>, tensor<16x8xf32> -> tensor<?x8xf32>
  %r = gpt.reshape %e to [8, %t] : tensor<?x8xf32> -> tensor<8x?xf32>
  // expected-error @+1 {{gpt-kv-cache: positions (arange(T)) meet the tokens' values in this op, which cannot take them per sequence ([B, T]) in @decode; combine them by elementwise ops}}
  %m = gpt.matmul %x, %r : tensor<?x?x8xf32>, tensor<8x?xf32> -> tensor<?x?x?xf32>
  return %m : tensor<?x?x?xf32>
}

// -----

// Class logits [B, 2] (the book's classifier) are not next-token logits.
// expected-error @+1 {{gpt-kv-cache: @forward must return next-token logits [B, T, V] to generate text, got 'tensor<2x2xf32>'}}
func.func @forward(%tok: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "tokens"}, %w: tensor<2x2xf32> {gpt.param = "w"}) -> tensor<2x2xf32> {
  return %w : tensor<2x2xf32>
}
