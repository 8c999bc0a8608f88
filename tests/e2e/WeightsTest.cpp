//===- WeightsTest.cpp - Hugging Face and llm.c weights in executables ----===//
//
// A small random transformers GPT2LMHeadModel and its llm.c export
// (tests/reference/make_weights_goldens.py) run in a built forward
// executable with --weights: logits within 1e-4 of transformers'. The
// export back to Hugging Face names and layout round-trips, and weights of
// another model size fail naming the tensor.
//
//===----------------------------------------------------------------------===//

#include "gptc/Backends/KernelCache.h"
#include "gptc/Runtime/Safetensors.h"

#include "../unit/TestUtil.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace gptc;
namespace fs = std::filesystem;

namespace {

const std::string kGoldens =
    std::string(GPTC_SOURCE_DIR) + "/tests/reference/goldens/";
const std::string kWork = std::string(GPTC_BINARY_DIR) + "/e2e-work/weights-" +
                          std::to_string(getpid()) + "/";

struct CleanUp : testing::Environment {
  void TearDown() override { fs::remove_all(kWork); }
};
const testing::Environment *const kCleanUp =
    testing::AddGlobalTestEnvironment(new CleanUp);

/// The tiny config with the goldens' vocabulary, built once for `task`.
std::string tinyExecutable(const std::string &task = "forward") {
  static std::map<std::string, std::string> built;
  if (auto it = built.find(task); it != built.end())
    return it->second;
  fs::create_directories(kWork);
  std::string exe = kWork + "tiny-" + task;
  std::string log;
  EXPECT_EQ(
      runCapture({GPTC_BIN, "build",
                  std::string(GPTC_SOURCE_DIR) + "/models/gpt2.gpt", "--config",
                  std::string(GPTC_SOURCE_DIR) + "/models/configs/tiny.yaml",
                  "--set", "vocab_size=250", "--task=" + task, "--cache-dir",
                  std::string(GPTC_BINARY_DIR) + "/test-kernel-cache", "-o",
                  exe},
                 log),
      0)
      << log;
  return built[task] = exe;
}

/// Runs the executable on the goldens' tokens with `weights`.
int runWith(const std::string &weights, SafetensorsFile &out,
            std::string &log) {
  SafetensorsFile expected =
      readSafetensors(kGoldens + "hf-tiny-expected.safetensors");
  SafetensorsFile in;
  in.tensors["tokens"] = *expected.find("tokens");
  std::string exe = tinyExecutable();
  static int counter = 0;
  std::string base = kWork + "run" + std::to_string(counter++);
  writeSafetensors(base + ".in", in);
  int rc = runCapture({exe, "--inputs", base + ".in", "-o", base + ".out",
                       "--weights", weights},
                      log);
  if (rc == 0)
    out = readSafetensors(base + ".out");
  return rc;
}

void expectLogitsOfTransformers(const std::string &weights) {
  SafetensorsFile out;
  std::string log;
  ASSERT_EQ(runWith(weights, out, log), 0) << log;
  SafetensorsFile expected =
      readSafetensors(kGoldens + "hf-tiny-expected.safetensors");
  const TensorData *got = out.find("logits");
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->shape, expected.find("logits")->shape);
  EXPECT_LT(
      test::relError(got->toDoubles(), expected.find("logits")->toDoubles()),
      1e-4);
}

TEST(Weights, HuggingFaceSafetensorsMatchTransformers) {
  expectLogitsOfTransformers(kGoldens + "hf-tiny/model.safetensors");
}

TEST(Weights, LlmcCheckpointMatchesTransformers) {
  expectLogitsOfTransformers(kGoldens + "llmc-tiny.bin");
}

// --export-hf writes what the Hugging Face file holds: same names, shapes
// and values, and a config.json transformers reads.
TEST(Weights, ExportRoundTripsToHuggingFace) {
  std::string dir = kWork + "export";
  std::string log;
  ASSERT_EQ(runCapture({tinyExecutable(), "--export-hf", dir, "--weights",
                        kGoldens + "llmc-tiny.bin"},
                       log),
            0)
      << log;
  SafetensorsFile want =
      readSafetensors(kGoldens + "hf-tiny/model.safetensors");
  SafetensorsFile got = readSafetensors(dir + "/model.safetensors");
  for (auto &[name, t] : want.tensors) {
    if (name.find(".attn.bias") != std::string::npos)
      continue; // transformers' mask buffer, not a weight
    const TensorData *g = got.find(name);
    ASSERT_NE(g, nullptr) << name;
    EXPECT_EQ(g->shape, t.shape) << name;
    EXPECT_EQ(g->toDoubles(), t.toDoubles()) << name;
  }
  std::ifstream json(dir + "/config.json");
  std::stringstream text;
  text << json.rdbuf();
  for (const char *key :
       {"\"n_embd\": 32", "\"n_layer\": 2", "\"n_head\": 4",
        "\"vocab_size\": 250", "\"n_positions\": 64",
        "\"tie_word_embeddings\": true", "\"model_type\": \"gpt2\""})
    EXPECT_NE(text.str().find(key), std::string::npos) << key;
  // And back: the export is a valid --weights file.
  expectLogitsOfTransformers(dir + "/model.safetensors");
}

