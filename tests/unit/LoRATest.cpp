//===- LoRATest.cpp - LoRA fine-tuning against the book's code ------------===//
//
// tests/reference/make_lora_goldens.py runs the book's appendix E code
// (LoRALayer, LinearWithLoRA, replace_linear_with_lora on a GPT with
// GPT-2's fused qkv projection, every other parameter frozen, a trained
// class head) in float64. models/gpt2-lora.gpt, which freezes the body
// itself and swaps LoRALinear in for Linear, must give the same logits,
// loss, gradients (for exactly the adapters and the head) and 10 AdamW
// steps within 1e-8 on the interpreter; its A starts from the bound of the
// book's Kaiming-uniform initialisation.
//
//===----------------------------------------------------------------------===//

#include "GoldenModel.h"
#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace gptc;

namespace {

using test::relError;

const std::string kBase =
    std::string(GPTC_SOURCE_DIR) + "/tests/reference/goldens/lora";

/// The book's classifier fine-tuning does not clip.
TrainConfig noClipping() {
  TrainConfig t;
  t.clipGradNorm = 0;
  return t;
}

TEST(LoRAGolden, ForwardGradientsAndStepsMatchTheBook) {
  SafetensorsFile golden = readSafetensors(kBase + ".safetensors");
  mlir::MLIRContext context;
  auto module = test::compileModel(context, "models/gpt2-lora.gpt", kBase, {},
                                   false, noClipping());

  auto forward = module->lookupSymbol<mlir::func::FuncOp>("forward");
  ASSERT_TRUE(forward);
  Buffer logits =
      interpretAll(forward, bindArguments(forward, golden, kBase), {})[0];
  EXPECT_LT(relError(logits.data, golden.find("expected.logits")->toDoubles()),
            1e-8);

  test::expectLossAndGradients(*module, golden, kBase);

  std::vector<double> losses = test::trainSteps(*module, golden, false);
  EXPECT_LT(relError(losses, golden.find("expected.steps.losses")->toDoubles()),
            1e-8);
}

TEST(LoRAGolden, AdaptersStartAsTheBooks) {
  SourceManager sm;
  Program prog = test::analyzeModel(sm, "models/gpt2-lora.gpt", kBase);
  double bound = readSafetensors(kBase + ".safetensors")
                     .find("expected.lora_A_bound")
                     ->toDoubles()[0];
  int adapters = 0;
  for (const Parameter &p : prog.params) {
    bool isA = p.name.size() > 7 &&
               p.name.compare(p.name.size() - 7, 7, ".lora_A") == 0;
    bool isB = p.name.size() > 7 &&
               p.name.compare(p.name.size() - 7, 7, ".lora_B") == 0;
    if (isA) {
      EXPECT_EQ(p.init.kind, Initializer::Kind::Uniform) << p.name;
      EXPECT_NEAR(p.init.scale, bound, 1e-12) << p.name;
      ++adapters;
    }
    if (isB) {
      EXPECT_EQ(p.init.kind, Initializer::Kind::Zeros) << p.name;
    }
    // Only the adapters and the head train.
    bool head = p.name.rfind("out_head.", 0) == 0;
    EXPECT_EQ(p.frozen, !(isA || isB || head)) << p.name;
  }
  EXPECT_EQ(adapters, 8); // 4 Linear layers in each of 2 blocks
  ASSERT_EQ(prog.merges.size(), 8u);
  EXPECT_EQ(prog.merges[0].target, "h.0.attn.c_attn.weight");
  EXPECT_EQ(prog.merges[0].a, "h.0.attn.c_attn.lora_A");
  EXPECT_EQ(prog.merges[0].scale, 1.5);
}

} // namespace
