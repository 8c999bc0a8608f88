//===- ExecutableMain.cpp - main() of the executables gptc builds --------===//
//
// `gptc build` links this with the generated kernels and a small generated
// file holding the plan text and the kernel table (`gptc_plan_text`,
// `gptc_kernel_entries`). Two modes: the trainer (Trainer.h) for people, and
// the run contract of docs/Architecture.md for tests and benchmarks, like `gptc
// run
// --interpret`: one safetensors file in, one out.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Checkpoint.h"
#include "gptc/Runtime/Distributed.h"
#include "gptc/Runtime/Executor.h"
#include "gptc/Runtime/Generator.h"
#include "gptc/Runtime/Trainer.h"
#include "gptc/Support/CpuFeatures.h"
#include "gptc/Support/Diagnostics.h"
#include "gptc/Support/Error.h"
#include "gptc/Support/Flags.h"
#include "gptc/Support/ReadFile.h"
#include "gptc/Support/TrainConfig.h"

#include "HalideRuntime.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>

extern "C" {
extern const char gptc_plan_text[];
extern const gptc::KernelEntry gptc_kernel_entries[];
extern const gptc::KernelPacker gptc_kernel_packers[];
extern const unsigned gptc_num_kernels;
extern const char gptc_model_description[];
extern const char gptc_default_tokenizer[];
extern const char gptc_default_weight_format[];
}

using namespace gptc;

namespace fs = std::filesystem;

namespace {

/// What each mode does, after the flags in --help.
const char *kModes =
    R"(Training (--data; executables built with --task=train): tokenizes the
file with GPT-2's BPE, splits it as the book does (train_ratio by
characters), trains with AdamW (warmup + cosine decay), evaluates, samples
and checkpoints. A classifier (a model whose loss takes class ids) trains
on labelled texts with accuracy per epoch; instruction records (.json)
train with the book's Alpaca prompts and collate, and the test part's
responses go to OUT/test-responses.json. Flags override the --config
file's keys wherever they are.

Generation (--prompt, --prompt-file or --prompt-ids without --data):
continues each prompt with the book's generate loop, streaming the text.
The prompts form one batch, of any lengths, printed when all are done.
With --task=generate, the prompts run through the KV-cached prefill and
decode steps the compiler derived; other executables recompute the last
context_length tokens for every token. Tokens/s of the prompts (prefill)
and of the new tokens (decode) go to stderr.

Run contract (--inputs and -o; tests): runs the model on the tensors of IN
(parameters by name, `tokens` I32[B,T], optional `targets`; for a training
step also `lr`, `step`, `weight_decay`, `clip_norm` and the AdamW moments)
and writes `logits`, `loss` when targets are given, and for a training step
the updated parameters, moments and gradients to OUT. --weights FILE
supplies or replaces the parameters.

Weights (--weights) are a gptc checkpoint, Hugging Face safetensors (a
file, or a model folder with model.safetensors or the shards its
model.safetensors.index.json lists; BF16 and F16 converted) or llm.c's
gpt2_*.bin. Exit status: 0 success, 1 an error in the data,
weights or config, 2 a usage error.)";

/// The largest count a flag takes unless it says otherwise: sizes and step
/// counts beyond it only overflow the products made of them.
constexpr int64_t kMaxCount = std::numeric_limits<int32_t>::max();

/// Host memory behind the Device interface: with GPTC_DEVICE=host, CPU
/// executables take the executor's device path (separate buffers, copies in
/// and out, inputs kept between runs, training state fed back, in-place
/// cache writes), so tests check that path on machines without a GPU.
class HostMemoryDevice : public Device {
public:
  std::string name() const override { return "host"; }
  void *allocate(int64_t bytes, const std::string &what) override {
    // 256-byte aligned, as cudaMalloc's memory is.
    size_t size = (static_cast<size_t>(bytes) + 255) / 256 * 256;
    void *p = std::aligned_alloc(256, size);
    if (!p)
      throw RuntimeError("out of memory: " + what);
    return p;
  }
  void release(void *p) override { std::free(p); }
  void upload(void *dst, const void *src, int64_t bytes) override {
    std::memcpy(dst, src, static_cast<size_t>(bytes));
  }
  void download(void *dst, const void *src, int64_t bytes) override {
    std::memcpy(dst, src, static_cast<size_t>(bytes));
  }
  void copy(void *dst, const void *src, int64_t bytes) override {
    std::memcpy(dst, src, static_cast<size_t>(bytes));
  }
  void bind(halide_buffer_t &b, void *p) override {
    b.host = static_cast<uint8_t *>(p);
  }
  void unbind(halide_buffer_t &) override {}
  void synchronize() override {}
};

