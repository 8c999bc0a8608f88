// Verifier errors: each op's shape rule rejects operands that do not fit and
// result types that contradict it.
// RUN: gptc-opt %s -split-input-file -verify-diagnostics

func.func @broadcast(%a: tensor<4x8xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'gpt.add' op cannot broadcast [4, 8] and [3]: aligned from the right, each pair of dims must be equal or one of them 1}}
  %0 = gpt.add %a, %b : tensor<4x8xf32>, tensor<3xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @result_type(%a: tensor<4x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'gpt.mul' op result type 'tensor<4x9xf32>' does not match the inferred shape [4, 8]}}
  %0 = gpt.mul %a, %b : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x9xf32>
  return
}

// -----

func.func @dynamic_is_compatible(%a: tensor<?x8xf32>, %b: tensor<8xf32>) {
  // A `?` fits any size: no error, either way round.
  %0 = gpt.sub %a, %b : tensor<?x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %1 = gpt.sub %0, %b : tensor<4x8xf32>, tensor<8xf32> -> tensor<?x?xf32>
  return
}

// -----

func.func @unary_types(%a: tensor<4xf32>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = "gpt.exp"(%a) : (tensor<4xf32>) -> tensor<5xf32>
  return
}

// -----

func.func @float_only(%a: tensor<4xi32>) {
  // expected-error @+1 {{operand #0 must be tensor of 32-bit float values}}
  %0 = "gpt.neg"(%a) : (tensor<4xi32>) -> tensor<4xi32>
  return
}

// -----

func.func @matmul_inner(%a: tensor<?x4x8xf32>, %b: tensor<9x2xf32>) {
  // expected-error @+1 {{'gpt.matmul' op matmul inner dimensions differ: [?, 4, 8] @ [9, 2] (8 vs 9)}}
  %0 = gpt.matmul %a, %b : tensor<?x4x8xf32>, tensor<9x2xf32> -> tensor<?x4x2xf32>
  return
}

// -----

func.func @matmul_rank(%a: tensor<8xf32>, %b: tensor<8x2xf32>) {
  // expected-error @+1 {{'gpt.matmul' op matmul needs operands of rank >= 2, got [8] @ [8, 2]}}
  %0 = gpt.matmul %a, %b : tensor<8xf32>, tensor<8x2xf32> -> tensor<2xf32>
  return
}

// -----

func.func @matmul_batch(%a: tensor<3x4x8xf32>, %b: tensor<5x8x2xf32>) {
  // expected-error @+1 {{'gpt.matmul' op matmul batch dimensions do not broadcast: [3, 4, 8] @ [5, 8, 2]}}
  %0 = gpt.matmul %a, %b : tensor<3x4x8xf32>, tensor<5x8x2xf32> -> tensor<3x4x2xf32>
  return
}

// -----

func.func @transpose_perm(%a: tensor<2x3x4xf32>) {
  // expected-error @+1 {{'gpt.transpose' op perm is not a permutation of the 3 dims}}
  %0 = gpt.transpose %a {perm = array<i64: 0, 0, 1>} : tensor<2x3x4xf32> -> tensor<2x2x3xf32>
  return
}

// -----

func.func @transpose_rank(%a: tensor<2x3x4xf32>) {
  // expected-error @+1 {{'gpt.transpose' op perm has 2 entries for a rank-3 input}}
  %0 = gpt.transpose %a {perm = array<i64: 1, 0>} : tensor<2x3x4xf32> -> tensor<3x2xf32>
  return
}

// -----

func.func @reshape_count(%a: tensor<4x6xf32>) {
  // expected-error @+1 {{'gpt.reshape' op cannot reshape [4, 6] (24 elements) into [5, 5] (25)}}
  %0 = gpt.reshape %a to [5, 5] : tensor<4x6xf32> -> tensor<5x5xf32>
  return
}

// -----

func.func @split_parts(%a: tensor<4x10xf32>) {
  // expected-error @+1 {{'gpt.split' op cannot split dim 1 of [4, 10] into 3 equal parts}}
  %0 = gpt.split %a {axis = 1 : i64, parts = 3 : i64, index = 0 : i64} : tensor<4x10xf32> -> tensor<4x3xf32>
  return
}

// -----

func.func @split_index(%a: tensor<4x9xf32>) {
  // expected-error @+1 {{'gpt.split' op piece 3 of 3 does not exist}}
  %0 = gpt.split %a {axis = 1 : i64, parts = 3 : i64, index = 3 : i64} : tensor<4x9xf32> -> tensor<4x3xf32>
  return
}

// -----

func.func @split_axis(%a: tensor<4x9xf32>) {
  // expected-error @+1 {{'gpt.split' op axis 2 is out of range for a rank-2 tensor}}
  %0 = gpt.split %a {axis = 2 : i64, parts = 3 : i64, index = 0 : i64} : tensor<4x9xf32> -> tensor<4x3xf32>
  return
}

