//===- GoldenModel.h - The model of a PyTorch golden, compiled -*- C++ -*-===//

#ifndef GPTC_TESTS_GOLDENMODEL_H
#define GPTC_TESTS_GOLDENMODEL_H

#include "gptc/Frontend/MLIRGen.h"
#include "gptc/Frontend/Sema.h"
#include "gptc/IR/Interpreter.h"
#include "gptc/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"

#include "TestUtil.h"

#include <gtest/gtest.h>

#include <set>

namespace gptc::test {

/// The model at `modelPath` (relative to the source tree) at the golden's
/// config (`base` + ".yaml", with `sets` overrides), through the front end
/// and training pipelines (with `fuseAttention`, gpt-fuse-attention before
/// autodiff); `train` says which parameters train and whether to clip.
/// The model at `modelPath` (relative to the source tree), elaborated at
/// config `base` + ".yaml" with `sets` overrides; its locations point into
/// `sm`'s files.
inline Program analyzeModel(SourceManager &sm, const std::string &modelPath,
                            const std::string &base,
                            const std::vector<std::string> &sets = {}) {
  std::string root = GPTC_SOURCE_DIR;
  ModelSource src = loadModel(sm, root + "/" + modelPath, {});
  ConfigFile cfg = loadConfig(sm, base + ".yaml");
  for (auto &s : sets)
    addOverride(sm, cfg, s);
  return analyze(src, cfg);
}

inline mlir::OwningOpRef<mlir::ModuleOp>
compileModel(mlir::MLIRContext &context, const std::string &modelPath,
             const std::string &base, const std::vector<std::string> &sets = {},
             bool fuseAttention = false,
             const TrainConfig &train = TrainConfig()) {
  SourceManager sm;
  Program prog = analyzeModel(sm, modelPath, base, sets);
  loadGptDialects(context);
  auto module = mlirGen(context, prog);
  mlir::PassManager pm(&context);
  buildFrontendPipeline(pm);
  if (fuseAttention)
    pm.addPass(createGptFuseAttention());
  buildTrainingPipeline(pm, train);
  EXPECT_TRUE(mlir::succeeded(pm.run(*module)));
  return module;
}

/// models/gpt2.gpt at the golden's config; see compileModel.
inline mlir::OwningOpRef<mlir::ModuleOp>
compileGolden(mlir::MLIRContext &context, const std::string &base,
              const std::vector<std::string> &sets = {},
              bool fuseAttention = false) {
  return compileModel(context, "models/gpt2.gpt", base, sets, fuseAttention);
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

/// Runs @loss_grad on the golden's weights and batch: the loss and every
/// gradient within 1e-8 of the golden's `expected.loss` and
/// `expected.grad.NAME`, and a gradient for exactly the parameters the
/// golden has one for (the trained ones).
inline void expectLossAndGradients(mlir::ModuleOp module,
                                   const SafetensorsFile &golden,
                                   const std::string &base) {
  auto grad = module.lookupSymbol<mlir::func::FuncOp>("loss_grad");
  ASSERT_TRUE(grad);
  std::vector<Buffer> out =
      interpretAll(grad, bindArguments(grad, golden, base), {});
  EXPECT_LT(relError(out[0].data, golden.find("expected.loss")->toDoubles()),
            1e-8);
  std::set<std::string> graded, expected;
  for (unsigned r = 1; r < out.size(); ++r) {
    std::string name =
        grad.getResultAttrOfType<mlir::StringAttr>(r, "gpt.output").str();
    graded.insert(name);
    const TensorData *want = golden.find("expected." + name);
    ASSERT_NE(want, nullptr) << name << " has a gradient but no golden";
    EXPECT_EQ(out[r].shape, want->shape) << name;
    EXPECT_LT(relError(out[r].data, want->toDoubles()), 1e-8) << name;
  }
  for (auto &[name, t] : golden.tensors)
    if (name.rfind("expected.grad.", 0) == 0)
      expected.insert(name.substr(std::string("expected.").size()));
  EXPECT_EQ(graded, expected);
}

/// Runs 10 steps of @train_step on the interpreter from the golden's
/// weights, tokens and targets (`state`); returns the losses. With
/// `dropout`, masks come from seed 42 and the step number.
inline std::vector<double> trainSteps(mlir::ModuleOp module,
                                      SafetensorsFile state, bool dropout) {
  auto step = module.lookupSymbol<mlir::func::FuncOp>("train_step");
  EXPECT_TRUE(step);
  addStepInputs(state, step);
  std::vector<double> losses;
  for (int t = 1; t <= 10; ++t) {
    state.tensors["step"] = TensorData::fromDoubles(DType::F64, {}, {1.0 * t});
    InterpreterOptions opts;
    opts.training = dropout;
    opts.seed = 42;
    opts.step = t;
    std::vector<Buffer> out =
        interpretAll(step, bindArguments(step, state, "state"), opts);
    losses.push_back(out[0].data[0]);
    for (unsigned r = 1; r < out.size(); ++r) {
      std::string name =
          step.getResultAttrOfType<mlir::StringAttr>(r, "gpt.output").str();
      if (name.rfind("grad.", 0) != 0)
        state.tensors[name] =
            TensorData::fromDoubles(DType::F64, out[r].shape, out[r].data);
    }
  }
  return losses;
}

} // namespace gptc::test

#endif // GPTC_TESTS_GOLDENMODEL_H