Executor makeExecutor(ExecutorOptions options) {
  Plan plan = Plan::parse(gptc_plan_text);
  // Kernels built for another CPU would die with SIGILL on the first call.
  // GPTC_CPU_FEATURES (space-separated) stands in for this CPU's features,
  // to check where a build would run.
  std::vector<std::string> have = hostCpuFeatures();
  if (const char *pretend = std::getenv("GPTC_CPU_FEATURES")) {
    have.clear();
    std::istringstream words(pretend);
    for (std::string f; words >> f;)
      have.push_back(f);
  }
  std::vector<std::string> missing = missingCpuFeatures(plan.cpuFeatures, have);
  if (std::find(missing.begin(), missing.end(), "avx512bf16") != missing.end())
    throw RuntimeError(
        "this executable trains with bf16 matmuls (the training config's "
        "precision: bf16), which need AVX512-BF16 dot products; this CPU "
        "has none. Build it with precision: f32 to train here");
  if (!missing.empty()) {
    std::string names;
    for (const std::string &f : missing)
      names += (names.empty() ? "" : ", ") + f;
    throw RuntimeError("this executable's kernels use " + names +
                       ", which this CPU does not have; rebuild it here, or "
                       "with gptc build --target=cpu-avx2 to run on any "
                       "x86-64 CPU with AVX2");
  }
  const char *device = std::getenv("GPTC_DEVICE");
  if (plan.target == "cpu" && device && std::string(device) == "host")
    options.device = std::make_shared<HostMemoryDevice>();
  if (plan.target == "cuda") {
    if (!gptc_make_cuda_device)
      throw RuntimeError("this executable was built for CUDA without the "
                         "CUDA runtime library");
    options.device.reset(gptc_make_cuda_device());
  }
  return Executor(
      std::move(plan),
      std::vector<KernelEntry>(gptc_kernel_entries,
                               gptc_kernel_entries + gptc_num_kernels),
      options,
      std::vector<KernelPacker>(gptc_kernel_packers,
                                gptc_kernel_packers + gptc_num_kernels));
}

