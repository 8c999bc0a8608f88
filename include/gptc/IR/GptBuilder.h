//===- GptBuilder.h - Building gpt arithmetic with inferred types -*- C++
//-*-===//
//
// Gradient rules and the training step are written as arithmetic on tensors;
// this computes each op's result type from its operands (broadcasting, as
// the ops' shape rules do), so those rules read like the math they encode.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_GPTBUILDER_H
#define GPTC_IR_GPTBUILDER_H

#include "gptc/IR/GptOps.h"

#include "mlir/IR/Builders.h"

namespace gptc {

struct GptBuilder {
  mlir::OpBuilder &b;
  mlir::Location loc;

  /// A scalar f32 constant (rank 0: broadcasts to anything).
  mlir::Value cst(double v);
  mlir::Value add(mlir::Value x, mlir::Value y);
  mlir::Value sub(mlir::Value x, mlir::Value y);
  mlir::Value mul(mlir::Value x, mlir::Value y);
  mlir::Value div(mlir::Value x, mlir::Value y);
  mlir::Value mul(mlir::Value x, double c) { return mul(x, cst(c)); }
  mlir::Value neg(mlir::Value x);
  mlir::Value sqrt(mlir::Value x);
  mlir::Value exp(mlir::Value x);
  mlir::Value relu(mlir::Value x);

  /// `g` summed back to the shape of `like` (identity when it already is).
  mlir::Value unbroadcast(mlir::Value g, mlir::Value like);
  /// `g` broadcast to the shape of `like`.
  mlir::Value broadcastLike(mlir::Value g, mlir::Value like);
  /// Sum or mean along `axis`, kept as a dim of size 1.
  mlir::Value sumKeep(mlir::Value x, int64_t axis);
  mlir::Value meanKeep(mlir::Value x, int64_t axis);
  /// The sum of every element (a static-shaped input), as tensor<f32>.
  mlir::Value sumAll(mlir::Value x);
  /// A reduction's gradient with its reduced axis back as size 1.
  mlir::Value keepAxis(mlir::Value g, int64_t axis, bool keepdim);
  /// The number of elements along `axis` of `x`: a scalar constant, or for
  /// a dynamic dim a keepdim tensor of counts.
  mlir::Value countAlong(mlir::Value x, int64_t axis);
  mlir::Value transposeLast2(mlir::Value x);
  mlir::Value matmul(mlir::Value x, mlir::Value y);
};

} // namespace gptc

#endif // GPTC_IR_GPTBUILDER_H
