//===- CompiledTest.cpp - Executables from gptc build against PyTorch -----===//
//
// Builds the golden configs with `gptc build` (kernels cached under the
// build tree), runs the executables through the run contract and compares
// with the float64 PyTorch goldens at the fp32 tolerances of the CPU
// backend: logits and loss 1e-4, gradients 1e-3, the losses of 10 AdamW
// steps (without and with dropout) 1e-3, on the host's own target and on
// every other CPU target it runs (AVX2 on an AVX-512 machine), so each
// ISA's kernels are checked on every machine. Also: results do not depend on
// the thread count, bad inputs fail with a message, and the executables
// link neither MLIR nor Halide.
//
//===----------------------------------------------------------------------===//

#include "gptc/Backends/KernelCache.h"
#include "gptc/Runtime/Safetensors.h"
#include "gptc/Support/CpuFeatures.h"
#include "gptc/Support/Json.h"
#include "gptc/Support/ReadFile.h"

#include "../unit/TestUtil.h"
#include "RunContract.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <unistd.h>

using namespace gptc;
namespace fs = std::filesystem;

namespace {

using test::relError;

const std::string kGoldens =
    std::string(GPTC_SOURCE_DIR) + "/tests/reference/goldens/";
// Per process: ctest runs tests in parallel processes.
const std::string kWork = std::string(GPTC_BINARY_DIR) + "/e2e-work/" +
                          std::to_string(getpid()) + "/";

/// Removes this process's executables and files at exit.
struct CleanUp : testing::Environment {
  void TearDown() override { fs::remove_all(kWork); }
};
const testing::Environment *const kCleanUp =
    testing::AddGlobalTestEnvironment(new CleanUp);

/// The model a golden was made for: make_llama_goldens.py names its goldens
/// llama*; make_goldens.py's are GPT-2's.
std::string modelOf(const std::string &golden) {
  std::string stem = fs::path(golden).stem().string();
  return std::string(GPTC_SOURCE_DIR) + (stem.rfind("llama", 0) == 0
                                             ? "/models/llama.gpt"
                                             : "/models/gpt2.gpt");
}

/// The flags that turn dropout off (Llama has none).
std::vector<std::string> noDropout(const std::string &golden) {
  if (modelOf(golden).find("llama.gpt") != std::string::npos)
    return {};
  return {"drop_rate=0"};
}

/// Builds (once per process) the executable of a golden config.
std::string build(const std::string &golden, const std::string &task,
                  const std::vector<std::string> &sets = {},
                  const std::string &target = "cpu",
                  const std::vector<std::string> &flags = {}) {
  static std::map<std::string, std::string> built;
  std::string key = golden + "|" + task + "|" + target;
  for (const std::string &s : sets)
    key += "|" + s;
  for (const std::string &f : flags)
    key += "|" + f;
  if (auto it = built.find(key); it != built.end())
    return it->second;
  fs::create_directories(kWork);
  std::string exe = kWork + fs::path(golden).stem().string() + "-" + task +
                    "-" + std::to_string(built.size());
  std::vector<std::string> cmd = {
      GPTC_BIN,
      "build",
      modelOf(golden),
      "--config",
      golden.find('/') == std::string::npos ? kGoldens + golden + ".yaml"
                                            : golden,
      "--task=" + task,
      "--target=" + target,
      "--cache-dir",
      std::string(GPTC_BINARY_DIR) + "/test-kernel-cache",
      "-o",
      exe};
  for (const std::string &s : sets) {
    cmd.push_back("--set");
    cmd.push_back(s);
  }
  cmd.insert(cmd.end(), flags.begin(), flags.end());
  std::string out;
  int rc = runCapture(cmd, out);
  EXPECT_EQ(rc, 0) << out;
  built[key] = exe;
  return exe;
}

struct Outcome {
  int status = -1;
  std::string log;
  SafetensorsFile out;
};

/// Runs `exe` on `in` with extra flags.
Outcome run(const std::string &exe, const SafetensorsFile &in,
            const std::vector<std::string> &flags = {}) {
  static int counter = 0;
  std::string base = kWork + "run" + std::to_string(counter++);
  writeSafetensors(base + ".in.safetensors", in);
  std::vector<std::string> cmd = {exe, "--inputs", base + ".in.safetensors",
                                  "-o", base + ".out.safetensors"};
  cmd.insert(cmd.end(), flags.begin(), flags.end());
  Outcome r;
  r.status = runCapture(cmd, r.log);
  if (r.status == 0)
    r.out = readSafetensors(base + ".out.safetensors");
  fs::remove(base + ".in.safetensors");
  fs::remove(base + ".out.safetensors");
  return r;
}

TensorData scalar(double v) {
  return TensorData::fromDoubles(DType::F32, {}, {v});
}

/// Whether a golden's tensor is a run-contract input (parameters, tokens,
/// targets) rather than an expectation or a generation prompt.
bool isInput(const std::string &name) {
  return name.rfind("expected.", 0) != 0 && name.rfind("generate.", 0) != 0;
}

/// The golden's parameters, ids and (zero) AdamW state for a training step.
SafetensorsFile trainInputs(const SafetensorsFile &golden) {
  SafetensorsFile in;
  for (auto &[name, t] : golden.tensors) {
    if (!isInput(name))
      continue;
    in.tensors[name] = t;
    if (name != "tokens" && name != "targets") {
      TensorData zeros = TensorData::fromDoubles(
          DType::F32, t.shape, std::vector<double>(t.numel(), 0.0));
      in.tensors["adam.m." + name] = zeros;
      in.tensors["adam.v." + name] = zeros;
    }
  }
  in.tensors["lr"] = scalar(1e-3);
  in.tensors["weight_decay"] = scalar(0.1);
  in.tensors["clip_norm"] = scalar(1.0);
  return in;
}

/// 10 AdamW steps, feeding each step's parameters and moments to the next.
std::vector<double> tenSteps(const std::string &exe, SafetensorsFile state) {
  std::vector<double> losses;
  for (int t = 1; t <= 10; ++t) {
    state.tensors["step"] = scalar(t);
    Outcome r = run(exe, state, {"--seed", "42"});
    EXPECT_EQ(r.status, 0) << r.log;
    if (r.status != 0)
      return losses;
    losses.push_back(r.out.find("loss")->toDoubles()[0]);
    for (auto &[name, tensor] : r.out.tensors)
      if (state.find(name) && name != "loss")
        state.tensors[name] = tensor;
  }
  return losses;
}

/// A golden on a target: the host's own ("cpu") and every other CPU
/// target the host can run, so each ISA's kernels are checked on every
/// machine (the AVX2 path on an AVX-512 machine).
class CompiledGolden
    : public testing::TestWithParam<std::tuple<std::string, std::string>> {
protected:
  const std::string &name() const { return std::get<0>(GetParam()); }
  const std::string &target() const { return std::get<1>(GetParam()); }
  SafetensorsFile golden() {
    return readSafetensors(kGoldens + name() + ".safetensors");
  }
  std::string built(const std::string &task,
                    const std::vector<std::string> &sets = {}) {
    return build(name(), task, sets, target());
  }
};

/// "cpu", and "cpu-avx2" where the host runs more than AVX2.
std::vector<std::string> hostTargets() {
  std::vector<std::string> targets = {"cpu"};
  if (missingCpuFeatures(targetCpuFeatures("cpu-avx512"), hostCpuFeatures())
          .empty())
    targets.push_back("cpu-avx2");
  return targets;
}

TEST_P(CompiledGolden, ForwardMatchesPyTorch) {
  SafetensorsFile g = golden();
  SafetensorsFile in;
  for (const char *n : {"tokens", "targets"})
    in.tensors[n] = *g.find(n);
  for (auto &[name, t] : g.tensors)
    if (isInput(name))
      in.tensors[name] = t;
  Outcome r = run(built("forward"), in);
  ASSERT_EQ(r.status, 0) << r.log;
  EXPECT_LT(relError(r.out.find("logits")->toDoubles(),
                     g.find("expected.logits")->toDoubles()),
            1e-4);
  EXPECT_LT(relError(r.out.find("loss")->toDoubles(),
                     g.find("expected.loss")->toDoubles()),
            1e-4);
}

TEST_P(CompiledGolden, GradientsMatchPyTorch) {
  SafetensorsFile g = golden();
  SafetensorsFile in = trainInputs(g);
  in.tensors["step"] = scalar(1);
  Outcome r = run(built("train", noDropout(name())), in);
  ASSERT_EQ(r.status, 0) << r.log;
  // A gradient that vanishes (q and k at T = 1: softmax over one key is
  // constant) is fp32 rounding noise; it is measured against a thousandth
  // of the model's largest gradient instead of its own zero.
  double largest = 0;
  for (auto &[name, want] : g.tensors)
    if (name.rfind("expected.grad.", 0) == 0)
      for (double x : want.toDoubles())
        largest = std::max(largest, std::fabs(x));
  int checked = 0;
  for (auto &[name, want] : g.tensors) {
    if (name.rfind("expected.grad.", 0) != 0)
      continue;
    const TensorData *got = r.out.find(name.substr(9));
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(got->shape, want.shape) << name;
    std::vector<double> a = got->toDoubles(), b = want.toDoubles();
    double diff = 0, scale = 1e-3 * largest;
    for (size_t i = 0; i < a.size(); ++i) {
      diff = std::max(diff, std::fabs(a[i] - b[i]));
      scale = std::max(scale, std::fabs(b[i]));
    }
    EXPECT_LT(diff / scale, 1e-3) << name;
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

TEST_P(CompiledGolden, TenAdamWStepsWithoutDropout) {
  SafetensorsFile g = golden();
  std::vector<double> losses =
      tenSteps(built("train", noDropout(name())), trainInputs(g));
  EXPECT_LT(relError(losses, g.find("expected.steps.losses")->toDoubles()),
            1e-3);
}

TEST_P(CompiledGolden, TenAdamWStepsWithDropout) {
  SafetensorsFile g = golden();
  if (!g.find("expected.steps_dropout.losses"))
    GTEST_SKIP() << name() << ": a model without dropout";
  std::vector<double> losses = tenSteps(built("train"), trainInputs(g));
  EXPECT_LT(
      relError(losses, g.find("expected.steps_dropout.losses")->toDoubles()),
      1e-3);
}

/// The ids each `ids: ...` line of a generation run printed, in order.
std::vector<std::vector<double>> printedIds(const std::string &log) {
  std::vector<std::vector<double>> rows;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("ids: ", 0) != 0)
      continue;
    std::istringstream words(line.substr(5));
    rows.emplace_back();
    for (double id; words >> id;)
      rows.back().push_back(id);
  }
  return rows;
}

// Greedy continuations of two prompts of different lengths, as one ragged
// batch and each alone, with the KV-cached steps and without: transformers'
// ids (float64) up to the first step where the two largest logits are
// closer than 1e-4 (there fp32 may pick the other token).
TEST_P(CompiledGolden, GreedyGenerationMatchesTransformers) {
  SafetensorsFile g = golden();
  if (!g.find("expected.generate.ids.0"))
    GTEST_SKIP() << name() << ": no generation golden";
  SafetensorsFile weights;
  for (auto &[name, t] : g.tensors)
    if (isInput(name) && name != "tokens" && name != "targets")
      weights.tensors[name] = t;
  std::string exe = built("generate");
  std::string path = kWork + name() + "-" + target() + ".weights.safetensors";
  writeSafetensors(path, weights);
  std::vector<std::string> prompts;
  std::vector<std::vector<double>> want;
  size_t longest = 0;
  for (int i = 0; i < 2; ++i) {
    std::string key = std::to_string(i), p;
    std::vector<double> prompt = g.find("generate.prompt." + key)->toDoubles();
    for (double id : prompt)
      p += (p.empty() ? "" : " ") + std::to_string(static_cast<int>(id));
    prompts.push_back(p);
    longest = std::max(longest, prompt.size());
    // Expected ids up to the first near-tie.
    std::vector<double> ids =
        g.find("expected.generate.ids." + key)->toDoubles();
    std::vector<double> gaps =
        g.find("expected.generate.gap." + key)->toDoubles();
    size_t n = 0;
    while (n < ids.size() && gaps[n] >= 1e-4)
      ++n;
    want.push_back(std::vector<double>(ids.begin(), ids.begin() + n));
  }
  int64_t ctx = static_cast<int64_t>(
      g.find("generate.prompt.0")->toDoubles().size() +
      g.find("expected.generate.ids.0")->toDoubles().size());
  auto generate = [&](std::vector<int> which, int64_t tokens, bool cache) {
    std::vector<std::string> cmd = {exe,
                                    "--weights",
                                    path,
                                    "--print-ids",
                                    "--ignore-eos",
                                    "--max-new-tokens",
                                    std::to_string(tokens)};
    for (int i : which)
      cmd.insert(cmd.end(), {"--prompt-ids", prompts[i]});
    if (!cache)
      cmd.push_back("--no-kv-cache");
    std::string log;
    EXPECT_EQ(runCapture(cmd, log), 0) << log;
    return printedIds(log);
  };
  auto expectPrefix = [](const std::vector<double> &got,
                         const std::vector<double> &expected) {
    size_t n = std::min(got.size(), expected.size());
    EXPECT_EQ(std::vector<double>(got.begin(), got.begin() + n),
              std::vector<double>(expected.begin(), expected.begin() + n));
  };
  for (bool cache : {true, false}) {
    SCOPED_TRACE(cache ? "KV cache" : "no KV cache");
    std::vector<std::vector<double>> batch =
        generate({0, 1}, ctx - static_cast<int64_t>(longest), cache);
    ASSERT_EQ(batch.size(), 2u);
    for (int i = 0; i < 2; ++i) {
      expectPrefix(batch[i], want[i]);
      std::vector<std::vector<double>> alone =
          generate({i},
                   ctx - static_cast<int64_t>(
                             g.find("generate.prompt." + std::to_string(i))
                                 ->toDoubles()
                                 .size()),
                   cache);
      ASSERT_EQ(alone.size(), 1u);
      expectPrefix(alone[0], want[i]);
      // The batch row is the prompt alone, cut to the batch's length.
      expectPrefix(alone[0], batch[i]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    PyTorch, CompiledGolden,
    testing::Combine(testing::Values("tied-bias-odd-t", "untied-nobias-t1",
                                     "untied-bias-full-ctx", "llama-gqa-odd-t",
                                     "llama-mqa-tied-t1",
                                     "llama3-scaled-full-ctx"),
                     testing::ValuesIn(hostTargets())),
    [](const auto &info) {
      std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param);
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

// A Hugging Face model folder as the Hub has it (config.json with
// rope_scaling and keys gptc ignores, BF16 weights in two shards with an
// index, the tied head saved too) builds and runs unchanged; its export
// builds and runs again to the same logits.
TEST(Compiled, HuggingFaceLlamaFolderRunsUnchanged) {
  SafetensorsFile expected =
      readSafetensors(kGoldens + "llama-hf-tiny-expected.safetensors");
  SafetensorsFile in;
  in.tensors["tokens"] = *expected.find("tokens");
  std::string folder = kGoldens + "llama-hf-tiny";
  Outcome r = run(build(folder, "forward"), in, {"--weights", folder});
  ASSERT_EQ(r.status, 0) << r.log;
  EXPECT_LT(relError(r.out.find("logits")->toDoubles(),
                     expected.find("expected.logits")->toDoubles()),
            1e-4);

  std::string exported = kWork + "llama-hf-export";
  std::string log;
  ASSERT_EQ(runCapture({build(folder, "forward"), "--export-hf", exported,
                        "--weights", folder},
                       log),
            0)
      << log;
  Outcome again = run(build(exported, "forward"), in, {"--weights", exported});
  ASSERT_EQ(again.status, 0) << again.log;
  EXPECT_EQ(again.out.find("logits")->toDoubles(),
            r.out.find("logits")->toDoubles());
}

// A Llama trained with a tokenizer.json (a Llama-3-style BPE), exported as
// a Hugging Face folder with that tokenizer, generates from a text prompt:
// the folder's tokenizer.json is used (its BOS before the prompt), and the
// folder's config.json eos_token_id stops generation.
TEST(Compiled, LlamaFolderWithTokenizerJsonGenerates) {
  std::string config =
      std::string(GPTC_SOURCE_DIR) + "/models/configs/llama-tiny.yaml";
  std::string tokenizer = std::string(GPTC_SOURCE_DIR) +
                          "/tests/reference/tokenizer/llama3.tokenizer.json";
  std::vector<std::string> sets = {"vocab_size=1510"};
  std::string run = kWork + "llama-run", folder = kWork + "llama-folder", log;
  ASSERT_EQ(runCapture({build(config, "train", sets), "--data",
                        std::string(GPTC_SOURCE_DIR) + "/data/the-verdict.txt",
                        "--tokenizer", tokenizer, "--steps", "5", "--ctx", "32",
                        "--out", run, "--no-progress"},
                       log),
            0)
      << log;
  ASSERT_EQ(runCapture({build(config, "train", sets), "--export-hf", folder,
                        "--weights", run + "/checkpoint.safetensors"},
                       log),
            0)
      << log;
  fs::copy_file(tokenizer, folder + "/tokenizer.json");
  std::string gen = build(config, "generate", sets);
  auto generate = [&](bool ignoreEos) {
    std::vector<std::string> cmd = {
        gen,           "--weights",        folder, "--prompt", "The",
        "--print-ids", "--max-new-tokens", "6"};
    if (ignoreEos)
      cmd.push_back("--ignore-eos");
    EXPECT_EQ(runCapture(cmd, log), 0) << log;
    return printedIds(log);
  };
  std::vector<std::vector<double>> all = generate(true);
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].size(), 6u) << log;
  EXPECT_NE(log.find("<|begin_of_text|>The"), std::string::npos) << log;
  // The third token becomes an end of sequence (in a list, as Llama 3.2's
  // config.json gives several): generation stops where it first appears.
  Json hf = parseJson(
      readFileBounded(folder + "/config.json", 1 << 20, "config.json"),
      "config.json");
  hf["eos_token_id"] = Json::array({1509, static_cast<uint32_t>(all[0][2])});
  std::ofstream(folder + "/config.json") << hf.dump();
  std::vector<std::vector<double>> stopped = generate(false);
  ASSERT_EQ(stopped.size(), 1u);
  auto first = std::find(all[0].begin(), all[0].end(), all[0][2]);
  EXPECT_EQ(stopped[0], std::vector<double>(all[0].begin(), first + 1));
}

/// `gptc run --interpret` on `in`: the reference interpreter's outputs.
SafetensorsFile interpret(const std::string &config,
                          const std::vector<std::string> &sets,
                          const SafetensorsFile &in, const std::string &seed) {
  std::string base = kWork + "interp";
  writeSafetensors(base + ".in.safetensors", in);
  std::vector<std::string> cmd = {GPTC_BIN,
                                  "run",
                                  std::string(GPTC_SOURCE_DIR) +
                                      "/models/gpt2.gpt",
                                  "--config",
                                  config,
                                  "--interpret",
                                  "--seed",
                                  seed,
                                  "--inputs",
                                  base + ".in.safetensors",
                                  "-o",
                                  base + ".out.safetensors"};
  for (const std::string &s : sets)
    cmd.insert(cmd.end(), {"--set", s});
  std::string log;
  EXPECT_EQ(runCapture(cmd, log), 0) << log;
  return readSafetensors(base + ".out.safetensors");
}

/// The kernel plan (`gptc emit --stage=kernels --task=train`) of the model
/// with `config` and `sets`.
std::string trainPlan(const std::string &config,
                      const std::vector<std::string> &sets,
                      const std::vector<std::string> &flags = {}) {
  std::vector<std::string> cmd = {
      GPTC_BIN,      "emit", std::string(GPTC_SOURCE_DIR) + "/models/gpt2.gpt",
      "--config",    config, "--stage=kernels",
      "--task=train"};
  for (const std::string &s : sets)
    cmd.insert(cmd.end(), {"--set", s});
  cmd.insert(cmd.end(), flags.begin(), flags.end());
  std::string plan;
  EXPECT_EQ(runCapture(cmd, plan), 0) << plan;
  return plan;
}

/// Every output of `got` within fp32 tolerances of `want`.
void expectOutputsMatch(const SafetensorsFile &got,
                        const SafetensorsFile &want) {
  ASSERT_EQ(got.tensors.size(), want.tensors.size());
  for (auto &[name, t] : want.tensors) {
    const TensorData *g = got.find(name);
    ASSERT_NE(g, nullptr) << name;
    double tol = name == "logits" || name == "loss" ? 1e-4 : 1e-3;
    EXPECT_LT(relError(g->toDoubles(), t.toDoubles()), tol) << name;
  }
}

// Every kernel family of a training step against the interpreter on random
// weights and ids at odd sizes (B=3, T=5, width 32 with 4 heads of 8), with
// dropout active: same masks, fp32 tolerances.
TEST(Compiled, MatchesTheInterpreterOnRandomInputs) {
  std::string config =
      std::string(GPTC_SOURCE_DIR) + "/models/configs/tiny.yaml";
  std::vector<std::string> sets = {"drop_rate=0.2"};
  std::string exe = build(config, "train", sets);
  SafetensorsFile in =
      test::randomTrainInputs(trainPlan(config, sets), 3, 5, 7, 256);
  ASSERT_GT(in.tensors.size(), 80u);
  SafetensorsFile want = interpret(config, sets, in, "11");
  Outcome got = run(exe, in, {"--seed", "11"});
  ASSERT_EQ(got.status, 0) << got.log;
  expectOutputsMatch(got.out, want);
}

// Flash attention against the model's attention as written
// (--no-fuse-attention), compiled both: a training step at T=150, three
// query and key tiles with a ragged last one, without and with dropout
// (same seed, so the same masks).
TEST(Compiled, FlashAttentionMatchesUnfusedAttention) {
  std::string config =
      std::string(GPTC_SOURCE_DIR) + "/models/configs/tiny.yaml";
  for (const char *drop : {"drop_rate=0.0", "drop_rate=0.2"}) {
    std::vector<std::string> sets = {"context_length=160", drop};
    std::string flash = trainPlan(config, sets);
    std::string unfused = trainPlan(config, sets, {"--no-fuse-attention"});
    EXPECT_NE(flash.find("attention_grad"), std::string::npos);
    EXPECT_EQ(unfused.find("attention"), std::string::npos);
    SafetensorsFile in = test::randomTrainInputs(flash, 2, 150, 5, 256);
    Outcome want =
        run(build(config, "train", sets, "cpu", {"--no-fuse-attention"}), in,
            {"--seed", "4"});
    Outcome got = run(build(config, "train", sets), in, {"--seed", "4"});
    ASSERT_EQ(want.status, 0) << want.log;
    ASSERT_EQ(got.status, 0) << got.log;
    SCOPED_TRACE(drop);
    expectOutputsMatch(got.out, want.out);
  }
}

// `gptc run` without --interpret: build into a temporary file and run it.
TEST(Compiled, GptcRunBuildsAndRuns) {
  SafetensorsFile g =
      readSafetensors(kGoldens + "untied-nobias-t1.safetensors");
  SafetensorsFile in;
  for (auto &[name, t] : g.tensors)
    if (name.rfind("expected.", 0) != 0)
      in.tensors[name] = t;
  fs::create_directories(kWork);
  std::string base = kWork + "gptc-run";
  writeSafetensors(base + ".in.safetensors", in);
  std::string log;
  ASSERT_EQ(
      runCapture({GPTC_BIN, "run",
                  std::string(GPTC_SOURCE_DIR) + "/models/gpt2.gpt", "--config",
                  kGoldens + "untied-nobias-t1.yaml", "--cache-dir",
                  std::string(GPTC_BINARY_DIR) + "/test-kernel-cache",
                  "--threads", "1", "--inputs", base + ".in.safetensors", "-o",
                  base + ".out.safetensors"},
                 log),
      0)
      << log;
  SafetensorsFile out = readSafetensors(base + ".out.safetensors");
  EXPECT_LT(relError(out.find("logits")->toDoubles(),
                     g.find("expected.logits")->toDoubles()),
            1e-4);
  EXPECT_LT(relError(out.find("loss")->toDoubles(),
                     g.find("expected.loss")->toDoubles()),
            1e-4);
}

TEST(Compiled, BitwiseIdenticalAcrossThreadCounts) {
  SafetensorsFile in =
      trainInputs(readSafetensors(kGoldens + "tied-bias-odd-t.safetensors"));
  in.tensors["step"] = scalar(3);
  std::string exe = build("tied-bias-odd-t", "train");
  Outcome one = run(exe, in, {"--threads", "1", "--seed", "7"});
  Outcome two = run(exe, in, {"--threads", "2", "--seed", "7"});
  Outcome again = run(exe, in, {"--threads", "2", "--seed", "7"});
  ASSERT_EQ(one.status, 0) << one.log;
  ASSERT_EQ(two.status, 0) << two.log;
  ASSERT_EQ(one.out.tensors.size(), two.out.tensors.size());
  for (auto &[name, t] : one.out.tensors) {
    EXPECT_EQ(t.bytes, two.out.find(name)->bytes) << name;
    EXPECT_EQ(t.bytes, again.out.find(name)->bytes) << name;
  }
}

/// Calls per kernel in a --profile report, by kernel symbol.
std::map<std::string, int64_t> profileCalls(const std::string &log) {
  std::map<std::string, int64_t> calls;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    std::istringstream row(line);
    std::string symbol, family;
    int64_t n = 0;
    if (row >> symbol >> family >> n && symbol.size() == 17 && symbol[0] == 'k')
      calls[symbol] = n;
  }
  return calls;
}

// The warm-up run of --repeat (page faults, cold caches) stays out of the
// profile, as it stays out of the times.
TEST(Compiled, ProfileCountsTimedRunsOnly) {
  SafetensorsFile in =
      trainInputs(readSafetensors(kGoldens + "tied-bias-odd-t.safetensors"));
  in.tensors["step"] = scalar(1);
  std::string exe = build("tied-bias-odd-t", "train");
  Outcome once = run(exe, in, {"--profile"});
  Outcome thrice = run(exe, in, {"--profile", "--repeat", "3"});
  ASSERT_EQ(once.status, 0) << once.log;
  ASSERT_EQ(thrice.status, 0) << thrice.log;
  std::map<std::string, int64_t> one = profileCalls(once.log),
                                 three = profileCalls(thrice.log);
  ASSERT_FALSE(one.empty()) << once.log;
  ASSERT_EQ(one.size(), three.size()) << thrice.log;
  for (auto &[symbol, n] : one)
    EXPECT_EQ(three[symbol], 3 * n) << symbol << "\n" << thrice.log;
}
// A training step writes its new weights and moments over the inputs it
// was given (Executor::donateInputs): each --repeat run, and the forward
// run that gives the logits, starts from a copy of them.
TEST(Compiled, RepeatedStepsStartFromTheSameInputs) {
  SafetensorsFile in =
      trainInputs(readSafetensors(kGoldens + "tied-bias-odd-t.safetensors"));
  in.tensors["step"] = scalar(1);
  std::string exe = build("tied-bias-odd-t", "train");
  Outcome once = run(exe, in, {});
  Outcome thrice = run(exe, in, {"--repeat", "3"});
  ASSERT_EQ(once.status, 0) << once.log;
  ASSERT_EQ(thrice.status, 0) << thrice.log;
  ASSERT_TRUE(once.out.find("logits"));
  ASSERT_EQ(once.out.tensors.size(), thrice.out.tensors.size());
  for (auto &[name, t] : once.out.tensors)
    EXPECT_EQ(t.bytes, thrice.out.find(name)->bytes) << name;
}

TEST(Compiled, BadInputsFailWithAMessage) {
  SafetensorsFile g = readSafetensors(kGoldens + "tied-bias-odd-t.safetensors");
  std::string exe = build("tied-bias-odd-t", "forward");
  SafetensorsFile in;
  for (auto &[name, t] : g.tensors)
    if (name.rfind("expected.", 0) != 0 && name != "targets")
      in.tensors[name] = t;

  SafetensorsFile badId = in;
  std::vector<double> ids = badId.find("tokens")->toDoubles();
  ids[3] = 97; // the vocabulary has 97 ids
  badId.tensors["tokens"] =
      TensorData::fromDoubles(DType::I32, badId.find("tokens")->shape, ids);
  Outcome r = run(exe, badId);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.log.find("'tokens' holds id 97 at element 3, outside the table "
                       "of 97 rows"),
            std::string::npos)
      << r.log;

  // Targets outside the vocabulary (they were clamped): refused unless they
  // are the ignore_index, which the loss skips.
  SafetensorsFile badTarget = in;
  std::vector<double> targets = g.find("targets")->toDoubles();
  targets[5] = -100;
  badTarget.tensors["targets"] =
      TensorData::fromDoubles(DType::I32, g.find("targets")->shape, targets);
  r = run(exe, badTarget);
  EXPECT_EQ(r.status, 0) << r.log;
  targets[2] = 97;
  badTarget.tensors["targets"] =
      TensorData::fromDoubles(DType::I32, g.find("targets")->shape, targets);
  r = run(exe, badTarget);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.log.find("'targets' holds id 97 at element 2, outside the "
                       "table of 97 rows (and not -100)"),
            std::string::npos)
      << r.log;