/// The run contract: one safetensors file in, one out; parameters from
/// `weights` (any format Checkpoint.h reads) when given.
int runContract(const std::string &inputs, const std::string &output,
                const std::string &weights, ExecutorOptions options,
                int64_t repeat, const std::string &trace, const char *argv0) {
  SafetensorsFile in = readSafetensors(inputs);
  SafetensorsFile traced;
  if (!trace.empty())
    options.trace = [&traced](const std::string &fn, size_t call,
                              std::vector<TensorData> written) {
      for (size_t j = 0; j < written.size(); ++j)
        traced.tensors[fn + "." + std::to_string(call) + "." +
                       std::to_string(j)] = std::move(written[j]);
    };
  Executor exec = makeExecutor(options);
  if (!weights.empty()) {
    const Plan &plan = exec.getPlan();
    for (auto &[name, t] : importWeights(
             weights, planParameters(plan, plan.functions.front().name),
             hfNames(plan)))
      in.tensors[name] = std::move(t);
  }
  std::string fn = "forward";
  uint64_t step = 0;
  if (in.find("targets"))
    fn = in.find("lr") ? "train_step" : "loss";
  if (fn == "train_step") {
    const TensorData *s = in.find("step");
    if (!s || s->numel() != 1 || s->toDoubles()[0] < 1)
      throw RuntimeError(inputs + ": a training step needs 'step', the "
                                  "1-based number of this step (a scalar)");
    step = static_cast<uint64_t>(s->toDoubles()[0]);
  }
  if (!exec.has(fn))
    throw RuntimeError("this executable was built without '" + fn +
                       "' (build with --task=train for training steps)");
  // The inputs do not change between the runs: on a GPU they are copied
  // there once, so --repeat times the computation, as on the CPU.
  exec.keepOnDevice([](const std::string &) { return true; });
  SafetensorsFile out;
  out.metadata["producer"] = argv0;
  // Timing runs first (outputs not copied), then the run that is kept.
  // With --repeat, one warm-up run (page faults, caches) is not counted;
  // it also collects the outputs (every run computes the same), so timed
  // runs copy nothing out.
  // A training step writes its new weights and moments over the old, as
  // a trainer's would (Executor::donateInputs); each run starts from a
  // copy of what it overwrites, and so does the forward run below.
  std::map<std::string, std::vector<uint8_t>> overwritten;
  if (!exec.onDevice()) {
    exec.donateInputs(true);
    for (auto &[output, name] : exec.donatable(fn))
      if (const TensorData *t = in.find(name))
        overwritten[name] = t->bytes;
  }
  auto restore = [&] {
    for (auto &[name, bytes] : overwritten)
      in.tensors[name].bytes = bytes;
  };
  std::vector<double> seconds;
  for (int64_t r = repeat > 1 ? -1 : 0; r < repeat; ++r) {
    bool collect = r == (repeat > 1 ? -1 : 0);
    if (!collect)
      restore();
    auto start = std::chrono::steady_clock::now();
    auto results = exec.run(fn, in, inputs, step,
                            [collect](const std::string &) { return collect; });
    if (r >= 0)
      seconds.push_back(std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - start)
                            .count());
    if (collect)
      out.tensors = std::move(results);
    if (r < 0)
      exec.resetProfile();
  }
  // The profile of the timed runs, before the forward run below adds to it.
  std::ostringstream profile;
  if (options.profile)
    exec.printProfile(profile);
  restore();
  exec.donateInputs(false);
  if (fn != "forward")
    for (auto &[name, t] : exec.run("forward", in, inputs))
      out.tensors[name] = std::move(t);
  if (repeat > 1 || options.profile) {
    std::sort(seconds.begin(), seconds.end());
    std::cerr << fn << ": " << std::fixed << std::setprecision(1)
              << seconds[seconds.size() / 2] * 1e3 << " ms median, "
              << seconds.front() * 1e3 << " ms min over " << seconds.size()
              << " runs" << (repeat > 1 ? " after a warm-up run" : "") << "\n";
  }
  writeSafetensors(output, out);
  if (!trace.empty()) {
    traced.metadata["producer"] = argv0;
    writeSafetensors(trace, traced);
  }
  std::cerr << profile.str();
  return 0;
}

/// Writes `weights` (any format) as a Hugging Face model directory.
int exportHf(const std::string &dir, const std::string &weights) {
  if (weights.empty())
    throw RuntimeError("--export-hf needs --weights FILE (a checkpoint)");
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) &&
      !std::filesystem::is_directory(dir, ec))
    throw RuntimeError("--export-hf " + dir +
                       " is a file; give a folder for model.safetensors and "
                       "config.json");
  Plan plan = Plan::parse(gptc_plan_text);
  NameMap hf = hfNames(plan);
  std::map<std::string, TensorData> w = importWeights(
      weights, planParameters(plan, plan.functions.front().name), hf);
  // Adapters (LoRA) export folded into the weights they adapt.
  int merged = mergeAdapters(w, plan.merges);
  exportHuggingFace(dir, w, hf, plan.meta);
  std::cerr << "wrote " << dir << "/model.safetensors and " << dir
            << "/config.json";
  if (merged)
    std::cerr << " (" << merged << " adapters merged into their weights)";
  std::cerr << "\n";
  return 0;
}

/// Reports an error and returns the exit status; under mpirun, names the
/// rank and ends every rank (the others may be waiting for this one).
int fail(const char *argv0, const std::string &what) {
  std::string rank;
  if (Communicator::joined())
    rank = " (" + Communicator::world().name() + ")";
  std::cerr << argv0 << rank << ": error: " << what << "\n";
  if (Communicator::joined())
    Communicator::world().abort(1);
  return 1;
}