// -----

func.func @slice_range(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'gpt.slice' op slice end 10 is past the end of dim 1 (size 8)}}
  %0 = gpt.slice %a [0, 6] [4, 10] {squeeze = array<i64>} : tensor<4x8xf32> -> tensor<4x4xf32>
  return
}

// -----

func.func @slice_arity(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'gpt.slice' op a slice needs one start and one end per dim of [4, 8]}}
  %0 = gpt.slice %a [0] [4] {squeeze = array<i64>} : tensor<4x8xf32> -> tensor<4xf32>
  return
}

// -----

func.func @reduce_axis(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'gpt.sum' op axis -1 is out of range for a rank-2 tensor}}
  %0 = gpt.sum %a {axis = -1 : i64, keepdim = false} : tensor<4x8xf32> -> tensor<4xf32>
  return
}

// -----

func.func @reduce_keepdim(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'gpt.mean' op result type 'tensor<4xf32>' does not match the inferred shape [4, 1]}}
  %0 = gpt.mean %a {axis = 1 : i64, keepdim = true} : tensor<4x8xf32> -> tensor<4xf32>
  return
}

// -----

func.func @softmax_axis(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'gpt.softmax' op axis 2 is out of range for a rank-2 tensor}}
  %0 = gpt.softmax %a {axis = 2 : i64} : tensor<4x8xf32>
  return
}

// -----

func.func @layer_norm_scale(%a: tensor<?x8xf32>, %g: tensor<7xf32>) {
  // expected-error @+1 {{'gpt.layer_norm' op layer_norm's scale must be [8] (the last dim of [?, 8]), got [7]}}
  %0 = gpt.layer_norm %a, %g, %g {eps = 1.0e-5 : f64} : tensor<?x8xf32>, tensor<7xf32>, tensor<7xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @mask_broadcast(%a: tensor<2x4x4xf32>, %m: tensor<3x3xi1>) {
  // expected-error @+1 {{'gpt.masked_fill' op the mask [3, 3] does not broadcast to the input's shape [2, 4, 4]}}
  %0 = gpt.masked_fill %a, %m {value = 0.0 : f64} : tensor<2x4x4xf32>, tensor<3x3xi1> -> tensor<2x4x4xf32>
  return
}

// -----

func.func @mask_rank(%a: tensor<4xf32>, %m: tensor<4x4xi1>) {
  // expected-error @+1 {{'gpt.masked_fill' op the mask [4, 4] does not broadcast to the input's shape [4]}}
  %0 = gpt.masked_fill %a, %m {value = 0.0 : f64} : tensor<4xf32>, tensor<4x4xi1> -> tensor<4xf32>
  return
}

// -----

func.func @causal_mask_static() {
  %c4 = arith.constant 4 : index
  // expected-error @+1 {{'gpt.causal_mask' op result type 'tensor<5x5xi1>' does not match the inferred shape [4, 4]}}
  %0 = gpt.causal_mask %c4 : tensor<5x5xi1>
  return
}

// -----

func.func @embedding_table(%ids: tensor<?xi32>, %t: tensor<8xf32>) {
  // expected-error @+1 {{'gpt.embedding' op the embedding table must be rank 2 [rows, dim], got [8]}}
  %0 = gpt.embedding %ids, %t : tensor<?xi32>, tensor<8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @embedding_ids(%ids: tensor<?xf32>, %t: tensor<4x8xf32>) {
  // expected-error @+1 {{operand #0 must be tensor of 32-bit signless integer values}}
  %0 = "gpt.embedding"(%ids, %t) : (tensor<?xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @cross_entropy_targets(%l: tensor<2x3x10xf32>, %t: tensor<2xi32>) {
  // expected-error @+1 {{'gpt.cross_entropy' op cross_entropy expects logits [..., V] and targets with the leading dims, got [2, 3, 10] and [2]}}
  %0 = gpt.cross_entropy %l, %t {ignore_index = -100 : i64} : tensor<2x3x10xf32>, tensor<2xi32> -> tensor<f32>
  return
}

// -----

func.func @compare_mixed(%a: tensor<4xf32>, %b: tensor<4xi32>) -> tensor<4xi1> {
  // expected-error @+1 {{'gpt.lt' op compares 'f32' with 'i32'; cast one side first}}
  %0 = gpt.lt %a, %b : tensor<4xf32>, tensor<4xi32> -> tensor<4xi1>
  return %0 : tensor<4xi1>
}

// -----

func.func @where_shapes(%m: tensor<3xi1>, %a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'gpt.where' op cannot broadcast the mask [3] and the values [4] and [4] together: aligned from the right, each dim must be equal or 1}}
  %0 = gpt.where %m, %a, %a : tensor<3xi1>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