  SafetensorsFile tooLong = in;
  tooLong.tensors["tokens"] =
      TensorData::fromDoubles(DType::I32, {1, 17}, std::vector<double>(17, 1));
  r = run(exe, tooLong);
  EXPECT_EQ(r.status, 1);
  // The model's own assert names the limit and its .gpt line.
  EXPECT_NE(r.log.find("the model requires T <= 16, but B = 1, T = 17 ("),
            std::string::npos)
      << r.log;
  EXPECT_NE(r.log.find("lib/gpt2.gpt:14:3: the sequence is longer than "
                       "context_length)"),
            std::string::npos)
      << r.log;

  // A tensor of 2^31 elements or more (logits at B = 42, T = 1024 with
  // GPT-2's vocabulary) is refused before anything is allocated: the
  // kernels' 32-bit indexing would wrap.
  std::string wide = build("tied-bias-odd-t", "forward",
                           {"vocab_size=50257", "context_length=1024"});
  SafetensorsFile huge;
  huge.tensors["tokens"] = TensorData::fromDoubles(
      DType::I32, {42, 1024}, std::vector<double>(42 * 1024, 0.0));
  r = run(wide, huge);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.log.find("at B = 42, T = 1024 "), std::string::npos) << r.log;
  EXPECT_NE(r.log.find(" elements, more than the 2^31 - 1 the kernels can "
                       "index; use a smaller batch or sequence"),
            std::string::npos)
      << r.log;

  SafetensorsFile wrongShape = in;
  wrongShape.tensors["wpe.weight"] = TensorData::fromDoubles(
      DType::F32, {16, 25}, std::vector<double>(16 * 25, 0.0));
  r = run(exe, wrongShape);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.log.find("tensor 'wpe.weight' has shape F32[16, 25] but the "
                       "model expects [16, 24]"),
            std::string::npos)
      << r.log;

  SafetensorsFile missing = in;
  missing.tensors.erase("ln_f.bias");
  r = run(exe, missing);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.log.find("missing parameter 'ln_f.bias' ([24])"),
            std::string::npos)
      << r.log;

  // A training step asked of a forward executable.
  SafetensorsFile train = trainInputs(g);
  train.tensors["step"] = scalar(1);
  r = run(exe, train);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.log.find("built without 'train_step'"), std::string::npos)
      << r.log;
}

