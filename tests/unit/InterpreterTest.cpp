//===- InterpreterTest.cpp - The interpreter against PyTorch goldens
//-------===//
//
// tests/reference/make_goldens.py writes, for small configs, random weights,
// tokens, targets and the float64 logits and loss of an independent PyTorch
// implementation of the book's GPTModel. The interpreter must reproduce them
// to 1e-9 in double precision and to 1e-5 when it rounds every op to float32
// (error = max|a - b| / max(max|b|, 1e-6), as docs/Architecture.md defines it).
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/Interpreter.h"
#include "gptc/Frontend/MLIRGen.h"
#include "gptc/Frontend/Sema.h"

#include "gptc/Runtime/Philox.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include "TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace gptc;

namespace {

using test::relError;

struct Golden {
  const char *name;
};

class InterpreterGolden : public testing::TestWithParam<Golden> {};

TEST_P(InterpreterGolden, MatchesPyTorch) {
  std::string root = GPTC_SOURCE_DIR;
  std::string base = root + "/tests/reference/goldens/" + GetParam().name;
  SourceManager sm;
  ModelSource src = loadModel(sm, root + "/models/gpt2.gpt", {});
  Program prog = analyze(src, loadConfig(sm, base + ".yaml"));
  mlir::MLIRContext context;
  loadGptDialects(context);
  auto module = mlirGen(context, prog);
  ASSERT_TRUE(mlir::succeeded(mlir::verify(*module)));
  SafetensorsFile golden = readSafetensors(base + ".safetensors");

  auto forward = module->lookupSymbol<mlir::func::FuncOp>("forward");
  auto loss = module->lookupSymbol<mlir::func::FuncOp>("loss");
  std::vector<double> wantLogits = golden.find("expected.logits")->toDoubles();
  std::vector<double> wantLoss = golden.find("expected.loss")->toDoubles();

  for (bool fp32 : {false, true}) {
    InterpreterOptions opts;
    opts.float32 = fp32;
    double tol = fp32 ? 1e-5 : 1e-9;
    Buffer logits =
        interpret(forward, bindArguments(forward, golden, base), opts);
    EXPECT_EQ(logits.shape, golden.find("expected.logits")->shape);
    EXPECT_LT(relError(logits.data, wantLogits), tol)
        << "logits, fp32=" << fp32;
    Buffer l = interpret(loss, bindArguments(loss, golden, base), opts);
    EXPECT_LT(relError(l.data, wantLoss), tol) << "loss, fp32=" << fp32;
  }
}

INSTANTIATE_TEST_SUITE_P(PyTorch, InterpreterGolden,
                         testing::Values(Golden{"tied-bias-odd-t"},
                                         Golden{"untied-nobias-t1"},
                                         Golden{"untied-bias-full-ctx"}),
                         [](const auto &info) {
                           std::string n = info.param.name;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(Interpreter, BindingErrorsNameTheTensor) {
  std::string root = GPTC_SOURCE_DIR;
  std::string base = root + "/tests/reference/goldens/tied-bias-odd-t";
  SourceManager sm;
  ModelSource src = loadModel(sm, root + "/models/gpt2.gpt", {});
  Program prog = analyze(src, loadConfig(sm, base + ".yaml"));
  mlir::MLIRContext context;
  loadGptDialects(context);
  auto module = mlirGen(context, prog);
  auto forward = module->lookupSymbol<mlir::func::FuncOp>("forward");
  SafetensorsFile golden = readSafetensors(base + ".safetensors");

  SafetensorsFile missing = golden;
  missing.tensors.erase("h.1.attn.c_proj.weight");
  try {
    bindArguments(forward, missing, "w.safetensors");
    FAIL();
  } catch (const RuntimeError &e) {
    EXPECT_STREQ(e.what(), "w.safetensors: missing parameter "
                           "'h.1.attn.c_proj.weight' ([24, 24])");
  }
  SafetensorsFile wrong = golden;
  wrong.tensors["ln_f.bias"] =
      TensorData::fromDoubles(DType::F32, {25}, std::vector<double>(25));
  try {
    bindArguments(forward, wrong, "w.safetensors");
    FAIL();
  } catch (const RuntimeError &e) {
    EXPECT_STREQ(e.what(), "w.safetensors: tensor 'ln_f.bias' has shape "
                           "F32[25] but the model expects [24]");
  }
  SafetensorsFile floatIds = golden;
  floatIds.tensors["tokens"] =
      TensorData::fromDoubles(DType::F32, {1, 2}, {1, 2});
  EXPECT_THROW(bindArguments(forward, floatIds, "w"), RuntimeError);

  // A token id past the vocabulary is a run-time error naming the op.
  SafetensorsFile badId = golden;
  badId.tensors["tokens"] =
      TensorData::fromDoubles(DType::I32, {1, 2}, {3, 500});
  try {
    interpret(forward, bindArguments(forward, badId, "w"));
    FAIL();
  } catch (const RuntimeError &e) {
    EXPECT_NE(std::string(e.what()).find("gpt.embedding: id 500"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("layers.gpt"), std::string::npos)
        << e.what();
  }
}

} // namespace

namespace {

TEST(Interpreter, DropoutOnlyInTrainingAndSeeded) {
  mlir::MLIRContext context;
  loadGptDialects(context);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(R"mlir(
    func.func @f(%x: tensor<4x1000xf32>) -> tensor<4x1000xf32> {
      %0 = gpt.dropout %x {p = 0.25 : f64, id = 5 : i64} : tensor<4x1000xf32>
      return %0 : tensor<4x1000xf32>
    })mlir",
                                                        &context);
  ASSERT_TRUE(module);
  auto f = module->lookupSymbol<mlir::func::FuncOp>("f");
  Buffer x{{4, 1000}, std::vector<double>(4000, 2.0)};

  EXPECT_EQ(interpret(f, {x}).data, x.data); // inference: identity

  InterpreterOptions train;
  train.training = true;
  train.seed = 1234;
  train.step = 3;
  Buffer a = interpret(f, {x}, train), b = interpret(f, {x}, train);
  EXPECT_EQ(a.data, b.data); // deterministic
  int kept = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    bool k = dropoutKeeps(0.25, 1234, 3, 5, i);
    EXPECT_EQ(a.data[i], k ? 2.0 / 0.75 : 0.0) << i;
    kept += k;
  }
  EXPECT_NEAR(kept / 4000.0, 0.75, 0.03);
  train.step = 4;
  EXPECT_NE(interpret(f, {x}, train).data, a.data); // new step, new mask
}

} // namespace