/// The training config's run-time keys. `precision` is fixed when the
/// executable is built (`precision`): a config that names another is an
/// error rather than silently training otherwise.
void applyTrainConfig(const std::string &path, const std::string &precision,
                      TrainerOptions &t) {
  SourceManager sm;
  try {
    TrainConfig c = loadTrainConfig(sm, path);
    if (c.precision != precision && c.precisionLoc.isValid())
      throw CompileError(c.precisionLoc,
                         "training key 'precision' is fixed when the "
                         "executable is built, and this one trains in " +
                             precision +
                             "; rebuild it with gptc build --train-config "
                             "naming this file");
    t.lr = c.lr;
    t.initialLr = c.initialLr;
    t.minLr = c.minLr;
    t.warmupSteps = c.warmupSteps;
    t.weightDecay = c.weightDecay;
    t.clipGradNorm = c.clipGradNorm;
    t.batchSize = c.batchSize;
    t.microBatchSize = c.microBatchSize;
    t.contextLength = c.contextLength;
    t.stride = c.stride;
    t.epochs = c.epochs;
    t.maxSteps = c.maxSteps;
    t.trainRatio = c.trainRatio;
    t.evalInterval = c.evalInterval;
    t.evalIters = c.evalIters;
    t.checkpointInterval = c.checkpointInterval;
    t.sampleInterval = c.sampleInterval;
    t.samplePrompt = c.samplePrompt;
    t.seed = c.seed;
    t.split = c.split;
    t.balance = c.balance;
    t.classes = c.classes;
    t.maskInstruction = c.maskInstruction;
    t.responseTokens = c.responseTokens;
  } catch (const CompileError &e) {
    std::ostringstream os;
    printDiagnostic(os, e.diag);
    throw RuntimeError("in the training config:\n" + os.str());
  }
}

} // namespace