// --task=generate: greedy continuation from token ids, as transformers'
// generate(do_sample=False) gives it.
TEST(Weights, GenerateMatchesTransformersGreedy) {
  SafetensorsFile expected =
      readSafetensors(kGoldens + "hf-tiny-expected.safetensors");
  std::vector<double> tokens = expected.find("tokens")->toDoubles();
  std::string prompt;
  for (int i = 0; i < 9; ++i) // the first row
    prompt += std::to_string(static_cast<int>(tokens[i])) + " ";
  std::string out;
  ASSERT_EQ(runCapture({tinyExecutable("generate"), "--weights",
                        kGoldens + "llmc-tiny.bin", "--prompt-ids", prompt,
                        "--max-new-tokens", "20", "--print-ids"},
                       out),
            0)
      << out;
  std::string want = "ids:";
  for (double id : expected.find("generated")->toDoubles())
    want += " " + std::to_string(static_cast<int>(id));
  EXPECT_NE(out.find(want + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find("prefill: 9 tokens"), std::string::npos) << out;
  // Without weights: a clear error.
  EXPECT_EQ(
      runCapture({tinyExecutable("generate"), "--prompt-ids", prompt}, out), 1);
  EXPECT_NE(out.find("generation needs the model's weights"), std::string::npos)
      << out;
}

// Flags of export and generation that cannot be honoured.
TEST(Weights, BadFlagsFailWithAMessage) {
  std::string out;
  EXPECT_EQ(runCapture({tinyExecutable(), "--export-hf", kWork + "x"}, out), 1);
  EXPECT_NE(out.find("--export-hf needs --weights FILE"), std::string::npos)
      << out;
  EXPECT_EQ(runCapture({tinyExecutable("generate"), "--weights",
                        kGoldens + "llmc-tiny.bin", "--prompt-ids", "1 2",
                        "--top-p", "1.5"},
                       out),
            1);
  EXPECT_NE(out.find("--top-p expects a probability in (0, 1], got 1.5"),
            std::string::npos)
      << out;
  EXPECT_EQ(runCapture({tinyExecutable("generate"), "--weights",
                        kGoldens + "llmc-tiny.bin", "--prompt-file",
                        kWork + "no-such-prompt.txt"},
                       out),
            1);
  EXPECT_NE(out.find("cannot read the prompt file"), std::string::npos) << out;
}

TEST(Weights, WrongModelsFailNamingTheTensor) {
  SafetensorsFile out;
  std::string log;
  tinyExecutable(); // and the work directory
  // Another context length.
  SafetensorsFile hf = readSafetensors(kGoldens + "hf-tiny/model.safetensors");
  TensorData &wpe = hf.tensors.at("transformer.wpe.weight");
  wpe.shape = {32, 32};
  wpe.bytes.resize(32 * 32 * 4);
  writeSafetensors(kWork + "short.safetensors", hf);
  EXPECT_EQ(runWith(kWork + "short.safetensors", out, log), 1);
  EXPECT_NE(log.find("tensor 'transformer.wpe.weight' is F32[32, 32] but "
                     "this model's 'wpe.weight' is [64, 32]: weights of "
                     "another model size?"),
            std::string::npos)
      << log;
  // A truncated llm.c file.
  std::string cut = kWork + "cut.bin";
  {
    std::ifstream in(kGoldens + "llmc-tiny.bin", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 4);
  }
  EXPECT_EQ(runWith(cut, out, log), 1);
  EXPECT_NE(log.find("truncated or of another model?"), std::string::npos)
      << log;
  // A tensor the model has no place for.
  hf = readSafetensors(kGoldens + "hf-tiny/model.safetensors");
  hf.tensors["transformer.h.0.attn.rotary.weight"] =
      hf.tensors.at("transformer.ln_f.bias");
  writeSafetensors(kWork + "extra.safetensors", hf);
  EXPECT_EQ(runWith(kWork + "extra.safetensors", out, log), 1);
  EXPECT_NE(log.find("tensor 'transformer.h.0.attn.rotary.weight' F32[32] "
                     "has no place in this model"),
            std::string::npos)
      << log;
  // An llm.c file of another version (bf16 is 5).
  std::string v5 = kWork + "v5.bin";
  {
    std::ifstream in(kGoldens + "llmc-tiny.bin", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    bytes[4] = 5;
    std::ofstream(v5, std::ios::binary) << bytes;
  }
  EXPECT_EQ(runWith(v5, out, log), 1);
  EXPECT_NE(log.find("llm.c checkpoint version 5; only version 3 (fp32) is "
                     "supported"),
            std::string::npos)
      << log;
  // A Hugging Face file missing a tensor.
  hf = readSafetensors(kGoldens + "hf-tiny/model.safetensors");
  hf.tensors.erase("transformer.h.1.ln_2.bias");
  writeSafetensors(kWork + "missing.safetensors", hf);
  EXPECT_EQ(runWith(kWork + "missing.safetensors", out, log), 1);
  EXPECT_NE(log.find("no tensor for parameter 'h.1.ln_2.bias' (Hugging Face "
                     "'transformer.h.1.ln_2.bias')"),
            std::string::npos)
      << log;
}

} // namespace
