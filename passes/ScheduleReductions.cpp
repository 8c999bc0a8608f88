//===- ScheduleReductions.cpp - Reductions next to what they reduce ------===//
//
// The training step clips the gradients after the whole backward: each
// weight gradient's sum of squares then re-reads it from memory, although
// the matmul that wrote it left it in cache. A reduction may run as soon as
// its operands exist; this pass moves it there.
//
// Algorithm, per function, over its kernels in program order:
//  1. A kernel reduces when it is `fused`, every result has a static shape,
//     and its largest tensor operand has a dynamic dim or at least
//     kMinRatio times the elements of its largest result.
//  2. Such a kernel moves to just after the last op in the block defining
//     one of its operands (all ops are pure: only data orders them). Where
//     that op is its predecessor already, or every operand is a function
//     argument, it stays.
//  3. Program order makes a reduction of a moved reduction's result follow
//     it.
//
//===----------------------------------------------------------------------===//

#include "gptc/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace gptc {
#define GEN_PASS_DEF_GPTSCHEDULEREDUCTIONS
#include "gptc/Passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc::gpt;

namespace {

/// How much smaller than its input a reduction's result is at least: a
/// bias gradient sums B*T rows, a clipping sum all of a weight.
constexpr int64_t kMinRatio = 8;

/// Elements of a static shape; -1 for a dynamic one.
int64_t staticElements(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t)
    return 0;
  return t.hasStaticShape() ? t.getNumElements() : -1;
}

/// Step 1.
bool reduces(KernelOp kernel) {
  if (kernel.getKind() != "fused")
    return false;
  int64_t out = 0, in = 0;
  for (Type t : kernel.getResultTypes()) {
    int64_t n = staticElements(t);
    if (n < 0)
      return false;
    out = std::max(out, n);
  }
  for (Type t : kernel.getInputs().getTypes()) {
    int64_t n = staticElements(t);
    if (n < 0)
      return true;
    in = std::max(in, n);
  }
  return in >= kMinRatio * std::max<int64_t>(out, 1);
}

struct ScheduleReductionsPass
    : gptc::impl::GptScheduleReductionsBase<ScheduleReductionsPass> {
  void runOnOperation() override {
    getOperation().walk([](func::FuncOp func) {
      Block &body = func.getBody().front();
      SmallVector<KernelOp> kernels(body.getOps<KernelOp>());
      for (KernelOp kernel : kernels) {
        if (!reduces(kernel))
          continue;
        // Step 2: the latest operand definition in this block.
        Operation *last = nullptr;
        for (Value v : kernel->getOperands()) {
          Operation *def = v.getDefiningOp();
          if (def && def->getBlock() == &body &&
              (!last || last->isBeforeInBlock(def)))
            last = def;
        }
        if (last && last->getNextNode() != kernel)
          kernel->moveAfter(last);
      }
    });
  }
};

} // namespace
