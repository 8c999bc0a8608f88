// The IR's symbolic dims: arguments name theirs in gpt.dims, every other
// value's come from the shape rules over those names (SymbolicShapes.h).
// RUN: gptc-opt %s --gpt-print-symbolic-shapes -split-input-file -verify-diagnostics -o /dev/null

// Derived dims: a product (B*T) from tensor.dim and arith.muli, a reshape
// to it, a sum of like monomials (T + T = 2*T) along a concat, and a
// kernel body whose arguments take the kernel's operands' dims.
func.func @derived(%x: tensor<?x?x8xf32> {gpt.dims = ["B", "T", "8"], gpt.input = "x"}) -> tensor<?x8xf32> {
  // expected-remark @below {{0}}
  %c0 = arith.constant 0 : index
  // expected-remark @below {{1}}
  %c1 = arith.constant 1 : index
  // expected-remark @below {{B}}
  %b = tensor.dim %x, %c0 : tensor<?x?x8xf32>
  // expected-remark @below {{T}}
  %t = tensor.dim %x, %c1 : tensor<?x?x8xf32>
  // expected-remark @below {{B*T}}
  %bt = arith.muli %b, %t : index
  // expected-remark @below {{2*T}}
  %tt = arith.addi %t, %t : index
  // expected-remark @below {{[B, 2*T, 8]}}
  %c = gpt.concat %x, %x {axis = 1 : i64} : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  // expected-remark @below {{[B*T, 8]}}
  %k = gpt.kernel "fused"(%x, %bt) : (tensor<?x?x8xf32>, index) -> tensor<?x8xf32> {
  ^bb0(%a: tensor<?x?x8xf32>, %n: index):
    // expected-remark @below {{[B, T, 8]}}
    %g = gpt.gelu %a : tensor<?x?x8xf32>
    // expected-remark @below {{[B*T, 8]}}
    %r = gpt.reshape %g to [%n, 8] : tensor<?x?x8xf32> -> tensor<?x8xf32>
    gpt.yield %r : tensor<?x8xf32>
  }
  return %k : tensor<?x8xf32>
}

// -----

// Negative: a dynamic dim that gpt.dims does not name.
// expected-error @below {{func.func: argument 0 has a dynamic dim 1 that gpt.dims does not name}}
func.func @unnamed(%x: tensor<4x?xf32> {gpt.dims = ["4"], gpt.input = "x"}) -> tensor<4x?xf32> {
  return %x : tensor<4x?xf32>
}

// -----

// Negative: B + T is not a monomial, so no buffer can be sized by it (an
// error stops the analysis before any remark).
func.func @unlike(%x: tensor<?x?xf32> {gpt.dims = ["B", "T"], gpt.input = "x"}) -> index {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?xf32>
  %t = tensor.dim %x, %c1 : tensor<?x?xf32>
  // expected-error @below {{arith.addi: a sum of B and T, not a product of the input dims}}
  %s = arith.addi %b, %t : index
  return %s : index
}

// -----

// Negative: a shape rule that fails over the symbols, though the static
// types (all `?`) let the verifier pass: [B, T] @ [T, B] needs T == T, but
// [B, T] @ [B, T] needs T == B.
func.func @mismatch(%x: tensor<?x?xf32> {gpt.dims = ["B", "T"], gpt.input = "x"}) -> tensor<?x?xf32> {
  // expected-error @below {{gpt.matmul: matmul inner dimensions differ: [B, T] @ [B, T] (T vs B)}}
  %0 = gpt.matmul %x, %x : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
