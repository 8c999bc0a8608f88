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
#include "gptc/Support/Json.h"
#include "gptc/Support/ReadFile.h"

#include "../unit/TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
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
  // The keys come from gpt2.gpt's `names hf` entries through the plan.
  Json config = parseJson(
      readFileBounded(dir + "/config.json", kMaxSourceBytes, "config.json"),
      "config.json");
  for (auto &[key, value] : std::map<std::string, Json>{
           {"n_embd", 32},
           {"n_layer", 2},
           {"n_head", 4},
           {"vocab_size", 250},
           {"n_positions", 64},
           {"tie_word_embeddings", true},
           {"model_type", "gpt2"},
           {"architectures", Json::array({"GPT2LMHeadModel"})},
           {"layer_norm_epsilon", 1e-5}})
    EXPECT_EQ(config[key], value) << key;
  std::string parsed;
  EXPECT_EQ(runCapture({"/usr/bin/python3", "-c",
                        "import json, sys; json.load(open(sys.argv[1]))",
                        dir + "/config.json"},
                       parsed),
            0)
      << "config.json is not JSON: " << parsed;
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

/// The ids after "ids:" on each such line of `out`.
std::vector<std::string> idLines(const std::string &out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("ids:", 0) == 0)
      lines.push_back(line);
  return lines;
}

// The acceptance test for the KV cache: 50 decode steps, each
// step's logits against the forward function recomputing the whole
// sequence (fp32 tolerance), and the same ids with --no-kv-cache.
TEST(Weights, CachedDecodingEqualsRecomputation) {
  const std::string weights = kGoldens + "hf-tiny/model.safetensors";
  const std::vector<int> prompt = {17, 3, 101, 42, 7};
  std::string ids;
  for (int id : prompt)
    ids += std::to_string(id) + " ";
  std::string out, plain;
  std::string logitsFile = kWork + "steps.safetensors";
  ASSERT_EQ(
      runCapture({tinyExecutable("generate"), "--weights", weights,
                  "--prompt-ids", ids, "--max-new-tokens", "50", "--ignore-eos",
                  "--print-ids", "--logits-out", logitsFile},
                 out),
      0)
      << out;
  EXPECT_NE(out.find("(KV cache, batch 1)"), std::string::npos) << out;
  ASSERT_EQ(runCapture({tinyExecutable("generate"), "--weights", weights,
                        "--prompt-ids", ids, "--max-new-tokens", "50",
                        "--ignore-eos", "--print-ids", "--no-kv-cache"},
                       plain),
            0)
      << plain;
  EXPECT_NE(plain.find("(no KV cache, batch 1)"), std::string::npos) << plain;
  ASSERT_EQ(idLines(out).size(), 1u) << out;
  EXPECT_EQ(idLines(out), idLines(plain));

  // --max-new-tokens 0 makes no token, with the cache as without (the
  // cached path once sampled one from the prefill).
  std::string none, noneCached;
  ASSERT_EQ(
      runCapture({tinyExecutable("generate"), "--weights", weights,
                  "--prompt-ids", ids, "--max-new-tokens", "0", "--print-ids"},
                 noneCached),
      0)
      << noneCached;
  ASSERT_EQ(runCapture({tinyExecutable("generate"), "--weights", weights,
                        "--prompt-ids", ids, "--max-new-tokens", "0",
                        "--print-ids", "--no-kv-cache"},
                       none),
            0)
      << none;
  EXPECT_EQ(idLines(noneCached), idLines(none));
  ASSERT_EQ(idLines(none).size(), 1u) << none;
  EXPECT_EQ(idLines(none)[0].find_first_of("0123456789"), std::string::npos)
      << "a token was generated: " << none;

  // The forward on prompt + the first 49 new tokens: its position 4 + i
  // predicts new token i.
  std::vector<double> tokens(prompt.begin(), prompt.end());
  std::istringstream made(idLines(out)[0].substr(4));
  for (double id; made >> id;)
    tokens.push_back(id);
  ASSERT_EQ(tokens.size(), 55u);
  tokens.pop_back();
  SafetensorsFile in, full;
  in.tensors["tokens"] = TensorData::fromDoubles(
      DType::I32, {1, static_cast<int64_t>(tokens.size())}, tokens);
  writeSafetensors(kWork + "full.in", in);
  ASSERT_EQ(runCapture({tinyExecutable(), "--inputs", kWork + "full.in", "-o",
                        kWork + "full.out", "--weights", weights},
                       out),
            0)
      << out;
  std::vector<double> want =
      readSafetensors(kWork + "full.out").find("logits")->toDoubles();
  SafetensorsFile stepsFile = readSafetensors(logitsFile);
  const TensorData *steps = stepsFile.find("logits.0");
  ASSERT_TRUE(steps);
  ASSERT_EQ(steps->shape, (std::vector<int64_t>{50, 250}));
  std::vector<double> got = steps->toDoubles();
  double worst = 0;
  for (int64_t i = 0; i < 50; ++i)
    for (int64_t v = 0; v < 250; ++v)
      worst = std::max(worst,
                       std::fabs(got[i * 250 + v] - want[(4 + i) * 250 + v]));
  EXPECT_LT(worst, 1e-4);
}

