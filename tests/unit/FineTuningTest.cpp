//===- FineTuningTest.cpp - The book's fine-tunings against PyTorch -------===//
//
// tests/reference/make_finetune_goldens.py runs the book's chapter 6 and 7
// code in float64. Checked here:
//  - InstructionDataset::collate against custom_collate_fn on a ragged
//    batch: plain, cut to a length, and with the instruction masked;
//  - models/gpt2-classifier.gpt, trained as the book trains it (all frozen
//    but the last block, the final norm and the head; no clipping): class
//    logits at the last and at the last non-padding position, the loss,
//    the accuracy (the trainer's countCorrect), the trained parameters'
//    gradients and 10 AdamW steps;
//  - models/gpt2.gpt trained 10 AdamW steps on a batch gptc collated with
//    prompt masking, against the same steps on the book's collate.
// The interpreter must agree within 1e-8, as for the pretraining goldens.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/ClassificationData.h"
#include "gptc/Runtime/InstructionData.h"

#include "GoldenModel.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <limits>
#include <numeric>

using namespace gptc;

namespace {

using test::relError;

const std::string kGoldens =
    std::string(GPTC_SOURCE_DIR) + "/tests/reference/goldens/";

/// The ragged batch `prefix`texts/lengths/prompt_lengths of a golden.
struct Ragged {
  std::vector<std::vector<uint32_t>> texts;
  std::vector<int64_t> promptLengths;
};

Ragged ragged(const SafetensorsFile &golden, const std::string &prefix) {
  std::vector<double> ids = golden.find(prefix + "texts")->toDoubles();
  Ragged r;
  size_t at = 0;
  for (double n : golden.find(prefix + "lengths")->toDoubles()) {
    r.texts.emplace_back(ids.begin() + at, ids.begin() + at + size_t(n));
    at += size_t(n);
  }
  for (double n : golden.find(prefix + "prompt_lengths")->toDoubles())
    r.promptLengths.push_back(int64_t(n));
  return r;
}

std::vector<int32_t> ints(const TensorData &t) {
  std::vector<double> d = t.toDoubles();
  return std::vector<int32_t>(d.begin(), d.end());
}

Batch collateAll(const InstructionDataset &data) {
  std::vector<int64_t> all(data.size());
  std::iota(all.begin(), all.end(), 0);
  return data.collate(all);
}

void expectBatch(const Batch &b, const SafetensorsFile &golden,
                 const std::string &prefix) {
  const TensorData *inputs = golden.find(prefix + ".inputs");
  const TensorData *targets = golden.find(prefix + ".targets");
  ASSERT_TRUE(inputs && targets) << prefix;
  EXPECT_EQ((std::vector<int64_t>{b.rows, b.length}), inputs->shape) << prefix;
  EXPECT_EQ(b.tokens, ints(*inputs)) << prefix;
  EXPECT_EQ(b.targets, ints(*targets)) << prefix;
}

TEST(FineTuningGolden, CollateIsTheBooks) {
  SafetensorsFile golden =
      readSafetensors(kGoldens + "finetune-instruct.safetensors");
  Ragged r = ragged(golden, "collate.");
  int64_t unlimited = std::numeric_limits<int64_t>::max();
  expectBatch(collateAll(InstructionDataset(r.texts, r.promptLengths, 50256,
                                            unlimited, false)),
              golden, "expected.collate.plain");
  expectBatch(
      collateAll(InstructionDataset(r.texts, r.promptLengths, 50256, 4, false)),
      golden, "expected.collate.cut4");
  expectBatch(collateAll(InstructionDataset(r.texts, r.promptLengths, 50256,
                                            unlimited, true)),
              golden, "expected.collate.masked");
}

/// The book's chapter 6 setting: the last block, the final norm and the
/// head train; nothing is clipped.
TrainConfig classifierTraining() {
  TrainConfig t;
  t.trainable = {"h.1.*", "ln_f.*", "out_head.*"};
  t.clipGradNorm = 0;
  return t;
}

TEST(FineTuningGolden, ClassifierMatchesTheBook) {
  std::string base = kGoldens + "finetune-classifier";
  SafetensorsFile golden = readSafetensors(base + ".safetensors");
  mlir::MLIRContext context;
  auto module = test::compileModel(context, "models/gpt2-classifier.gpt", base,
                                   {}, false, classifierTraining());

  auto forward = module->lookupSymbol<mlir::func::FuncOp>("forward");
  ASSERT_TRUE(forward);
  Buffer logits =
      interpretAll(forward, bindArguments(forward, golden, base), {})[0];
  const TensorData *want = golden.find("expected.logits");
  EXPECT_EQ(logits.shape, want->shape);
  EXPECT_LT(relError(logits.data, want->toDoubles()), 1e-8);
  std::vector<int32_t> labels = ints(*golden.find("targets"));
  int64_t right = countCorrect(logits.data.data(), labels.data(),
                               logits.shape[0], logits.shape[1]);
  EXPECT_EQ(double(right) / double(labels.size()),
            golden.find("expected.accuracy")->toDoubles()[0]);

  test::expectLossAndGradients(*module, golden, base);

  std::vector<double> losses = test::trainSteps(*module, golden, false);
  EXPECT_LT(relError(losses, golden.find("expected.steps.losses")->toDoubles()),
            1e-8);
}

TEST(FineTuningGolden, ClassifierReadsTheLastNonPaddingToken) {
  std::string base = kGoldens + "finetune-classifier";
  SafetensorsFile golden = readSafetensors(base + ".safetensors");
  mlir::MLIRContext context;
  auto module = test::compileModel(context, "models/gpt2-classifier.gpt", base,
                                   {"last_non_padding=true"});
  auto forward = module->lookupSymbol<mlir::func::FuncOp>("forward");
  ASSERT_TRUE(forward);
  Buffer logits =
      interpretAll(forward, bindArguments(forward, golden, base), {})[0];
  EXPECT_LT(
      relError(logits.data,
               golden.find("expected.logits_last_non_padding")->toDoubles()),
      1e-8);
}

TEST(FineTuningGolden, InstructionStepsMatchTheBook) {
  std::string base = kGoldens + "finetune-instruct";
  SafetensorsFile golden = readSafetensors(base + ".safetensors");
  Ragged r = ragged(golden, "train.");
  Batch b = collateAll(InstructionDataset(r.texts, r.promptLengths,
                                          /*pad=*/96, /*maxLength=*/12, true));
  expectBatch(b, golden, "expected.train");
  golden.tensors["tokens"] = TensorData::fromDoubles(
      DType::I32, {b.rows, b.length},
      std::vector<double>(b.tokens.begin(), b.tokens.end()));
  golden.tensors["targets"] = TensorData::fromDoubles(
      DType::I32, {b.rows, b.length},
      std::vector<double>(b.targets.begin(), b.targets.end()));
  TrainConfig noClipping;
  noClipping.clipGradNorm = 0;
  mlir::MLIRContext context;
  auto module = test::compileModel(context, "models/gpt2.gpt", base, {}, false,
                                   noClipping);
  std::vector<double> losses = test::trainSteps(*module, golden, false);
  EXPECT_LT(relError(losses, golden.find("expected.steps.losses")->toDoubles()),
            1e-8);
}

} // namespace
