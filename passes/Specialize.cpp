//===- Specialize.cpp - Fixing symbolic input dims to sizes ---------------===//
//
// Algorithm:
//  1. Parse the `NAME=SIZE` bindings; reject malformed ones.
//  2. For each function argument with `gpt.dims`, replace each `?` whose
//     name is bound by its size; update the block argument and the function
//     type.
//  3. Fail if a binding named no dim at all (a typo must not be ignored).
//  Canonicalize and gpt-shape-inference propagate the sizes afterwards.
//
//===----------------------------------------------------------------------===//

#include "gptc/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <map>

namespace gptc {
#define GEN_PASS_DEF_GPTSPECIALIZE
#include "gptc/Passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;

namespace {

struct SpecializePass : gptc::impl::GptSpecializeBase<SpecializePass> {
  using GptSpecializeBase::GptSpecializeBase;

  void runOnOperation() override {
    std::map<std::string, int64_t> sizes;
    for (const std::string &d : dims) {
      size_t eq = d.find('=');
      int64_t v = 0;
      if (eq == std::string::npos ||
          StringRef(d).substr(eq + 1).getAsInteger(10, v) || v <= 0) {
        getOperation().emitError("gpt-specialize: expected NAME=SIZE with a "
                                 "positive size, got '")
            << d << "'";
        return signalPassFailure();
      }
      sizes[d.substr(0, eq)] = v;
    }
    std::map<std::string, bool> used;
    getOperation().walk([&](func::FuncOp func) {
      Block &body = func.getBody().front();
      for (unsigned i = 0; i < func.getNumArguments(); ++i) {
        auto names = func.getArgAttrOfType<ArrayAttr>(i, "gpt.dims");
        auto type = dyn_cast<RankedTensorType>(body.getArgument(i).getType());
        if (!names || !type ||
            names.size() != static_cast<size_t>(type.getRank()))
          continue;
        SmallVector<int64_t> shape(type.getShape());
        for (size_t d = 0; d < shape.size(); ++d) {
          auto it = sizes.find(cast<StringAttr>(names[d]).str());
          if (it == sizes.end() || !type.isDynamicDim(d))
            continue;
          shape[d] = it->second;
          used[it->first] = true;
        }
        body.getArgument(i).setType(type.clone(shape));
      }
      func.setType(FunctionType::get(&getContext(), body.getArgumentTypes(),
                                     func.getResultTypes()));
    });
    for (auto &[name, size] : sizes)
      if (!used[name]) {
        getOperation().emitError("gpt-specialize: no input has a dim named '")
            << name << "'";
        return signalPassFailure();
      }
  }
};

} // namespace
