//===- FusionTest.cpp - gpt-fuse preserves what the interpreter computes --===//
//
// The interpreter runs gpt.kernel bodies, so the fused module must give
// exactly the unfused results (the same double operations in the same
// order) for the forward pass and for a training step with dropout.
//
//===----------------------------------------------------------------------===//

#include "gptc/Frontend/MLIRGen.h"
#include "gptc/Frontend/Sema.h"
#include "gptc/IR/GptOps.h"
#include "gptc/IR/Interpreter.h"
#include "gptc/Passes/Passes.h"

#include "mlir/IR/MLIRContext.h"

#include "GoldenModel.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace gptc;

namespace {

TEST(Fusion, InterpreterGivesIdenticalResults) {
  std::string base =
      std::string(GPTC_SOURCE_DIR) + "/tests/reference/goldens/tied-bias-odd-t";
  mlir::MLIRContext context;
  auto module = test::compileGolden(context, base);
  mlir::OwningOpRef<mlir::ModuleOp> fused = module->clone();
  mlir::PassManager pm(&context);
  buildKernelPipeline(pm);
  ASSERT_TRUE(mlir::succeeded(pm.run(*fused)));
  int kernels = 0;
  fused->walk([&](gpt::KernelOp) { ++kernels; });
  EXPECT_GT(kernels, 50);

  SafetensorsFile golden = readSafetensors(base + ".safetensors");
  test::addStepInputs(
      golden, module->lookupSymbol<mlir::func::FuncOp>("train_step"), 0.01);
  golden.tensors["step"] = TensorData::fromDoubles(DType::F64, {}, {2});

  InterpreterOptions training;
  training.training = true;
  training.seed = 9;
  training.step = 2;
  for (const char *name : {"forward", "train_step"}) {
    auto a = module->lookupSymbol<mlir::func::FuncOp>(name);
    auto b = fused->lookupSymbol<mlir::func::FuncOp>(name);
    InterpreterOptions opts =
        std::string(name) == "train_step" ? training : InterpreterOptions();
    std::vector<Buffer> ra =
        interpretAll(a, bindArguments(a, golden, base), opts);
    std::vector<Buffer> rb =
        interpretAll(b, bindArguments(b, golden, base), opts);
    ASSERT_EQ(ra.size(), rb.size());
    for (size_t i = 0; i < ra.size(); ++i) {
      EXPECT_EQ(ra[i].shape, rb[i].shape) << name << " result " << i;
      EXPECT_EQ(ra[i].data, rb[i].data) << name << " result " << i;
    }
  }
}

// Attention fused before autodiff (gpt.attention and its gradient rule)
// against the book's primitives: the same training step, dropout included
// (the fused op draws the unfused dropout's masks).
TEST(FuseAttention, SameTrainingStepAsThePrimitives) {
  std::string base =
      std::string(GPTC_SOURCE_DIR) + "/tests/reference/goldens/tied-bias-odd-t";
  mlir::MLIRContext context;
  auto plain = test::compileGolden(context, base);
  auto fused = test::compileGolden(context, base, {}, true);
  int attentions = 0;
  fused->walk([&](gpt::AttentionOp) { ++attentions; });
  EXPECT_EQ(attentions,
            2 * 4); // 2 layers in forward, loss, loss_grad, train_step
  int softmaxes = 0;
  fused->walk([&](gpt::SoftmaxOp) { ++softmaxes; });
  EXPECT_EQ(softmaxes, 0);

  SafetensorsFile golden = readSafetensors(base + ".safetensors");
  test::addStepInputs(golden,
                      plain->lookupSymbol<mlir::func::FuncOp>("train_step"));
  golden.tensors["step"] = TensorData::fromDoubles(DType::F64, {}, {4});
  InterpreterOptions training;
  training.training = true;
  training.seed = 5;
  training.step = 4;
  auto a = plain->lookupSymbol<mlir::func::FuncOp>("train_step");
  auto b = fused->lookupSymbol<mlir::func::FuncOp>("train_step");
  std::vector<Buffer> ra =
      interpretAll(a, bindArguments(a, golden, base), training);
  std::vector<Buffer> rb =
      interpretAll(b, bindArguments(b, golden, base), training);
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t i = 0; i < ra.size(); ++i) {
    ASSERT_EQ(ra[i].shape, rb[i].shape) << "result " << i;
    EXPECT_LT(test::relError(rb[i].data, ra[i].data), 1e-10) << "result " << i;
  }
}

} // namespace
