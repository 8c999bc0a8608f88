//===- CostModel.h - FLOPs and activation memory of a function ---*- C++
//-*-===//

#ifndef GPTC_IR_COSTMODEL_H
#define GPTC_IR_COSTMODEL_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cstdint>

namespace gptc {

/// Work and memory of one evaluation of a function with static shapes.
struct Cost {
  double matmulFlops = 0;      ///< 2*m*k*n per matrix product.
  double otherFlops = 0;       ///< Elementwise, row-wise and reductions.
  int64_t activationBytes = 0; ///< Every op result: what backward keeps.
  int64_t peakLiveBytes = 0;   ///< Most op results alive at once (inference).
  int64_t attentionBytes = 0;  ///< The softmax results of rank 4 (B,H,T,T).
  int64_t savedBytes = 0;      ///< Forward values a backward reads (gpt.saved).
};

/// Counts `func`, whose op results must all have static shapes (run
/// gpt-specialize and gpt-shape-inference first). Fails with an error on a
/// dynamic shape.
llvm::FailureOr<Cost> estimateCost(mlir::func::FuncOp func);

} // namespace gptc

#endif // GPTC_IR_COSTMODEL_H
