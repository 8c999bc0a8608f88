//===- TrainingTest.cpp - Gradients and AdamW steps against PyTorch
//--------===//
//
// tests/reference/make_goldens.py also records, in float64, every
// parameter's gradient and the losses of 10 AdamW steps (lr 1e-3, weight
// decay 0.1, clipping at 1.0), without dropout and with the config's dropout
// drawing gptc's Philox masks. The compiled @loss_grad and @train_step, run
// on the interpreter, must agree within 1e-8 (the error of
// docs/Architecture.md).
//
//===----------------------------------------------------------------------===//

#include "gptc/Frontend/MLIRGen.h"
#include "gptc/Frontend/Sema.h"
#include "gptc/IR/Interpreter.h"
#include "gptc/Passes/Passes.h"

#include "mlir/IR/MLIRContext.h"

#include "GoldenModel.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace gptc;

namespace {

using test::compileGolden;
using test::relError;
using test::trainSteps;

class TrainingGolden : public testing::TestWithParam<const char *> {};

TEST_P(TrainingGolden, GradientsMatchPyTorch) {
  std::string base =
      std::string(GPTC_SOURCE_DIR) + "/tests/reference/goldens/" + GetParam();
  mlir::MLIRContext context;
  auto module = compileGolden(context, base);
  test::expectLossAndGradients(*module, readSafetensors(base + ".safetensors"),
                               base);
}

TEST_P(TrainingGolden, TenAdamWStepsWithoutDropout) {
  std::string base =
      std::string(GPTC_SOURCE_DIR) + "/tests/reference/goldens/" + GetParam();
  mlir::MLIRContext context;
  auto module = compileGolden(context, base, {"drop_rate=0"});
  SafetensorsFile golden = readSafetensors(base + ".safetensors");
  std::vector<double> losses = trainSteps(*module, golden, false);
  EXPECT_LT(relError(losses, golden.find("expected.steps.losses")->toDoubles()),
            1e-8);
}

TEST_P(TrainingGolden, TenAdamWStepsWithDropout) {
  std::string base =
      std::string(GPTC_SOURCE_DIR) + "/tests/reference/goldens/" + GetParam();
  mlir::MLIRContext context;
  auto module = compileGolden(context, base);
  SafetensorsFile golden = readSafetensors(base + ".safetensors");
  std::vector<double> losses = trainSteps(*module, golden, true);
  EXPECT_LT(relError(losses,
                     golden.find("expected.steps_dropout.losses")->toDoubles()),
            1e-8);
}

INSTANTIATE_TEST_SUITE_P(PyTorch, TrainingGolden,
                         testing::Values("tied-bias-odd-t", "untied-nobias-t1",
                                         "untied-bias-full-ctx"),
                         [](const auto &info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

} // namespace
