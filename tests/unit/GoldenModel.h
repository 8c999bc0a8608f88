//===- GoldenModel.h - The model of a PyTorch golden, compiled -*- C++ -*-===//

#ifndef GPTC_TESTS_GOLDENMODEL_H
#define GPTC_TESTS_GOLDENMODEL_H

#include "gptc/Frontend/Sema.h"
#include "gptc/IR/MLIRGen.h"
#include "gptc/Passes/Passes.h"

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

} // namespace gptc::test

#endif // GPTC_TESTS_GOLDENMODEL_H