// --weight-format bf16 and int8: the matmuls read their weights rounded to
// bf16 or to int8 blocks (and int8 decoding its activations too). The first
// token's logits (same input) stay within that rounding of the fp32 ones,
// yet differ from them.
TEST(Weights, ReducedPrecisionWeightsTrackF32) {
  const std::string weights = kGoldens + "hf-tiny/model.safetensors";
  std::map<std::string, std::string> out;
  std::map<std::string, std::vector<double>> logits;
  for (std::string format : {"f32", "bf16", "int8"}) {
    std::string file = kWork + "first-" + format + ".safetensors";
    ASSERT_EQ(runCapture({tinyExecutable("generate"), "--weights", weights,
                          "--prompt-ids", "17 3 101 42 7", "--max-new-tokens",
                          "1", "--weight-format", format, "--logits-out", file},
                         out[format]),
              0)
        << out[format];
    EXPECT_NE(out[format].find("weights: " + format + ", "), std::string::npos)
        << out[format];
    SafetensorsFile written = readSafetensors(file);
    const TensorData *t = written.find("logits.0");
    ASSERT_TRUE(t);
    logits[format] = t->toDoubles();
  }
  for (std::string format : {"bf16", "int8"}) {
    ASSERT_EQ(logits["f32"].size(), logits[format].size());
    double worst = 0, scale = 0;
    for (size_t v = 0; v < logits["f32"].size(); ++v) {
      worst = std::max(worst, std::fabs(logits["f32"][v] - logits[format][v]));
      scale = std::max(scale, std::fabs(logits["f32"][v]));
    }
    EXPECT_GT(worst, 0.0) << format << " weights gave fp32's logits exactly";
    // int8 decoding also quantizes the activations (Gemv.h step 5): on this
    // tiny model 2.9% of the largest logit.
    EXPECT_LT(worst / scale, format == "int8" ? 5e-2 : 2e-2) << format;
  }
  // `gptc build --weight-format int8` makes int8 the executable's default;
  // its flag still overrides it.
  std::string exe = kWork + "tiny-generate-int8", log;
  ASSERT_EQ(
      runCapture({GPTC_BIN, "build",
                  std::string(GPTC_SOURCE_DIR) + "/models/gpt2.gpt", "--config",
                  std::string(GPTC_SOURCE_DIR) + "/models/configs/tiny.yaml",
                  "--set", "vocab_size=250", "--task=generate",
                  "--weight-format", "int8", "--cache-dir",
                  std::string(GPTC_BINARY_DIR) + "/test-kernel-cache", "-o",
                  exe},
                 log),
      0)
      << log;
  for (auto [flags, want] :
       {std::pair<std::vector<std::string>, std::string>{{}, "int8"},
        {{"--weight-format", "f32"}, "f32"}}) {
    std::vector<std::string> argv = {
        exe,    "--weights",        weights, "--prompt-ids",
        "17 3", "--max-new-tokens", "1"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    ASSERT_EQ(runCapture(argv, log), 0) << log;
    EXPECT_NE(log.find("weights: " + want + ", "), std::string::npos) << log;
  }
  // An unknown format is refused by name.
  std::string bad;
  EXPECT_NE(runCapture({tinyExecutable("generate"), "--weights", weights,
                        "--prompt-ids", "1", "--weight-format", "int4"},
                       bad),
            0);
  EXPECT_NE(bad.find("--weight-format"), std::string::npos) << bad;
}

// Prompts of different lengths in one batch (no padding: each sequence
// decodes at its own positions) give each prompt's ids alone.
TEST(Weights, BatchOfPromptsMatchesEachAlone) {
  const std::string weights = kGoldens + "hf-tiny/model.safetensors";
  const std::vector<std::string> prompts = {"5 9 200 31", "77",
                                            "1 2 3 4 5 6 7 8 9 10 11"};
  std::vector<std::string> alone;
  for (const std::string &p : prompts) {
    std::string out;
    ASSERT_EQ(runCapture({tinyExecutable("generate"), "--weights", weights,
                          "--prompt-ids", p, "--max-new-tokens", "12",
                          "--ignore-eos", "--print-ids"},
                         out),
              0)
        << out;
    ASSERT_EQ(idLines(out).size(), 1u) << out;
    alone.push_back(idLines(out)[0]);
  }
  std::string out;
  ASSERT_EQ(runCapture({tinyExecutable("generate"), "--weights", weights,
                        "--prompt-ids", prompts[0], "--prompt-ids", prompts[1],
                        "--prompt-ids", prompts[2], "--max-new-tokens", "12",
                        "--ignore-eos", "--print-ids"},
                       out),
            0)
      << out;
  EXPECT_EQ(idLines(out), alone) << out;
  EXPECT_NE(out.find("(KV cache, batch 3)"), std::string::npos) << out;
}

// The executor's GPU code path in host memory (GPTC_DEVICE=host): weights
// and KV caches kept "on the device", caches written in place there; the
// batch's ids must not change.
TEST(Weights, DevicePathGeneratesTheSame) {
  const std::vector<std::string> cmd = {tinyExecutable("generate"),
                                        "--weights",
                                        kGoldens + "hf-tiny/model.safetensors",
                                        "--prompt-ids",
                                        "5 9 200 31",
                                        "--prompt-ids",
                                        "77",
                                        "--max-new-tokens",
                                        "12",
                                        "--ignore-eos",
                                        "--print-ids"};
  std::string plain, device;
  ASSERT_EQ(runCapture(cmd, plain), 0) << plain;
  setenv("GPTC_DEVICE", "host", 1);
  int rc = runCapture(cmd, device);
  unsetenv("GPTC_DEVICE");
  ASSERT_EQ(rc, 0) << device;
  ASSERT_EQ(idLines(plain).size(), 2u) << plain;
  EXPECT_EQ(idLines(device), idLines(plain));
}

// Flags of export and generation that cannot be honoured.
TEST(Weights, BadFlagsFailWithAMessage) {
  std::string out;
  EXPECT_EQ(runCapture({tinyExecutable(), "--export-hf", kWork + "x"}, out), 1);
  EXPECT_NE(out.find("--export-hf needs --weights FILE"), std::string::npos)
      << out;
  std::ofstream(kWork + "a-file") << "x";
  EXPECT_EQ(runCapture({tinyExecutable(), "--export-hf", kWork + "a-file",
                        "--weights", kGoldens + "llmc-tiny.bin"},
                       out),
            1);
  EXPECT_NE(out.find("is a file; give a folder"), std::string::npos) << out;
  EXPECT_EQ(runCapture({tinyExecutable("generate"), "--weights",
                        kGoldens + "llmc-tiny.bin", "--prompt-ids", "1 2",
                        "--top-p", "1.5"},
                       out),
            2);
  EXPECT_NE(out.find("--top-p: expects a finite number in (0, 1], got '1.5'"),
            std::string::npos)
      << out;
  EXPECT_EQ(runCapture({tinyExecutable("generate"), "--weights",
                        kGoldens + "llmc-tiny.bin", "--prompt-file",
                        kWork + "no-such-prompt.txt"},
                       out),
            1);
  EXPECT_NE(out.find("cannot open the prompt file"), std::string::npos) << out;
  EXPECT_EQ(runCapture({tinyExecutable(), "--weights",
                        kGoldens + "llmc-tiny.bin", "--prompt-ids", "1 2",
                        "--logits-out", kWork + "x.safetensors"},
                       out),
            1);
  EXPECT_NE(out.find("--logits-out needs an executable built with "
                     "--task=generate"),
            std::string::npos)
      << out;
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
  // NaN and infinite weights are refused naming the tensor and element
  // (they generated garbage with exit status 0).
  for (float bad : {std::nanf(""), -INFINITY}) {
    SafetensorsFile damaged =
        readSafetensors(kGoldens + "hf-tiny/model.safetensors");
    TensorData &h = damaged.tensors.at("transformer.h.1.mlp.c_fc.weight");
    std::memcpy(h.bytes.data() + 4 * 7, &bad, 4);
    writeSafetensors(kWork + "damaged.safetensors", damaged);
    EXPECT_EQ(runWith(kWork + "damaged.safetensors", out, log), 1);
    EXPECT_NE(log.find("tensor 'transformer.h.1.mlp.c_fc.weight' holds " +
                       std::string(std::isnan(bad) ? "NaN" : "an infinity") +
                       " at element 7"),
              std::string::npos)
        << log;
  }
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
