//===- ShapeInference.cpp - Refining result types by shape rules ----------===//
//
// Algorithm:
//  1. Walk each function's ops in order (operands are refined before users).
//  2. For an op with a shape rule, infer its result shape; meet it with the
//     declared type (a dim static in either becomes static; two different
//     static dims are an error).
//  3. If the type became more static, update the result in place; users
//     accept it since `?` is compatible with any size.
//  4. Set each function's result types to the types it returns.
//
//===----------------------------------------------------------------------===//

#include "gptc/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace gptc {
#define GEN_PASS_DEF_GPTSHAPEINFERENCE
#include "gptc/Passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;

namespace {

struct ShapeInferencePass
    : gptc::impl::GptShapeInferenceBase<ShapeInferencePass> {
  void runOnOperation() override {
    bool failedAny = false;
    getOperation().walk([&](Operation *op) {
      auto rule = dyn_cast<gptc::gpt::ShapeInference>(op);
      if (!rule)
        return;
      SmallVector<SmallVector<int64_t>> shapes;
      if (failed(rule.inferResultShapes(shapes))) {
        failedAny = true;
        return;
      }
      for (auto [result, inferred] : llvm::zip(op->getResults(), shapes)) {
        auto declared = cast<RankedTensorType>(result.getType());
        if (declared.getRank() != static_cast<int64_t>(inferred.size())) {
          op->emitOpError("result rank does not match its shape rule");
          failedAny = true;
          return;
        }
        SmallVector<int64_t> met(declared.getShape());
        for (size_t i = 0; i < inferred.size(); ++i) {
          if (met[i] == ShapedType::kDynamic) {
            met[i] = inferred[i];
          } else if (inferred[i] != ShapedType::kDynamic &&
                     inferred[i] != met[i]) {
            op->emitOpError("result dim ")
                << i << " is " << met[i] << " but the shape rule gives "
                << inferred[i];
            failedAny = true;
            return;
          }
        }
        if (met != declared.getShape())
          result.setType(declared.clone(met));
      }
    });
    if (failedAny)
      return signalPassFailure();
    getOperation().walk([](func::FuncOp func) {
      auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
      func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                     ret.getOperandTypes()));
    });
  }
};

} // namespace