int main(int argc, char **argv) {
  std::string inputs, output, trace;
  ExecutorOptions options;
  TrainerOptions train;
  if (const char *dir = std::getenv("GPTC_DATA_DIR"))
    train.tokenizer = std::string(dir) + "/gpt2.tiktoken";
  else
    train.tokenizer = gptc_default_tokenizer;
  int64_t repeat = 1;
  std::string exportDir;
  GeneratorOptions gen;
  bool greedy = false;
  std::string weightFormat = gptc_default_weight_format;

  CLI::App app(std::string(gptc_model_description) +
                   "\n\nModes: train (--data), generate (--prompt), evaluate "
                   "(--eval --data --weights), export (--export-hf), the run "
                   "contract (--inputs -o).",
               fs::path(argv[0]).filename().string());
  app.footer(kModes);
  wrapHelp(app, 30);
  // A flag given twice takes its last value; repeatable flags say so.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  auto count = [](int64_t max = kMaxCount) { return integerIn(0, max); };
  const double inf = std::numeric_limits<double>::infinity();
  auto nonNegative = numberIn(0, inf);
  auto repeatable = [](CLI::Option *o) {
    return o->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->trigger_on_parse();
  };

  // Declared first: its keys are applied before any other flag's value.
  app.add_option_function<std::string>(
         "--config",
         [&](const std::string &path) {
           applyTrainConfig(path, Plan::parse(gptc_plan_text).precision, train);
         },
         "training config (models/train/*.yaml): its run-time keys")
      ->type_name("FILE")
      ->group("Training");
  // One adder per group of flags, in --help's order.
  auto group = [&app](std::string name) {
    return [&app, name](const std::string &flag, auto &value,
                        const std::string &help) {
      return app.add_option(flag, value, help)
          ->group(name)
          ->capture_default_str();
    };
  };
  auto training = group("Training");
  auto generation = group("Generation");
  auto contract = group("Run contract");
  auto common = group("All modes");
  training("--data", train.data,
           "UTF-8 text to train on, or an llm.c token shard (.bin, GPT-2 "
           "ids; split by tokens, not characters); for a classifier, "
           "labelled texts (label<TAB>text, or .csv); instruction records "
           "(.json: instruction, input, output)")
      ->type_name("FILE");
  training("--out", train.outDir, "log.jsonl, loss.svg and the checkpoint")
      ->type_name("DIR");
  training("--checkpoint", train.checkpoint,
           "checkpoint path (default: DIR/checkpoint.safetensors)")
      ->type_name("FILE");
  training("--checkpoint-interval", train.checkpointInterval,
           "also checkpoint every N steps (always at the end and on "
           "SIGINT/SIGTERM; 0: never)")
      ->type_name("N")
      ->check(count());
  training("--init-from", train.initMatching,
           "start from the tensors of FILE that match by name and shape "
           "(a pretrained model for a new head, say); the other parameters "
           "from their initializers, listed with the tensors left unused")
      ->type_name("FILE");
  training("--resume", train.resume,
           "continue from a checkpoint (same data and settings; --steps "
           "and --epochs may grow)")
      ->type_name("FILE");
  training("--stop-after", train.stopAfter,
           "stop after step N, checkpointing (resume later)")
      ->type_name("N")
      ->check(count());
  training("--batch", train.batchSize,
           "sequences per step (the global batch, over every rank)")
      ->type_name("N")
      ->check(count(1 << 20));
  training("--micro-batch", train.microBatchSize,
           "sequences per forward and backward on one rank; steps sum "
           "the gradients of several (default: the rank's whole share)")
      ->type_name("N")
      ->check(count(1 << 20));
  training("--ctx", train.contextLength, "tokens per sequence")
      ->type_name("N")
      ->check(count());
  training("--stride", train.stride, "tokens between window starts")
      ->type_name("N")
      ->check(count());
  training("--epochs", train.epochs, "passes over the training split")
      ->type_name("N")
      ->check(count());
  training("--steps", train.maxSteps, "at most N steps (0: no cap)")
      ->type_name("N")
      ->check(count());
  training("--train-ratio", train.trainRatio,
           "share of the text to train on; the rest validates")
      ->type_name("X")
      ->check(numberIn(0, 1, true, true));
  training("--lr", train.lr, "peak learning rate")
      ->type_name("X")
      ->check(nonNegative);
  training("--initial-lr", train.initialLr, "learning rate at step 0")
      ->type_name("X")
      ->check(nonNegative);
  training("--min-lr", train.minLr, "learning rate at the end of the decay")
      ->type_name("X")
      ->check(nonNegative);
  training("--warmup", train.warmupSteps, "linear warmup steps")
      ->type_name("N")
      ->check(count());
  training("--weight-decay", train.weightDecay, "AdamW weight decay")
      ->type_name("X")
      ->check(nonNegative);
  training("--clip", train.clipGradNorm, "gradient norm clip (0: none)")
      ->type_name("X")
      ->check(nonNegative);
  training("--eval-interval", train.evalInterval, "evaluate every N steps")
      ->type_name("N")
      ->check(count());
  training("--eval-iters", train.evalIters, "batches per evaluation")
      ->type_name("N")
      ->check(count());
  training("--sample-interval", train.sampleInterval,
           "print a sample every N steps (0: at the end)")
      ->type_name("N")
      ->check(count());
  training("--sample-tokens", train.sampleTokens, "tokens per sample")
      ->type_name("N")
      ->check(count());
  app.add_flag("--eval", train.evalOnly,
               "loss and perplexity of --weights (or --resume) on --data, "
               "every window of --ctx tokens (a classifier: loss and "
               "accuracy over every text)")
      ->group("Training");
  app.add_flag("--mask-instruction", train.maskInstruction,
               "instruction data: no loss on the prompt's tokens")
      ->group("Training");
  repeatable(
      app.add_option_function<std::string>(
          "--classify",
          [&](const std::string &t) { train.classifyTexts.push_back(t); },
          "a classifier's class of TEXT with --weights, printed as "
          "class, probability and text (repeatable)"))
      ->type_name("TEXT")
      ->group("Training");
  app.add_flag_callback(
         "--no-progress", [&] { train.progress = false; },
         "no progress line on a terminal")
      ->group("Training");

  repeatable(app.add_option_function<std::string>(
                 "--prompt",
                 [&](const std::string &p) { gen.prompts.push_back(p); },
                 "a prompt (repeatable: the prompts form one batch); "
                 "with --data, the training's sample prompt"))
      ->type_name("TEXT")
      ->group("Generation");
  repeatable(app.add_option_function<std::string>(
                 "--prompt-file",
                 [&](const std::string &path) {
                   gen.prompts.push_back(readFileBounded(path, kMaxSourceBytes,
                                                         "the prompt file"));
                 },
                 "a prompt read from FILE (repeatable)"))
      ->type_name("FILE")
      ->group("Generation");
  repeatable(app.add_option_function<std::string>(
                 "--prompt-ids",
                 [&](const std::string &text) {
                   std::istringstream words(text);
                   std::vector<uint32_t> ids;
                   CLI::Validator id = integerIn(0, 0xFFFFFFFFll);
                   for (std::string w; words >> w;) {
                     std::string why = id(w);
                     if (!why.empty())
                       throw CLI::ValidationError(
                           "--prompt-ids",
                           "token " + std::to_string(ids.size()) + " " + why);
                     ids.push_back(static_cast<uint32_t>(std::stoull(w)));
                   }
                   gen.promptIds.push_back(ids);
                 },
                 "a prompt as token ids, \"1 2 3\" (repeatable)"))
      ->type_name("IDS")
      ->group("Generation");
  generation("--max-new-tokens", gen.maxNewTokens, "tokens to generate")
      ->type_name("N")
      ->check(count());
  generation("--temperature", gen.sampling.temperature,
             "0 is greedy; > 0 samples from softmax(logits / X)")
      ->type_name("X")
      ->check(nonNegative);
  generation("--top-k", gen.sampling.topK,
             "sample among the N most likely tokens (before the "
             "temperature, as the book does; 0: all)")
      ->type_name("N")
      ->check(count());
  generation("--top-p", gen.sampling.topP,
             "nucleus sampling: the most likely tokens up to probability X")
      ->type_name("X")
      ->check(numberIn(0, 1, true));
  app.add_flag("--greedy", greedy, "the argmax, whatever the sampling flags")
      ->group("Generation");
  app.add_flag_callback(
         "--ignore-eos", [&] { gen.stopAtEos = false; },
         "keep going after <|endoftext|>")
      ->group("Generation");
  app.add_flag("--print-ids", gen.printIds,
               "also print the generated ids of each prompt")
      ->group("Generation");
  CLI::Option *weightFormatFlag =
      generation("--weight-format", weightFormat,
                 "how the matmuls hold the weights when generating or with "
                 "--eval: f32; bf16 (rounded to "
                 "nearest even: half the bytes read per token); int8 (a bf16 "
                 "scale per 32 weights, as llama.cpp's Q8_0: 1.0625 bytes a "
                 "weight)");
  weightFormatFlag->type_name("F")->check(
      CLI::IsMember({"f32", "bf16", "int8"}));
  app.add_flag_callback(
         "--no-kv-cache", [&] { gen.kvCache = false; },
         "recompute the whole window for every token")
      ->group("Generation");
  generation("--logits-out", gen.logitsOut,
             "write the logits each token was sampled from (safetensors, "
             "logits.I [tokens, V] per prompt)")
      ->type_name("FILE");

  contract("--inputs", inputs, "input tensors (safetensors)")->type_name("IN");
  contract("-o", output, "output tensors (safetensors)")->type_name("OUT");
  contract("--repeat", repeat, "run N times; print the median and minimum time")
      ->type_name("N")
      ->check(count());
  contract("--trace", trace,
           "also write what every kernel call wrote, as FUNCTION.CALL.J "
           "(gptc run --verify reads it)")
      ->type_name("FILE");
  contract("--export-hf", exportDir,
           "write --weights as a Hugging Face model folder "
           "(model.safetensors, and config.json from the model's `names "
           "hf` entries)")
      ->type_name("DIR");

  common("--weights", train.initFrom,
         "the model's weights (a file, or a Hugging Face folder: "
         "model.safetensors or its shards): for generation and --eval "
         "(required), the run contract, or to start training from")
      ->type_name("FILE");
  CLI::Option *tokenizerFlag =
      common("--tokenizer", train.tokenizer,
             "gpt2.tiktoken, encoder.json or a Hugging Face tokenizer.json "
             "(default with --weights FOLDER: FOLDER/tokenizer.json)")
          ->type_name("FILE");
  common("--seed", train.seed, "sampling and dropout seed")
      ->type_name("N")
      ->check(count(std::numeric_limits<int64_t>::max()));
  common("--threads", options.threads, "worker threads (0: all cores)")
      ->type_name("N")
      ->check(count(1024));
  app.add_flag("--profile", options.profile,
               "print the time and GFLOP/s of every kernel")
      ->group("All modes");

  try {
    if (std::optional<int> status = parseFlags(app, argc, argv))
      return *status;
    options.seed = static_cast<uint64_t>(train.seed);
    repeat = std::max<int64_t>(1, repeat);
    for (WeightFormat f :
         {WeightFormat::F32, WeightFormat::BF16, WeightFormat::Int8})
      if (weightFormat == weightFormatName(f))
        train.weightFormat = f;
    if (weightFormatFlag->count() && train.weightFormat != WeightFormat::F32 &&
        !train.evalOnly && !train.data.empty())
      throw RuntimeError(
          "--weight-format is for generating and --eval; training keeps "
          "fp32 weights");
    // Under mpirun, join the job first: every later error names the rank.
    Communicator::world();
    // A Hugging Face folder brings its tokenizer.
    std::error_code ec;
    if (!tokenizerFlag->count() && fs::is_directory(train.initFrom, ec) &&
        fs::exists(fs::path(train.initFrom) / "tokenizer.json", ec))
      train.tokenizer = (fs::path(train.initFrom) / "tokenizer.json").string();
    if (!trace.empty() && inputs.empty())
      throw RuntimeError("--trace is for the run contract (--inputs and -o)");
    if (!exportDir.empty())
      return exportHf(exportDir, train.initFrom);
    // With --data, --prompt is the training's sample prompt; without, the
    // prompts to generate from.
    if (!train.data.empty() && !gen.prompts.empty()) {
      if (gen.prompts.size() > 1 || !gen.promptIds.empty())
        throw RuntimeError("training samples from one --prompt; give "
                           "several prompts to a generation run (without "
                           "--data)");
      train.samplePrompt = gen.prompts.front();
      gen.prompts.clear();
    }
    if (!gen.prompts.empty() || !gen.promptIds.empty()) {
      if (greedy)
        gen.sampling = SamplingOptions();
      gen.weightFormat = train.weightFormat;
      gen.weights = train.initFrom;
      gen.seed = static_cast<uint64_t>(train.seed);
      gen.tokenizer = train.tokenizer;
      Executor exec = makeExecutor(options);
      int rc = runGenerator(exec, gen);
      if (options.profile)
        exec.printProfile(std::cerr);
      return rc;
    }
    if (!inputs.empty() || !output.empty()) {
      if (inputs.empty() || output.empty()) {
        std::cerr << argv[0] << ": error: the run contract needs both "
                  << "--inputs and -o\n";
        return kExitUsage;
      }
      return runContract(inputs, output, train.initFrom, options, repeat, trace,
                         argv[0]);
    }
    if (train.data.empty() && train.classifyTexts.empty()) {
      std::cerr << app.help();
      return kExitUsage;
    }
    Executor exec = makeExecutor(options);
    int status = runTrainer(exec, train);
    if (options.profile)
      exec.printProfile(std::cerr);
    return status;
  } catch (const RuntimeError &e) {
    return fail(argv[0], e.what());
  } catch (const std::filesystem::filesystem_error &e) {
    // A path that is not what it must be (a file for a folder, a folder
    // for a file, no permission): the message names the path and why.
    return fail(argv[0], e.what());
  } catch (const std::bad_alloc &) {
    return fail(argv[0], "out of memory (is a size in the flags or the input "
                         "too large?)");
  }
}
