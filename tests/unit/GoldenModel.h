//===- GoldenModel.h - The model of a PyTorch golden, compiled -*- C++ -*-===//

#ifndef GPTC_TESTS_GOLDENMODEL_H
#define GPTC_TESTS_GOLDENMODEL_H

#include "gptc/Frontend/MLIRGen.h"
#include "gptc/Frontend/Sema.h"
#include "gptc/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

namespace gptc::test {

/// models/gpt2.gpt at the golden's config (`base` + ".yaml", with `sets`
/// overrides), through the front end and training pipelines (with
/// `fuseAttention`, gpt-fuse-attention before autodiff).
inline mlir::OwningOpRef<mlir::ModuleOp>
compileGolden(mlir::MLIRContext &context, const std::string &base,
              const std::vector<std::string> &sets = {},
              bool fuseAttention = false) {
  std::string root = GPTC_SOURCE_DIR;
  SourceManager sm;
  ModelSource src = loadModel(sm, root + "/models/gpt2.gpt", {});
  ConfigFile cfg = loadConfig(sm, base + ".yaml");
  for (auto &s : sets)
    addOverride(sm, cfg, s);
  Program prog = analyze(src, cfg);
  loadGptDialects(context);
  auto module = mlirGen(context, prog);
  mlir::PassManager pm(&context);
  buildFrontendPipeline(pm);
  if (fuseAttention)
    pm.addPass(createGptFuseAttention());
  buildTrainingPipeline(pm, TrainConfig());
  EXPECT_TRUE(mlir::succeeded(pm.run(*module)));
  return module;
}

/// Adds what `step` (@train_step) takes besides the golden's tensors: every
/// AdamW moment filled with `moment`, and lr 1e-3, weight decay 0.1,
/// clipping at 1.0 (the goldens' settings). The step number is the caller's.
inline void addStepInputs(SafetensorsFile &state, mlir::func::FuncOp step,
                          double moment = 0.0) {
  for (unsigned a = 0; a < step.getNumArguments(); ++a) {
    auto in = step.getArgAttrOfType<mlir::StringAttr>(a, "gpt.input");
    auto t = mlir::cast<mlir::RankedTensorType>(step.getArgument(a).getType());
    if (in && in.getValue().starts_with("adam."))
      state.tensors[in.str()] = TensorData::fromDoubles(
          DType::F64, std::vector<int64_t>(t.getShape()),
          std::vector<double>(t.getNumElements(), moment));
  }
  for (auto [name, v] : {std::pair<const char *, double>{"lr", 1e-3},
                         {"weight_decay", 0.1},
                         {"clip_norm", 1.0}})
    state.tensors[name] = TensorData::fromDoubles(DType::F64, {}, {v});
}

} // namespace gptc::test

#endif // GPTC_TESTS_GOLDENMODEL_H
