// RUN: gptc-opt %s -gpt-fuse -split-input-file | FileCheck %s

// A matmul takes its bias and GELU as the epilogue; the weight's 2-D
// transpose becomes trans_b.
// CHECK-LABEL: func.func @epilogue
// CHECK: %[[K:.*]] = gpt.kernel "matmul"(%arg0, %arg1, %arg2) {epilogue = "bias_gelu", trans_a = false, trans_b = true}
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: gpt.transpose
// CHECK-NEXT: gpt.matmul
// CHECK-NEXT: gpt.add
// CHECK-NEXT: gpt.gelu
// CHECK-NEXT: gpt.yield
// CHECK: return %[[K]]
func.func @epilogue(%x: tensor<?x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<?x16xf32> {
  %t = gpt.transpose %w {perm = array<i64: 1, 0>} : tensor<16x8xf32> -> tensor<8x16xf32>
  %0 = gpt.matmul %x, %t : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  %1 = gpt.add %0, %b : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %2 = gpt.gelu %1 : tensor<?x16xf32>
  return %2 : tensor<?x16xf32>
}

// -----

// Negative: the matmul result has a second user, so the bias add cannot be
// its epilogue: the product is materialized and the add is its own kernel.
// CHECK-LABEL: func.func @shared_product
// CHECK: %[[MM:.*]] = gpt.kernel "matmul"(%arg0, %arg1) {epilogue = "none", trans_a = false, trans_b = false}
// CHECK: gpt.kernel "fused"(%[[MM]], %arg2)
// CHECK: gpt.kernel "fused"(%[[MM]])
func.func @shared_product(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>, %b: tensor<16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %0 = gpt.matmul %x, %w : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %1 = gpt.add %0, %b : tensor<4x16xf32>, tensor<16xf32> -> tensor<4x16xf32>
  %2 = gpt.tanh %0 : tensor<4x16xf32>
  return %1, %2 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// The weight gradient unbroadcast(matmul(transpose(x), dy)) over the batch
// is one matmul with trans_a that reads x and dy in place; w only gives the
// shape, so a tensor.empty stands for it inside the kernel.
// CHECK-LABEL: func.func @weight_grad
// CHECK: gpt.kernel "matmul"(%arg0, %arg1) {epilogue = "none", trans_a = true, trans_b = false}
// CHECK: tensor.empty() : tensor<8x16xf32>
// CHECK: gpt.transpose
// CHECK: gpt.matmul
// CHECK: gpt.unbroadcast
func.func @weight_grad(%x: tensor<2x5x8xf32>, %dy: tensor<2x5x16xf32>, %w: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %t = gpt.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x5x8xf32> -> tensor<2x8x5xf32>
  %0 = gpt.matmul %t, %dy : tensor<2x8x5xf32>, tensor<2x5x16xf32> -> tensor<2x8x16xf32>
  %1 = gpt.unbroadcast %0 to %w : tensor<2x8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
  return %1 : tensor<8x16xf32>
}

// -----

// The tied LM head's gradient: the transposed weight gradient is dy^T x,
// a trans_a matmul with the operands swapped; the transposed weight it was
// unbroadcast to is only a shape, so no kernel computes it.
// CHECK-LABEL: func.func @tied_weight_grad
// CHECK-NOT: gpt.kernel "fused"
// CHECK: gpt.kernel "matmul"(%arg1, %arg0) {epilogue = "none", trans_a = true, trans_b = false}
// CHECK-NOT: gpt.kernel
func.func @tied_weight_grad(%x: tensor<2x5x8xf32>, %dy: tensor<2x5x16xf32>, %wte: tensor<16x8xf32>) -> tensor<16x8xf32> {
  %wt = gpt.transpose %wte {perm = array<i64: 1, 0>} : tensor<16x8xf32> -> tensor<8x16xf32>
  %t = gpt.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x5x8xf32> -> tensor<2x8x5xf32>
  %0 = gpt.matmul %t, %dy : tensor<2x8x5xf32>, tensor<2x5x16xf32> -> tensor<2x8x16xf32>
  %1 = gpt.unbroadcast %0 to %wt : tensor<2x8x16xf32>, tensor<8x16xf32> -> tensor<8x16xf32>
  %2 = gpt.transpose %1 {perm = array<i64: 1, 0>} : tensor<8x16xf32> -> tensor<16x8xf32>
  return %2 : tensor<16x8xf32>
}

// -----

// An elementwise chain fuses into the reduction that consumes it; the
// constant is cloned into the kernel.
// CHECK-LABEL: func.func @chain_into_reduction
// CHECK: gpt.kernel "fused"(%arg0, %arg1)
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: gpt.constant
// CHECK-NEXT: gpt.sub
// CHECK-NEXT: gpt.mul
// CHECK-NEXT: gpt.mul
// CHECK-NEXT: gpt.sum
// CHECK-NEXT: gpt.yield
// CHECK-NOT: gpt.kernel
func.func @chain_into_reduction(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4xf32> {
  %c = gpt.constant 5.000000e-01 : tensor<f32>
  %0 = gpt.sub %a, %b : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %1 = gpt.mul %0, %0 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %2 = gpt.mul %1, %c : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %3 = gpt.sum %2 {axis = 1 : i64, keepdim = false} : tensor<4x8xf32> -> tensor<4xf32>
  return %3 : tensor<4xf32>
}

// -----

// Negative: a value with two users is computed once (its own kernel), not
// recomputed in both consumers; a constant used twice is cloned twice.
// CHECK-LABEL: func.func @two_users
// CHECK: %[[E:.*]] = gpt.kernel "fused"(%arg0)
// CHECK: gpt.exp
// CHECK: gpt.kernel "fused"(%[[E]])
// CHECK: gpt.constant
// CHECK: gpt.kernel "fused"(%[[E]])
// CHECK: gpt.constant
func.func @two_users(%a: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %c = gpt.constant 2.000000e+00 : tensor<f32>
  %0 = gpt.exp %a : tensor<4x8xf32>
  %1 = gpt.mul %0, %c : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %2 = gpt.add %0, %c : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  return %1, %2 : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// A reshape of a materialized buffer stays outside kernels (a view), and
// the sizes it reads stay index arithmetic on the host.
// CHECK-LABEL: func.func @view
// CHECK: %[[D:.*]] = tensor.dim %arg0
// CHECK: %[[E:.*]] = gpt.kernel "fused"(%arg0)
// CHECK: gpt.exp
// CHECK: gpt.yield
// CHECK: gpt.reshape %[[E]] to [%[[D]], 2, 4]
func.func @view(%a: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x2x4xf32>) {
  %c0 = arith.constant 0 : index
  %d = tensor.dim %a, %c0 : tensor<?x8xf32>
  %0 = gpt.exp %a : tensor<?x8xf32>
  %1 = gpt.reshape %0 to [%d, 2, 4] : tensor<?x8xf32> -> tensor<?x2x4xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x2x4xf32>
}

// -----

// A batch of products with equal batch dims (attention's per-head
// products) is a batched matmul kernel; the head split (reshape +
// transpose) is materialized first, and a transpose of the last two dims is
// absorbed as trans_b.
// CHECK-LABEL: func.func @batched
// CHECK: %[[Q:.*]] = gpt.kernel "fused"(%arg0)
// CHECK: gpt.reshape
// CHECK: gpt.transpose
// CHECK: gpt.kernel "matmul"(%[[Q]], %arg1) {batch = true, epilogue = "none", trans_a = false, trans_b = true}
func.func @batched(%q: tensor<2x5x8xf32>, %k: tensor<2x2x5x4xf32>) -> tensor<2x2x5x5xf32> {
  %0 = gpt.reshape %q to [2, 5, 2, 4] : tensor<2x5x8xf32> -> tensor<2x5x2x4xf32>
  %1 = gpt.transpose %0 {perm = array<i64: 0, 2, 1, 3>} : tensor<2x5x2x4xf32> -> tensor<2x2x5x4xf32>
  %kt = gpt.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<2x2x5x4xf32> -> tensor<2x2x4x5xf32>
  %2 = gpt.matmul %1, %kt : tensor<2x2x5x4xf32>, tensor<2x2x4x5xf32> -> tensor<2x2x5x5xf32>
  return %2 : tensor<2x2x5x5xf32>
}

// -----

// Negative: batch dims that broadcast (1 against 2) are not a plain batch;
// the product stays a fused kernel.
// CHECK-LABEL: func.func @broadcast_batch
// CHECK: gpt.kernel "fused"(%arg0, %arg1)
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: gpt.matmul
func.func @broadcast_batch(%a: tensor<1x5x4xf32>, %b: tensor<2x4x3xf32>) -> tensor<2x5x3xf32> {
  %0 = gpt.matmul %a, %b : tensor<1x5x4xf32>, tensor<2x4x3xf32> -> tensor<2x5x3xf32>
  return %0 : tensor<2x5x3xf32>
}

// -----

// The Gram matrix x @ transpose(x): the kernel's operands are positional
// (a, b), so x is passed twice rather than deduplicated into one operand.
// CHECK-LABEL: func.func @gram
// CHECK: gpt.kernel "matmul"(%arg0, %arg0) {batch = true, epilogue = "none", trans_a = false, trans_b = true}
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<2x5x8xf32>, %{{.*}}: tensor<2x5x8xf32>):
// CHECK: gpt.matmul %[[A]], %{{.*}}
func.func @gram(%x: tensor<2x5x8xf32>) -> tensor<2x5x5xf32> {
  %t = gpt.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x5x8xf32> -> tensor<2x8x5xf32>
  %0 = gpt.matmul %x, %t : tensor<2x5x8xf32>, tensor<2x8x5xf32> -> tensor<2x5x5xf32>
  return %0 : tensor<2x5x5xf32>
}

// -----

// A tensor times a scalar read by two fused consumers (AdamW's clipped
// gradient feeding both moments) is recomputed in each instead of being
// materialized: two kernels, each reading the gradient itself.
// CHECK-LABEL: func.func @scaled_twice
// CHECK: %[[M:.*]] = gpt.kernel "fused"(%arg0, %arg1, %arg2)
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: gpt.mul
// CHECK-NEXT: gpt.add
// CHECK: %[[V:.*]] = gpt.kernel "fused"(%arg0, %arg1, %arg3)
// CHECK-NEXT: ^bb0(
// CHECK-NEXT: gpt.mul
// CHECK-NEXT: gpt.mul
// CHECK-NOT: gpt.kernel
// CHECK: return %[[M]], %[[V]]
func.func @scaled_twice(%g: tensor<4x8xf32>, %s: tensor<f32>, %m: tensor<4x8xf32>, %v: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %0 = gpt.mul %g, %s : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %1 = gpt.add %0, %m : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %2 = gpt.mul %0, %v : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  return %1, %2 : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Negative: a product of two tensors read twice is materialized once
// (recomputing would read both tensors in each consumer), and so is a
// scaled tensor that a matmul reads.
// CHECK-LABEL: func.func @not_split
// CHECK: %[[P:.*]] = gpt.kernel "fused"(%arg0, %arg1)
// CHECK: gpt.kernel "fused"(%[[P]])
// CHECK: gpt.kernel "fused"(%[[P]])
// CHECK: %[[S:.*]] = gpt.kernel "fused"(%arg0, %arg2)
// CHECK: gpt.kernel "matmul"(%[[S]], %arg3)
// CHECK: gpt.kernel "fused"(%[[S]])
func.func @not_split(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>, %s: tensor<f32>, %w: tensor<8x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %0 = gpt.mul %a, %b : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %1 = gpt.tanh %0 : tensor<4x8xf32>
  %2 = gpt.exp %0 : tensor<4x8xf32>
  %3 = gpt.mul %a, %s : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %4 = gpt.matmul %3, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %5 = gpt.tanh %3 : tensor<4x8xf32>
  return %1, %2, %4, %5 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// AdamW: the moments m' and v' are read by the parameter's update and
// returned; the three elementwise groups of one shape become one kernel of
// three results, reading the gradient, m, v and the parameter once.
// CHECK-LABEL: func.func @adamw
// CHECK: %[[K:.*]]:3 = gpt.kernel "fused"(%arg1, %arg2, %arg3, %arg4, %arg5, %arg0) : {{.*}} -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>)
// CHECK: %[[M:.*]] = gpt.add
// CHECK: %[[V:.*]] = gpt.add
// CHECK: %[[P:.*]] = gpt.sub
// CHECK-NEXT: gpt.yield %[[M]], %[[V]], %[[P]]
// CHECK-NOT: gpt.kernel
// CHECK: return %[[K]]#2, %[[K]]#0, %[[K]]#1
func.func @adamw(%p: tensor<4x8xf32>, %g: tensor<4x8xf32>, %s: tensor<f32>, %m: tensor<4x8xf32>, %v: tensor<4x8xf32>, %lr: tensor<f32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %gs = gpt.mul %g, %s : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %0 = gpt.sub %gs, %m : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %1 = gpt.mul %0, %s : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %m1 = gpt.add %m, %1 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %2 = gpt.mul %gs, %gs : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %3 = gpt.mul %v, %s : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %v1 = gpt.add %3, %2 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %4 = gpt.sqrt %v1 : tensor<4x8xf32>
  %5 = gpt.div %m1, %4 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %6 = gpt.mul %5, %lr : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %p1 = gpt.sub %p, %6 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  return %p1, %m1, %v1 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Negative: %a is also read by a kernel that does not absorb it (a
// reduction), %b has another shape than its reader, and %c is read by a
// reduction's group: each stays a kernel of its own.
// CHECK-LABEL: func.func @not_absorbed
// CHECK: %[[A:.*]] = gpt.kernel "fused"(%arg0)
// CHECK: %[[B:.*]] = gpt.kernel "fused"(%arg1)
// CHECK: %[[C:.*]] = gpt.kernel "fused"(%arg0)
// CHECK: gpt.kernel "fused"(%[[A]], %[[B]])
// CHECK: gpt.kernel "fused"(%[[A]])
// CHECK: gpt.kernel "fused"(%[[C]])
func.func @not_absorbed(%x: tensor<4x8xf32>, %y: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<8xf32>, tensor<4x8xf32>) {
  %a = gpt.exp %x : tensor<4x8xf32>
  %b = gpt.tanh %y : tensor<8xf32>
  %c = gpt.sqrt %x : tensor<4x8xf32>
  %0 = gpt.mul %a, %b : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %1 = gpt.sum %a {axis = 1 : i64, keepdim = false} : tensor<4x8xf32> -> tensor<4xf32>
  %2 = gpt.sum %c {axis = 1 : i64, keepdim = false} : tensor<4x8xf32> -> tensor<4xf32>
  return %0, %1, %2, %b, %c : tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<8xf32>, tensor<4x8xf32>
}

// -----

// A value read by two ops of one kernel (tanh in GELU's gradient: t and
// 1 - t * t) joins that kernel once both readers are in it, with the
// chain that makes it: one kernel, reading x and the incoming gradient.
// CHECK-LABEL: func.func @readers_in_one_kernel
// CHECK: %[[K:.*]] = gpt.kernel "fused"(%arg0, %arg1)
// CHECK: gpt.mul
// CHECK: gpt.tanh
// CHECK-NOT: gpt.kernel
// CHECK: return %[[K]]
func.func @readers_in_one_kernel(%x: tensor<4x8xf32>, %g: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %c = gpt.constant 1.000000e+00 : tensor<f32>
  %0 = gpt.mul %x, %x : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %1 = gpt.tanh %0 : tensor<4x8xf32>
  %2 = gpt.add %c, %1 : tensor<f32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %3 = gpt.mul %1, %1 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %4 = gpt.sub %c, %3 : tensor<f32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %5 = gpt.mul %2, %4 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %6 = gpt.mul %5, %0 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %7 = gpt.mul %6, %g : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  return %7 : tensor<4x8xf32>
}