// The AVX2 schedules (4x24 tiles, 8 lanes), forced on this machine.
TEST(Compiled, Avx2TargetMatchesPyTorch) {
  SafetensorsFile g = readSafetensors(kGoldens + "tied-bias-odd-t.safetensors");
  SafetensorsFile in;
  for (auto &[name, t] : g.tensors)
    if (name.rfind("expected.", 0) != 0)
      in.tensors[name] = t;
  std::string exe = build("tied-bias-odd-t", "forward", {}, "cpu-avx2");
  Outcome r = run(exe, in);
  ASSERT_EQ(r.status, 0) << r.log;
  EXPECT_LT(relError(r.out.find("logits")->toDoubles(),
                     g.find("expected.logits")->toDoubles()),
            1e-4);
  std::string dump;
  ASSERT_EQ(runCapture({"/usr/bin/objdump", "-d", exe}, dump), 0);
  EXPECT_EQ(dump.find("zmm"), std::string::npos)
      << "AVX-512 code in an AVX2 build";
}

// An executable checks at start that the CPU has what its kernels were
// built for (they died with SIGILL on older CPUs). GPTC_CPU_FEATURES stands
// in for the CPU, so an AVX2-only machine is tested on any machine.
TEST(Compiled, RefusesACpuWithoutItsFeatures) {
  SafetensorsFile g = readSafetensors(kGoldens + "tied-bias-odd-t.safetensors");
  SafetensorsFile in;
  for (auto &[name, t] : g.tensors)
    if (name.rfind("expected.", 0) != 0)
      in.tensors[name] = t;
  std::string exe = build("tied-bias-odd-t", "forward", {}, "cpu-avx512");
  setenv("GPTC_CPU_FEATURES", "sse4.1 avx f16c fma avx2", 1);
  Outcome r = run(exe, in);
  unsetenv("GPTC_CPU_FEATURES");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.log.find("this executable's kernels use avx512f, avx512dq, "
                       "avx512cd, avx512bw, avx512vl, which this CPU does not "
                       "have; rebuild it here, or with gptc build "
                       "--target=cpu-avx2"),
            std::string::npos)
      << r.log;
  // The portable build runs on that CPU.
  std::string portable = build("tied-bias-odd-t", "forward", {}, "cpu-avx2");
  setenv("GPTC_CPU_FEATURES", "sse4.1 avx f16c fma avx2", 1);
  r = run(portable, in);
  unsetenv("GPTC_CPU_FEATURES");
  EXPECT_EQ(r.status, 0) << r.log;
}

