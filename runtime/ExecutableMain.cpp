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
#include "gptc/Runtime/Executor.h"
#include "gptc/Runtime/Generator.h"
#include "gptc/Runtime/Trainer.h"
#include "gptc/Support/CpuFeatures.h"
#include "gptc/Support/Diagnostics.h"
#include "gptc/Support/Error.h"
#include "gptc/Support/ReadFile.h"
#include "gptc/Support/TrainConfig.h"

#include "HalideRuntime.h"

#include <algorithm>
#include <cerrno>
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
extern const unsigned gptc_num_kernels;
extern const char gptc_model_description[];
extern const char gptc_default_tokenizer[];
}

using namespace gptc;

namespace {

void usage(std::ostream &os, const char *argv0) {
  os << "usage: " << argv0
     << " --weights W --prompt TEXT [generation options]\n"
     << "       " << argv0 << " --data FILE.txt [training options]\n"
     << "       " << argv0
     << " --eval --data FILE.txt --weights W.safetensors\n"
     << "       " << argv0
     << " --inputs IN.safetensors -o OUT.safetensors [options]\n\n"
     << gptc_model_description << R"(

Training (executables built with --task=train): tokenizes FILE with GPT-2's
BPE, splits it as the book does (train_ratio by characters), trains with
AdamW (warmup + cosine decay), evaluates, samples and checkpoints.
  --config FILE          training config (models/train/*.yaml): its
                         run-time keys; the flags below override them
  --data FILE            UTF-8 text to train on, or an llm.c token shard
                         (.bin, GPT-2 ids; split by tokens, not characters)
  --out DIR              log.jsonl, loss.svg, checkpoint (default: run)
  --checkpoint FILE      checkpoint path (default: DIR/checkpoint.safetensors)
  --checkpoint-interval N  also write it every N steps (and always at the
                         end, and on SIGINT/SIGTERM)
  --resume FILE          continue from a checkpoint (same data and settings)
  --stop-after N         stop after step N, checkpointing (resume later)
  --weights FILE         start from these weights instead of the model's
                         initializers: a gptc checkpoint, Hugging Face GPT-2
                         safetensors or llm.c's gpt2_*.bin
  --batch N --ctx N --stride N --epochs N --steps N (cap) --train-ratio X
  --lr X --initial-lr X --min-lr X --warmup N --weight-decay X --clip X
  --eval-interval N --eval-iters N --sample-interval N --sample-tokens N
  --prompt TEXT --seed N --tokenizer FILE --no-progress
  --eval                 loss and perplexity of --weights (or --resume) on
                         --data (every window of --ctx tokens)

Generation (any executable; --task=generate builds only what it needs):
continues each prompt with the book's generate loop, streaming the text.
  --weights FILE         the model's weights (required; formats as below)
  --prompt TEXT          a prompt (repeatable: the prompts form one batch,
                         of any lengths, printed when all are done)
  --prompt-file FILE     a prompt read from FILE
  --prompt-ids "1 2 3"   a prompt as GPT-2 token ids (repeatable)
  --max-new-tokens N     tokens to generate (default 50)
  --temperature X        0 (default) is greedy; > 0 samples from
                         softmax(logits / X)
  --top-k N              sample among the N most likely tokens (applied
                         before the temperature, as the book does)
  --top-p X              nucleus sampling: the most likely tokens up to
                         probability X
  --greedy               the argmax, whatever the other sampling flags
  --ignore-eos           keep going after <|endoftext|>
  --print-ids            also print the generated ids of each prompt
  --seed N               the sampling seed (prompt i of a batch: N + i)
  --no-kv-cache          recompute the whole window for every token
  --logits-out FILE      write the logits each token was sampled from
                         (safetensors, logits.I [tokens, V] per prompt)
With --task=generate, the prompts run through the KV-cached prefill and
decode steps the compiler derived; other executables recompute the last
context_length tokens for every token. Tokens/s of the prompts (prefill)
and of the new tokens (decode) go to stderr.

Run contract (tests): runs the model on the tensors of IN (parameters by
name, `tokens` I32[B,T], optional `targets`; for a training step also `lr`,
`step`, `weight_decay`, `clip_norm` and the AdamW moments) and writes
`logits`, `loss` when targets are given, and for a training step the
updated parameters, moments and gradients to OUT. --weights FILE (any
format above) supplies or replaces the parameters.

  --export-hf DIR --weights FILE   write the weights as a Hugging Face
                         model (DIR/model.safetensors, and DIR/config.json
                         from the model's `names hf` entries) that
                         transformers' from_pretrained loads
  --profile     print the time and GFLOP/s of every kernel (also after
                training)
  --repeat N    run N times; print the median and minimum time of the run
                (forward, loss or training step)
  --trace FILE  also write what every kernel call wrote, as FUNCTION.CALL.J
                (the call's J-th output; `gptc run --verify` reads it)

Both: --threads N (default: all cores), --seed S (dropout), -h/--help.
)";
}

/// The largest count a flag takes unless it says otherwise: sizes and step
/// counts beyond it only overflow the products made of them.
constexpr int64_t kMaxCount = std::numeric_limits<int32_t>::max();

int64_t parseCount(const std::string &flag, const char *v,
                   int64_t max = kMaxCount) {
  char *end = nullptr;
  errno = 0;
  long long x = std::strtoll(v, &end, 10);
  if (!*v || *end || x < 0 || errno == ERANGE)
    throw RuntimeError(flag + " expects a non-negative integer, got '" +
                       std::string(v) + "'");
  if (x > max)
    throw RuntimeError(flag + " expects an integer of at most " +
                       std::to_string(max) + ", got " + std::string(v));
  return x;
}

double parseNumber(const std::string &flag, const char *v) {
  char *end = nullptr;
  double x = std::strtod(v, &end);
  if (!*v || *end || !std::isfinite(x) || x < 0)
    throw RuntimeError(flag + " expects a non-negative number, got '" +
                       std::string(v) + "'");
  return x;
}

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
      options);
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
  std::vector<double> seconds;
  for (int64_t r = repeat > 1 ? -1 : 0; r < repeat; ++r) {
    bool collect = r == (repeat > 1 ? -1 : 0);
    auto start = std::chrono::steady_clock::now();
    auto results = exec.run(fn, in, inputs, step,
                            [collect](const std::string &) { return collect; });
    if (r >= 0)
      seconds.push_back(std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - start)
                            .count());
    if (collect)
      out.tensors = std::move(results);
  }
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
  if (options.profile)
    exec.printProfile(std::cerr);
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
  exportHuggingFace(
      dir,
      importWeights(weights, planParameters(plan, plan.functions.front().name),
                    hf),
      hf, plan.meta);
  std::cerr << "wrote " << dir << "/model.safetensors and " << dir
            << "/config.json\n";
  return 0;
}

/// The training config's run-time keys.
void applyTrainConfig(const std::string &path, TrainerOptions &t) {
  SourceManager sm;
  try {
    TrainConfig c = loadTrainConfig(sm, path);
    t.lr = c.lr;
    t.initialLr = c.initialLr;
    t.minLr = c.minLr;
    t.warmupSteps = c.warmupSteps;
    t.weightDecay = c.weightDecay;
    t.clipGradNorm = c.clipGradNorm;
    t.batchSize = c.batchSize;
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
  try {
    // The config first, so that flags override it wherever they are.
    for (int i = 1; i + 1 < argc; ++i)
      if (std::string(argv[i]) == "--config")
        applyTrainConfig(argv[i + 1], train);
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&]() -> const char * {
        if (i + 1 >= argc)
          throw RuntimeError(a + " needs a value");
        return argv[++i];
      };
      auto count = [&](int64_t max = kMaxCount) {
        return parseCount(a, value(), max);
      };
      auto number = [&]() { return parseNumber(a, value()); };
      if (a == "-h" || a == "--help") {
        usage(std::cout, argv[0]);
        return 0;
      } else if (a == "--inputs") {
        inputs = value();
      } else if (a == "-o") {
        output = value();
      } else if (a == "--trace") {
        trace = value();
      } else if (a == "--threads") {
        options.threads = static_cast<int>(count(1024));
      } else if (a == "--seed") {
        train.seed = count(std::numeric_limits<int64_t>::max());
        options.seed = static_cast<uint64_t>(train.seed);
      } else if (a == "--repeat") {
        repeat = std::max<int64_t>(1, count());
      } else if (a == "--profile") {
        options.profile = true;
      } else if (a == "--config") {
        value(); // read above
      } else if (a == "--data") {
        train.data = value();
      } else if (a == "--out") {
        train.outDir = value();
      } else if (a == "--checkpoint") {
        train.checkpoint = value();
      } else if (a == "--checkpoint-interval") {
        train.checkpointInterval = count();
      } else if (a == "--resume") {
        train.resume = value();
      } else if (a == "--weights") {
        train.initFrom = value();
      } else if (a == "--export-hf") {
        exportDir = value();
      } else if (a == "--prompt") {
        gen.prompts.push_back(value());
      } else if (a == "--prompt-file") {
        gen.prompts.push_back(
            readFileBounded(value(), kMaxSourceBytes, "the prompt file"));
      } else if (a == "--prompt-ids") {
        std::istringstream words(value());
        std::vector<uint32_t> ids;
        for (std::string w; words >> w;)
          ids.push_back(static_cast<uint32_t>(
              parseCount(a, w.c_str(), std::numeric_limits<uint32_t>::max())));
        gen.promptIds.push_back(ids);
      } else if (a == "--max-new-tokens") {
        gen.maxNewTokens = count();
      } else if (a == "--temperature") {
        gen.sampling.temperature = number();
      } else if (a == "--top-k") {
        gen.sampling.topK = count();
      } else if (a == "--top-p") {
        gen.sampling.topP = number();
        if (gen.sampling.topP <= 0 || gen.sampling.topP > 1)
          throw RuntimeError("--top-p expects a probability in (0, 1], got " +
                             std::string(argv[i]));
      } else if (a == "--greedy") {
        greedy = true;
      } else if (a == "--ignore-eos") {
        gen.stopAtEos = false;
      } else if (a == "--print-ids") {
        gen.printIds = true;
      } else if (a == "--no-kv-cache") {
        gen.kvCache = false;
      } else if (a == "--logits-out") {
        gen.logitsOut = value();
      } else if (a == "--eval") {
        train.evalOnly = true;
      } else if (a == "--tokenizer") {
        train.tokenizer = value();
      } else if (a == "--batch") {
        train.batchSize = count(1 << 20);
      } else if (a == "--ctx") {
        train.contextLength = count();
      } else if (a == "--stride") {
        train.stride = count();
      } else if (a == "--epochs") {
        train.epochs = count();
      } else if (a == "--steps") {
        train.maxSteps = count();
      } else if (a == "--train-ratio") {
        train.trainRatio = number();
      } else if (a == "--lr") {
        train.lr = number();
      } else if (a == "--initial-lr") {
        train.initialLr = number();
      } else if (a == "--min-lr") {
        train.minLr = number();
      } else if (a == "--warmup") {
        train.warmupSteps = count();
      } else if (a == "--weight-decay") {
        train.weightDecay = number();
      } else if (a == "--clip") {
        train.clipGradNorm = number();
      } else if (a == "--eval-interval") {
        train.evalInterval = count();
      } else if (a == "--eval-iters") {
        train.evalIters = count();
      } else if (a == "--sample-interval") {
        train.sampleInterval = count();
      } else if (a == "--sample-tokens") {
        train.sampleTokens = count();
      } else if (a == "--stop-after") {
        train.stopAfter = count();
      } else if (a == "--no-progress") {
        train.progress = false;
      } else {
        std::cerr << argv[0] << ": error: unknown argument '" << a
                  << "' (--help lists the options)\n";
        return 2;
      }
    }
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
        return 2;
      }
      return runContract(inputs, output, train.initFrom, options, repeat, trace,
                         argv[0]);
    }
    if (train.data.empty()) {
      usage(std::cerr, argv[0]);
      return 2;
    }
    if (train.trainRatio <= 0 || train.trainRatio >= 1)
      throw RuntimeError("--train-ratio must be between 0 and 1");
    // Dropout draws from the run's seed (config or flag).
    options.seed = static_cast<uint64_t>(train.seed);
    Executor exec = makeExecutor(options);
    int status = runTrainer(exec, train);
    if (options.profile)
      exec.printProfile(std::cerr);
    return status;
  } catch (const RuntimeError &e) {
    std::cerr << argv[0] << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error &e) {
    // A path that is not what it must be (a file for a folder, a folder
    // for a file, no permission): the message names the path and why.
    std::cerr << argv[0] << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc &) {
    std::cerr << argv[0] << ": error: out of memory (is a size in the flags "
              << "or the input too large?)\n";
    return 1;
  }
}
