// Every gpt op parses, verifies and prints in its custom form.
// RUN: gptc-opt %s | FileCheck %s
// RUN: gptc-opt %s | gptc-opt | FileCheck %s

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%x: tensor<?x?x8xf32>, %b: tensor<8xf32>) -> tensor<?x?x8xf32> {
  // CHECK: gpt.neg %{{.*}} : tensor<?x?x8xf32>
  %0 = gpt.neg %x : tensor<?x?x8xf32>
  // CHECK: gpt.exp
  %1 = gpt.exp %0 : tensor<?x?x8xf32>
  // CHECK: gpt.log
  %2 = gpt.log %1 : tensor<?x?x8xf32>
  // CHECK: gpt.sqrt
  %3 = gpt.sqrt %2 : tensor<?x?x8xf32>
  // CHECK: gpt.tanh
  %4 = gpt.tanh %3 : tensor<?x?x8xf32>
  // CHECK: gpt.sin
  %s = gpt.sin %4 : tensor<?x?x8xf32>
  // CHECK: gpt.cos
  %co = gpt.cos %s : tensor<?x?x8xf32>
  // CHECK: gpt.sigmoid
  %sg = gpt.sigmoid %co : tensor<?x?x8xf32>
  // CHECK: gpt.silu
  %si = gpt.silu %sg : tensor<?x?x8xf32>
  // CHECK: gpt.rsqrt
  %rs = gpt.rsqrt %si : tensor<?x?x8xf32>
  // CHECK: gpt.relu
  %5 = gpt.relu %rs : tensor<?x?x8xf32>
  // CHECK: gpt.gelu
  %6 = gpt.gelu %5 : tensor<?x?x8xf32>
  // CHECK: gpt.pow %{{.*}} {exponent = 3.000000e+00 : f64}
  %7 = gpt.pow %6 {exponent = 3.0 : f64} : tensor<?x?x8xf32>
  // CHECK: gpt.add %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  %8 = gpt.add %7, %b : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  // CHECK: gpt.sub
  %9 = gpt.sub %8, %b : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  // CHECK: gpt.constant 5.000000e-01 : tensor<f32>
  %c = gpt.constant 0.5 : tensor<f32>
  // CHECK: gpt.mul
  %10 = gpt.mul %9, %c : tensor<?x?x8xf32>, tensor<f32> -> tensor<?x?x8xf32>
  // CHECK: gpt.div
  %11 = gpt.div %10, %c : tensor<?x?x8xf32>, tensor<f32> -> tensor<?x?x8xf32>
  return %11 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func @layout
func.func @layout(%x: tensor<?x?x24xf32>, %w: tensor<24x8xf32>, %B: index, %T: index) -> tensor<?x8xf32> {
  // CHECK: gpt.matmul %{{.*}}, %{{.*}} : tensor<?x?x24xf32>, tensor<24x8xf32> -> tensor<?x?x8xf32>
  %0 = gpt.matmul %x, %w : tensor<?x?x24xf32>, tensor<24x8xf32> -> tensor<?x?x8xf32>
  // CHECK: gpt.reshape %{{.*}} to [%{{.*}}, %{{.*}}, 2, 4] : tensor<?x?x8xf32> -> tensor<?x?x2x4xf32>
  %1 = gpt.reshape %0 to [%B, %T, 2, 4] : tensor<?x?x8xf32> -> tensor<?x?x2x4xf32>
  // CHECK: gpt.transpose %{{.*}} {perm = array<i64: 0, 2, 1, 3>}
  %2 = gpt.transpose %1 {perm = array<i64: 0, 2, 1, 3>} : tensor<?x?x2x4xf32> -> tensor<?x2x?x4xf32>
  // CHECK: gpt.split %{{.*}} {axis = 3 : i64, index = 1 : i64, parts = 2 : i64}
  %3 = gpt.split %2 {axis = 3 : i64, parts = 2 : i64, index = 1 : i64} : tensor<?x2x?x4xf32> -> tensor<?x2x?x2xf32>
  // CHECK: gpt.slice %{{.*}} [0, 0, -1, 0] [%{{.*}}, 2, 0, 2] {squeeze = array<i64: 2>}
  %4 = gpt.slice %3 [0, 0, -1, 0] [%B, 2, 0, 2] {squeeze = array<i64: 2>} : tensor<?x2x?x2xf32> -> tensor<?x2x2xf32>
  // CHECK: gpt.reshape %{{.*}} to [%{{.*}}, 4]
  %5 = gpt.reshape %4 to [%B, 4] : tensor<?x2x2xf32> -> tensor<?x4xf32>
  // CHECK: gpt.sum %{{.*}} {axis = 1 : i64, keepdim = true}
  %6 = gpt.sum %5 {axis = 1 : i64, keepdim = true} : tensor<?x4xf32> -> tensor<?x1xf32>
  // CHECK: gpt.mean
  %7 = gpt.mean %5 {axis = 0 : i64, keepdim = false} : tensor<?x4xf32> -> tensor<4xf32>
  // CHECK: gpt.max
  %8 = gpt.max %5 {axis = 1 : i64, keepdim = true} : tensor<?x4xf32> -> tensor<?x1xf32>
  // CHECK: gpt.var
  %9 = gpt.var %5 {axis = 1 : i64, keepdim = true} : tensor<?x4xf32> -> tensor<?x1xf32>
  %10 = gpt.add %6, %8 : tensor<?x1xf32>, tensor<?x1xf32> -> tensor<?x1xf32>
  %11 = gpt.add %10, %9 : tensor<?x1xf32>, tensor<?x1xf32> -> tensor<?x1xf32>
  %12 = gpt.add %11, %7 : tensor<?x1xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %13 = gpt.reshape %12 to [%B, 2, 4] : tensor<?x4xf32> -> tensor<?x2x4xf32>
  %14 = gpt.reshape %13 to [%B, 8] : tensor<?x2x4xf32> -> tensor<?x8xf32>
  return %14 : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @model_ops
func.func @model_ops(%ids: tensor<?x?xi32>, %wte: tensor<50x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %s: tensor<?x2x?x?xf32>, %T: index) -> tensor<f32> {
  // CHECK: gpt.embedding %{{.*}}, %{{.*}} : tensor<?x?xi32>, tensor<50x8xf32> -> tensor<?x?x8xf32>
  %x = gpt.embedding %ids, %wte : tensor<?x?xi32>, tensor<50x8xf32> -> tensor<?x?x8xf32>
  // CHECK: gpt.arange %{{.*}} : tensor<?xi32>
  %pos = gpt.arange %T : tensor<?xi32>
  // CHECK: gpt.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64}
  %n = gpt.layer_norm %x, %g, %b {eps = 1.0e-5 : f64} : tensor<?x?x8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  // CHECK: gpt.dropout %{{.*}} {id = 7 : i64, p = 1.000000e-01 : f64}
  %d = gpt.dropout %n {p = 0.1 : f64, id = 7 : i64} : tensor<?x?x8xf32>
  // CHECK: gpt.causal_mask %{{.*}} : tensor<?x?xi1>
  %m = gpt.causal_mask %T : tensor<?x?xi1>
  // CHECK: gpt.masked_fill %{{.*}}, %{{.*}} {value = 0xFFF0000000000000 : f64}
  %f = gpt.masked_fill %s, %m {value = 0xFFF0000000000000 : f64} : tensor<?x2x?x?xf32>, tensor<?x?xi1> -> tensor<?x2x?x?xf32>
  // CHECK: gpt.softmax %{{.*}} {axis = 3 : i64}
  %p = gpt.softmax %f {axis = 3 : i64} : tensor<?x2x?x?xf32>
  // CHECK: gpt.log_softmax
  %lp = gpt.log_softmax %d {axis = 2 : i64} : tensor<?x?x8xf32>
  // CHECK: gpt.cross_entropy %{{.*}}, %{{.*}} {ignore_index = -100 : i64} : tensor<?x?x8xf32>, tensor<?x?xi32> -> tensor<f32>
  %l = gpt.cross_entropy %lp, %ids {ignore_index = -100 : i64} : tensor<?x?x8xf32>, tensor<?x?xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// CHECK-LABEL: func.func @masks
func.func @masks(%x: tensor<?x?x8xf32>, %ids: tensor<?x?xi32>, %B: index, %T: index) -> tensor<?x?x8xf32> {
  // CHECK: gpt.full [%{{.*}}, %{{.*}}, 8] {value = 0.000000e+00 : f64} : tensor<?x?x8xf32>
  %z = gpt.full [%B, %T, 8] {value = 0.0 : f64} : tensor<?x?x8xf32>
  // CHECK: gpt.lt %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xi1>
  %m = gpt.lt %x, %z : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xi1>
  // CHECK: gpt.where %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x8xi1>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %w = gpt.where %m, %x, %z : tensor<?x?x8xi1>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  // CHECK: gpt.concat %{{.*}}, %{{.*}} {axis = 2 : i64} : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x16xf32>
  %cat = gpt.concat %x, %w {axis = 2 : i64} : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x16xf32>
  // CHECK: gpt.gather %{{.*}}, %{{.*}} {axis = 1 : i64} : tensor<?x?x8xf32>, tensor<?x1x1xi32> -> tensor<?x1x8xf32>
  %pick = gpt.reshape %ids to [%B, 1, 1] : tensor<?x?xi32> -> tensor<?x1x1xi32>
  %g = gpt.gather %x, %pick {axis = 1 : i64} : tensor<?x?x8xf32>, tensor<?x1x1xi32> -> tensor<?x1x8xf32>
  // CHECK: gpt.gather_grad %{{.*}}, %{{.*}}, %{{.*}} {axis = 1 : i64}
  %gg = gpt.gather_grad %g, %pick, %x {axis = 1 : i64} : tensor<?x1x8xf32>, tensor<?x1x1xi32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  // CHECK: gpt.cast %{{.*}} : tensor<?x?xi32> -> tensor<?x?xf32>
  %f = gpt.cast %ids : tensor<?x?xi32> -> tensor<?x?xf32>
  // CHECK: gpt.le
  %c1 = gpt.le %ids, %ids : tensor<?x?xi32>, tensor<?x?xi32> -> tensor<?x?xi1>
  // CHECK: gpt.gt
  %c2 = gpt.gt %f, %f : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xi1>
  // CHECK: gpt.ge
  %c3 = gpt.ge %f, %f : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xi1>
  // CHECK: gpt.eq
  %c4 = gpt.eq %ids, %ids : tensor<?x?xi32>, tensor<?x?xi32> -> tensor<?x?xi1>
  // CHECK: gpt.ne
  %c5 = gpt.ne %ids, %ids : tensor<?x?xi32>, tensor<?x?xi32> -> tensor<?x?xi1>
  return %w : tensor<?x?x8xf32>
}