/// A training config of `precision: bf16` in the work directory.
std::string bf16TrainConfig() {
  fs::create_directories(kWork);
  std::string path = kWork + "bf16.yaml";
  std::ofstream(path) << "precision: bf16\n";
  return path;
}

// bf16 mixed-precision training: each kernel of the step against the
// interpreter, which rounds a bf16 matmul's operands as the kernel does, at
// fp32 tolerances (without the rounding 36 of 192 calls differ by up to
// 4e-3). Needs AVX512-BF16; elsewhere the build must refuse.
TEST(Compiled, Bf16StepMatchesTheRoundingInterpreter) {
  std::string config =
      std::string(GPTC_SOURCE_DIR) + "/models/configs/tiny.yaml";
  SafetensorsFile in =
      test::randomTrainInputs(trainPlan(config, {}), 3, 5, 7, 256);
  const std::string yaml = bf16TrainConfig();
  std::string base = kWork + "bf16-verify";
  writeSafetensors(base + ".in.safetensors", in);
  std::string log;
  int rc = runCapture(
      {GPTC_BIN, "run", std::string(GPTC_SOURCE_DIR) + "/models/gpt2.gpt",
       "--config", config, "--task=train", "--train-config", yaml, "--inputs",
       base + ".in.safetensors", "-o", base + ".out.safetensors", "--verify",
       "--tolerance", "1e-4", "--cache-dir",
       std::string(GPTC_BINARY_DIR) + "/test-kernel-cache"},
      log);
  if (missingCpuFeatures({"avx512bf16"}, hostCpuFeatures()).size()) {
    EXPECT_EQ(rc, 1) << log;
    EXPECT_NE(log.find("precision bf16 needs a CPU with AVX512-BF16"),
              std::string::npos)
        << log;
    GTEST_SKIP() << "this CPU has no AVX512-BF16";
  }
  ASSERT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("@train_step: 192 kernel calls, 192 agree"),
            std::string::npos)
      << log;
}

// A bf16 training build (for cpu-avx512, which any machine can build)
// refuses a CPU without AVX512-BF16 and says what to do instead.
TEST(Compiled, Bf16TrainingRefusesACpuWithoutBf16) {
  std::string config =
      std::string(GPTC_SOURCE_DIR) + "/models/configs/tiny.yaml";
  std::string exe = build(config, "train", {}, "cpu-avx512",
                          {"--train-config", bf16TrainConfig()});
  SafetensorsFile in =
      test::randomTrainInputs(trainPlan(config, {}), 2, 4, 7, 256);
  setenv("GPTC_CPU_FEATURES",
         "sse4.1 avx f16c fma avx2 avx512f avx512dq avx512cd avx512bw "
         "avx512vl",
         1);
  Outcome r = run(exe, in);
  unsetenv("GPTC_CPU_FEATURES");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.log.find("this executable trains with bf16 matmuls (the "
                       "training config's precision: bf16), which need "
                       "AVX512-BF16 dot products; this CPU has none"),
            std::string::npos)
      << r.log;
}

// The layering the build promises (docs/Architecture.md): an executable
// holds the runtime, support and its kernels, and no compiler code, neither
// linked dynamically (ldd) nor statically (its symbols).
TEST(Compiled, LinksNoCompilerCode) {
  std::string exe = build("tied-bias-odd-t", "train");
  std::string out;
  ASSERT_EQ(runCapture({"/usr/bin/ldd", exe}, out), 0) << out;
  EXPECT_EQ(out.find("libMLIR"), std::string::npos) << out;
  EXPECT_EQ(out.find("libHalide"), std::string::npos) << out;
  EXPECT_EQ(out.find("libLLVM"), std::string::npos) << out;
  std::string symbols;
  ASSERT_EQ(runCapture({"/usr/bin/nm", "-C", "--defined-only", exe}, symbols),
            0);
  ASSERT_NE(symbols.find("gptc::Executor"), std::string::npos)
      << "nm shows no runtime symbols, so it cannot show compiler ones";
  // The front end (lexer, parser, AST, Sema), the dialect and passes, the
  // lowering and the kernel cache, MLIR, LLVM and Halide's compiler (its
  // runtime, Halide::Runtime, belongs in the executable).
  for (const char *compiler :
       {"gptc::ast::", "gptc::lex(", "gptc::parseModule(", "gptc::analyze(",
        "gptc::loadModel(", "gptc::gpt::", "gptc::lowerToHostProgram",
        "gptc::KernelCache",
        "mlir::", "llvm::", "Halide::Internal::", "Halide::Func"})
    EXPECT_EQ(symbols.find(compiler), std::string::npos)
        << "the executable holds compiler code: " << compiler;
  ASSERT_EQ(runCapture({exe, "--help"}, out), 0);
  EXPECT_NE(out.find("Usage: "), std::string::npos) << out;
}

} // namespace
