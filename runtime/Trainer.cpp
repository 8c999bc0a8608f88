//===- Trainer.cpp - The pretraining driver of built executables ----------===//
//
// One step:
//  1. The step's batch: epoch = (step-1) / batches per epoch, shuffled with
//     seed + epoch (DataLoader.h), so a step number fixes the data.
//  2. The learning rate: linear warmup from initial_lr to lr, then cosine
//     decay to min_lr (the book's appendix D); clipping starts after the
//     warmup, as there.
//  3. The compiled train_step: parameters and AdamW moments in, updated
//     ones out; dropout masks keyed by (seed, step).
// Everything a later step depends on (parameters, moments, step) is in the
// checkpoint, so a resumed run repeats the uninterrupted one bit for bit.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Trainer.h"
#include "gptc/Runtime/Checkpoint.h"
#include "gptc/Runtime/DataLoader.h"
#include "gptc/Runtime/Generator.h"
#include "gptc/Runtime/Tokenizer.h"
#include "gptc/Support/AtomicFile.h"
#include "gptc/Support/Error.h"
#include "gptc/Support/Json.h"
#include "gptc/Support/ReadFile.h"
#include "gptc/Support/Utf8.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace gptc {

namespace {

volatile std::sig_atomic_t stopRequested = 0;

void onSignal(int) { stopRequested = 1; }

std::string readText(const std::string &path) {
  std::string text = readFileBounded(path, kMaxTextBytes, "the data file");
  if (text.empty())
    throw RuntimeError("the data file '" + path + "' is empty");
  if (size_t bad = findInvalidUtf8(text); bad != std::string::npos)
    throw RuntimeError(
        "the data file '" + path + "' is not UTF-8: invalid byte at offset " +
        std::to_string(bad) + " (line " +
        std::to_string(1 + std::count(text.begin(), text.begin() + bad, '\n')) +
        "); convert it, or write a token shard with gptc tokenize --lossy");
  return text;
}

TensorData scalar(double v) {
  TensorData t;
  t.dtype = DType::F32;
  float f = static_cast<float>(v);
  t.bytes.resize(4);
  std::memcpy(t.bytes.data(), &f, 4);
  return t;
}

TensorData ids(int64_t rows, int64_t cols, const std::vector<int32_t> &v) {
  TensorData t;
  t.dtype = DType::I32;
  t.shape = {rows, cols};
  t.bytes.resize(rows * cols * 4);
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

float scalarOf(const TensorData &t) {
  float f;
  std::memcpy(&f, t.bytes.data(), 4);
  return f;
}

bool allFinite(const TensorData &t) {
  const float *p = reinterpret_cast<const float *>(t.bytes.data());
  for (size_t i = 0; i < t.bytes.size() / 4; ++i)
    if (!std::isfinite(p[i]))
      return false;
  return true;
}

std::string duration(double seconds) {
  int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60),
                static_cast<long long>(s % 60));
  return buf;
}

struct EvalPoint {
  int64_t step, tokens;
  double train, val;
};

/// A loss-curve plot: training loss per step and the evaluated train and
/// validation losses, over steps (bottom axis) and tokens seen (top).
void writePlot(const std::string &path, const std::vector<double> &stepLoss,
               const std::vector<EvalPoint> &evals, int64_t tokensPerStep) {
  const double W = 720, H = 420, L = 70, R = 20, T = 50, B = 60;
  double ymax = 0, ymin = 1e30;
  for (double l : stepLoss)
    if (std::isfinite(l)) {
      ymax = std::max(ymax, l);
      ymin = std::min(ymin, l);
    }
  for (const EvalPoint &e : evals) {
    ymax = std::max({ymax, e.train, e.val});
    ymin = std::min({ymin, e.train, e.val});
  }
  if (!(ymin < ymax)) {
    ymin = 0;
    ymax = std::max(1.0, ymax);
  }
  double xmax = std::max<double>(1, stepLoss.size());
  auto X = [&](double step) { return L + (W - L - R) * step / xmax; };
  auto Y = [&](double loss) {
    return T + (H - T - B) * (ymax - loss) / (ymax - ymin);
  };
  std::ostringstream os;
  os << std::fixed << std::setprecision(1)
     << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W
     << "\" height=\"" << H << "\" font-family=\"sans-serif\" "
     << "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
     << "fill=\"white\"/>\n";
  os << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R
     << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n<line x1=\"" << L
     << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B
     << "\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 5; ++i) {
    double step = xmax * i / 5, loss = ymin + (ymax - ymin) * i / 5;
    os << "<text x=\"" << X(step) << "\" y=\"" << H - B + 18
       << "\" text-anchor=\"middle\">" << static_cast<int64_t>(step)
       << "</text>\n<text x=\"" << X(step) << "\" y=\"" << T - 8
       << "\" text-anchor=\"middle\" fill=\"gray\">"
       << static_cast<int64_t>(step * tokensPerStep) << "</text>\n<text x=\""
       << L - 6 << "\" y=\"" << Y(loss) + 4 << "\" text-anchor=\"end\">"
       << std::setprecision(2) << loss << std::setprecision(1)
       << "</text>\n<line x1=\"" << L << "\" y1=\"" << Y(loss) << "\" x2=\""
       << W - R << "\" y2=\"" << Y(loss) << "\" stroke=\"#eee\"/>\n";
  }
  os << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 20
     << "\" text-anchor=\"middle\">step</text>\n<text x=\"" << (L + W - R) / 2
     << "\" y=\"" << 16 << "\" text-anchor=\"middle\" fill=\"gray\">tokens "
     << "seen</text>\n<text x=\"16\" y=\"" << (T + H - B) / 2
     << "\" transform=\"rotate(-90 16 " << (T + H - B) / 2
     << ")\" text-anchor=\"middle\">loss</text>\n";
  auto polyline = [&](const std::vector<std::pair<double, double>> &pts,
                      const char *color, double width) {
    os << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\""
       << width << "\" points=\"";
    for (auto &[x, y] : pts)
      if (std::isfinite(y))
        os << X(x) << "," << Y(y) << " ";
    os << "\"/>\n";
  };
  std::vector<std::pair<double, double>> raw, train, val;
  for (size_t i = 0; i < stepLoss.size(); ++i)
    raw.push_back({static_cast<double>(i + 1), stepLoss[i]});
  for (const EvalPoint &e : evals) {
    train.push_back({static_cast<double>(e.step), e.train});
    val.push_back({static_cast<double>(e.step), e.val});
  }
  polyline(raw, "#9ecae1", 1);
  polyline(train, "#08519c", 2);
  polyline(val, "#e6550d", 2);
  os << "<text x=\"" << W - R - 170 << "\" y=\"" << T + 16
     << "\" fill=\"#08519c\">training loss (eval)</text>\n<text x=\""
     << W - R - 170 << "\" y=\"" << T + 32
     << "\" fill=\"#e6550d\">validation loss</text>\n<text x=\"" << W - R - 170
     << "\" y=\"" << T + 48 << "\" fill=\"#9ecae1\">training loss (step)"
     << "</text>\n</svg>\n";
  writeFileAtomically(path, os.str());
}

/// Keeps the log records of steps up to `step`, the checkpoint a run resumes
/// from: later ones are redone by the resumed run, and a line cut by a kill
/// (no newline) is dropped, so the log parses and has each step once.
void repairLog(const std::string &path, int64_t step) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return;
  std::string kept, line;
  while (std::getline(in, line)) {
    if (in.eof())
      break; // the last line had no newline: cut by a kill
    Json r = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (r.is_object() && r.contains("step") && r["step"].is_number_integer() &&
        r["step"].get<int64_t>() <= step)
      kept += line + "\n";
  }
  writeFileAtomically(path, kept);
}

/// Fails before any step unless the run can keep what it makes: `dir`
/// is (or becomes) a folder that takes new files, and `checkpoint` names a
/// file in such a folder. A write probe catches read-only mounts, which
/// permission bits do not show to root.
void checkWritable(const std::string &dir, const std::string &checkpoint) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw RuntimeError("--out " + dir + " is a file, not a folder");
  fs::create_directories(dir, ec);
  if (ec)
    throw RuntimeError("cannot create the output folder " + dir + ": " +
                       ec.message());
  if (fs::is_directory(checkpoint, ec))
    throw RuntimeError("--checkpoint " + checkpoint +
                       " is a folder; give the checkpoint's file name");
  fs::path ckptDir = fs::path(checkpoint).parent_path();
  for (const fs::path &d : {fs::path(dir), ckptDir.empty() ? "." : ckptDir}) {
    std::string probe =
        (d / (".gptc-write-test." + std::to_string(getpid()))).string();
    std::FILE *f = std::fopen(probe.c_str(), "w");
    bool ok = f && std::fputc('x', f) != EOF;
    ok = f && std::fclose(f) == 0 && ok;
    int err = errno;
    std::remove(probe.c_str());
    if (!ok)
      throw RuntimeError("cannot write in " + d.string() + ": " +
                         std::strerror(err) +
                         " (the run would keep nothing; choose another "
                         "--out or --checkpoint)");
  }
}

class Trainer {
public:
  Trainer(Executor &exec, const Plan &plan, const TrainerOptions &o)
      : exec(exec), plan(plan), o(o) {}
  int run();

private:
  void initState();
  /// Parameters only (any format Checkpoint.h reads), or with moments and
  /// step from a gptc checkpoint to resume.
  void loadWeights(const std::string &path, bool withMoments);
  /// --init-from: the tensors of o.initMatching that fit, over initState's.
  void initMatching();
  double learningRate(int64_t step) const;
  double meanLoss(const DataLoader &loader, int64_t batches);
  std::string sample();
  void saveCheckpoint(const std::string &path, int64_t step);
  std::string settings() const;

  Executor &exec;
  const Plan &plan;
  TrainerOptions o;
  std::optional<Tokenizer> tok;
  std::vector<ParamSpec> params;
  SafetensorsFile state;
  int64_t totalSteps = 0, startStep = 0, contextLimit = 0;
  bool samples = true; ///< Whether @forward gives next-token logits.
};

double Trainer::learningRate(int64_t step) const {
  if (step <= o.warmupSteps && o.warmupSteps > 0) {
    double start = o.initialLr > 0 ? o.initialLr : o.lr;
    return start + (o.lr - start) * static_cast<double>(step) / o.warmupSteps;
  }
  if (o.minLr <= 0 || totalSteps <= o.warmupSteps)
    return o.lr;
  double progress = static_cast<double>(step - o.warmupSteps) /
                    static_cast<double>(totalSteps - o.warmupSteps);
  return o.minLr + (o.lr - o.minLr) * 0.5 * (1 + std::cos(M_PI * progress));
}

void Trainer::initState() {
  std::mt19937_64 rng(static_cast<uint64_t>(o.seed));
  for (auto &[name, shape] : params) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    const PlanInit *init = nullptr;
    for (const PlanInit &i : plan.inits)
      if (i.param == name)
        init = &i;
    std::vector<double> v(n, init && init->kind == "ones" ? 1.0 : 0.0);
    if (init && init->kind == "normal") {
      std::normal_distribution<double> normal(0.0, init->std);
      for (double &x : v)
        x = normal(rng);
    }
    state.tensors[name] = TensorData::fromDoubles(DType::F32, shape, v);
  }
}

void Trainer::initMatching() {
  MatchedWeights m =
      importMatchingWeights(o.initMatching, params, hfNames(plan));
  for (auto &[name, t] : m.tensors)
    state.tensors[name] = std::move(t);
  auto list = [](const std::vector<std::string> &names) {
    std::string s;
    for (size_t i = 0; i < names.size() && i < 8; ++i)
      s += (i ? ", " : "") + names[i];
    return names.size() > 8 ? s + ", ..." : s;
  };
  std::cerr << "--init-from " << o.initMatching << ": loaded "
            << m.tensors.size() << " parameters, created " << m.created.size()
            << (m.created.empty() ? "" : " (" + list(m.created) + ")")
            << ", left unused " << m.unused.size()
            << (m.unused.empty() ? "" : " (" + list(m.unused) + ")") << "\n";
}

void Trainer::loadWeights(const std::string &path, bool withMoments) {
  if (!withMoments) {
    // Starting weights: a gptc checkpoint, Hugging Face or llm.c.
    for (auto &[name, t] : importWeights(path, params, hfNames(plan)))
      state.tensors[name] = std::move(t);
    return;
  }
  SafetensorsFile f = readSafetensors(path);
  for (auto &[name, shape] : params) {
    std::vector<std::string> names = {name, "adam.m." + name, "adam.v." + name};
    for (const std::string &n : names) {
      const TensorData *t = f.find(n);
      if (!t)
        throw RuntimeError(path + ": no tensor '" + n +
                           "': a checkpoint of a different model?");
      if (t->shape != shape) {
        std::string want = "[";
        for (size_t i = 0; i < shape.size(); ++i)
          want += (i ? ", " : "") + std::to_string(shape[i]);
        throw RuntimeError(path + ": tensor '" + n + "' has shape " +
                           t->typeStr() + " but this model's is " + want +
                           "]: a checkpoint of a different model?");
      }
      state.tensors[n] = weightValues(path, n, *t);
    }
  }
  auto it = f.metadata.find("gptc.step");
  if (it == f.metadata.end())
    throw RuntimeError(path + ": not a gptc checkpoint (no step)");
  char *end = nullptr;
  errno = 0;
  long long step = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end || errno == ERANGE || step < 0)
    throw RuntimeError(path + ": its step ('" + it->second +
                       "' in gptc.step) is not a step number");
  startStep = step;
  // The settings that fix the batches and masks must match, named one by
  // one; the run's length (epochs, --steps) may grow, which continues with
  // the learning-rate schedule of the longer run.
  auto cfg = f.metadata.find("gptc.settings");
  if (cfg != f.metadata.end()) {
    auto fields = [](const std::string &text) {
      std::map<std::string, std::string> m;
      std::istringstream in(text);
      for (std::string kv; in >> kv;)
        if (size_t eq = kv.find('='); eq != std::string::npos)
          m[kv.substr(0, eq)] = kv.substr(eq + 1);
      return m;
    };
    std::map<std::string, std::string> theirs = fields(cfg->second);
    for (auto &[key, value] : fields(settings())) {
      if (key == "epochs" || key == "max_steps")
        continue;
      auto it = theirs.find(key);
      std::string was = it == theirs.end() ? "(none)" : it->second;
      if (was != value)
        throw RuntimeError(path + ": the checkpoint was trained with " + key +
                           " " + was + ", but this run has " + key + " " +
                           value + "; resume with the same " + key);
    }
  }
}

std::string Trainer::settings() const {
  std::ostringstream s;
  s << "data=" << fs::path(o.data).filename().string()
    << " batch=" << o.batchSize << " context=" << o.contextLength
    << " stride=" << o.stride << " epochs=" << o.epochs
    << " max_steps=" << o.maxSteps << " seed=" << o.seed;
  return s.str();
}

double Trainer::meanLoss(const DataLoader &loader, int64_t batches) {
  int64_t n = std::min(batches, loader.numBatches());
  if (n <= 0)
    return std::nan("");
  std::vector<int32_t> in(o.batchSize * o.contextLength),
      tg(o.batchSize * o.contextLength);
  double total = 0;
  for (int64_t b = 0; b < n; ++b) {
    int64_t rows = loader.batch(b, in.data(), tg.data());
    in.resize(rows * o.contextLength);
    tg.resize(rows * o.contextLength);
    state.tensors["tokens"] = ids(rows, o.contextLength, in);
    state.tensors["targets"] = ids(rows, o.contextLength, tg);
    total += scalarOf(exec.run("loss", state, o.data).at("loss"));
    in.resize(o.batchSize * o.contextLength);
    tg.resize(o.batchSize * o.contextLength);
  }
  return total / static_cast<double>(n);
}

/// The book's generate_text_simple: greedy, over the last contextLimit
/// tokens.
std::string Trainer::sample() {
  std::vector<uint32_t> idx =
      tok->encode(o.samplePrompt, Tokenizer::Special::Allow);
  std::mt19937_64 unused;
  generateTokens(exec, state, idx, o.sampleTokens, contextLimit,
                 SamplingOptions(), unused, {}, [](uint32_t) {});
  std::string text = tok->decode(idx);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

void Trainer::saveCheckpoint(const std::string &path, int64_t step) {
  // On a GPU the training state lives there: bring it back first.
  if (exec.onDevice())
    for (auto &[name, shape] : params)
      for (const std::string &n : {name, "adam.m." + name, "adam.v." + name})
        if (std::unique_ptr<TensorData> t = exec.fetch(n))
          state.tensors.at(n).bytes = std::move(t->bytes);
  SafetensorsFile ckpt;
  for (auto &[name, shape] : params)
    for (const std::string &n : {name, "adam.m." + name, "adam.v." + name})
      ckpt.tensors[n] = state.tensors.at(n);
  ckpt.metadata["gptc.step"] = std::to_string(step);
  ckpt.metadata["gptc.settings"] = settings();
  ckpt.metadata["gptc.schedule"] =
      "lr=" + std::to_string(o.lr) +
      " initial_lr=" + std::to_string(o.initialLr) +
      " min_lr=" + std::to_string(o.minLr) +
      " warmup_steps=" + std::to_string(o.warmupSteps) +
      " weight_decay=" + std::to_string(o.weightDecay) +
      " clip_grad_norm=" + std::to_string(o.clipGradNorm);
  writeSafetensors(path, ckpt);
}

int Trainer::run() {
  const PlanFunction *loss = plan.find("loss");
  if (!loss || !plan.find("forward") ||
      (!o.evalOnly && !plan.find("train_step")))
    throw RuntimeError("this executable was not built for training "
                       "(gptc build --task=train)");
  params = planParameters(plan, "loss");
  samples = plan.find("forward")->nextTokenLogitsProblem().empty();
  contextLimit = loss->contextLimit();
  if (contextLimit == 0)
    contextLimit = o.contextLength;
  if (o.contextLength > contextLimit)
    throw RuntimeError("context length " + std::to_string(o.contextLength) +
                       " exceeds the model's context of " +
                       std::to_string(contextLimit));
  if (o.batchSize < 1 || o.contextLength < 1 || o.stride < 1)
    throw RuntimeError("batch size, context length and stride must be "
                       "positive");
  tok.emplace(Tokenizer::load(o.tokenizer));
  for (const PlanCheck &c : loss->checks)
    if (c.ids && c.limit < static_cast<int64_t>(tok->vocabSize()))
      throw RuntimeError(
          "the model's vocabulary has " + std::to_string(c.limit) +
          " entries but the GPT-2 tokenizer needs " +
          std::to_string(tok->vocabSize()) + " (build with vocab_size: 50257)");
  // Text, or an llm.c token shard (already GPT-2 ids), split by tokens.
  bool shard = fs::path(o.data).extension() == ".bin";
  std::string text = shard ? std::string() : readText(o.data);
  std::vector<uint32_t> shardTokens;
  if (shard)
    shardTokens = readTokenShard(o.data);

  if (o.evalOnly) {
    if (o.initFrom.empty() && o.resume.empty())
      throw RuntimeError("--eval needs weights: --weights FILE or --resume "
                         "CHECKPOINT");
    loadWeights(o.resume.empty() ? o.initFrom : o.resume, false);
    WindowDataset data(shard ? shardTokens
                             : tok->encode(text, Tokenizer::Special::Allow),
                       o.contextLength, o.contextLength);
    // A batch larger than the data is the whole data: the same mean.
    DataLoader loader(
        data, std::min<int64_t>(o.batchSize, static_cast<int64_t>(data.size())),
        false, false, 0);
    loader.startEpoch(0);
    double l = meanLoss(loader, loader.numBatches());
    std::cout << o.data << ": loss " << std::fixed << std::setprecision(4) << l
              << ", perplexity " << std::setprecision(2) << std::exp(l)
              << " over " << data.size() << " windows of " << o.contextLength
              << " tokens\n";
    return 0;
  }

  const std::string ckptPath =
      o.checkpoint.empty()
          ? (fs::path(o.outDir) / "checkpoint.safetensors").string()
          : o.checkpoint;
  checkWritable(o.outDir, ckptPath);

  std::vector<uint32_t> trainTokens, valTokens;
  if (shard) {
    size_t cut = static_cast<size_t>(o.trainRatio *
                                     static_cast<double>(shardTokens.size()));
    trainTokens.assign(shardTokens.begin(), shardTokens.begin() + cut);
    valTokens.assign(shardTokens.begin() + cut, shardTokens.end());
  } else {
    auto [trainText, valText] = splitByCharacters(text, o.trainRatio);
    trainTokens = tok->encode(trainText, Tokenizer::Special::Allow);
    valTokens = tok->encode(valText, Tokenizer::Special::Allow);
  }
  auto dataset = [&](std::vector<uint32_t> t, const char *part,
                     int64_t stride) {
    size_t n = t.size();
    try {
      return WindowDataset(std::move(t), o.contextLength, stride);
    } catch (const RuntimeError &) {
      throw RuntimeError(
          "the " + std::string(part) + " part of '" + o.data + "' has " +
          std::to_string(n) + " tokens, fewer than one window of " +
          std::to_string(o.contextLength + 1) +
          "; use more text, a smaller --ctx or a different --train-ratio");
    }
  };
  WindowDataset trainSet =
      dataset(std::move(trainTokens), "training", o.stride);
  WindowDataset valSet =
      dataset(std::move(valTokens), "validation", o.contextLength);
  DataLoader trainLoader(trainSet, o.batchSize, true, true,
                         static_cast<uint64_t>(o.seed));
  DataLoader valLoader(valSet, o.batchSize, false, false, 0);
  valLoader.startEpoch(0);
  int64_t perEpoch = trainLoader.numBatches();
  if (perEpoch == 0)
    throw RuntimeError("'" + o.data + "' gives " +
                       std::to_string(trainSet.size()) +
                       " training windows, fewer than one batch of " +
                       std::to_string(o.batchSize));
  totalSteps = o.epochs > std::numeric_limits<int64_t>::max() / perEpoch
                   ? std::numeric_limits<int64_t>::max()
                   : o.epochs * perEpoch;
  if (o.maxSteps > 0)
    totalSteps = std::min(totalSteps, o.maxSteps);

  if (!o.resume.empty()) {
    if (!o.initFrom.empty() || !o.initMatching.empty())
      throw RuntimeError("--resume continues a run from its checkpoint; "
                         "--weights and --init-from start one");
    loadWeights(o.resume, true);
    if (startStep > totalSteps)
      throw RuntimeError(o.resume + ": the checkpoint is at step " +
                         std::to_string(startStep) + ", past this run's " +
                         std::to_string(totalSteps) +
                         " steps; resume with more --steps or --epochs");
  } else {
    if (!o.initFrom.empty() && !o.initMatching.empty())
      throw RuntimeError("--weights loads every parameter and --init-from "
                         "those that match; give one");
    if (!o.initFrom.empty()) {
      loadWeights(o.initFrom, false);
    } else {
      initState();
      if (!o.initMatching.empty())
        initMatching();
    }
    for (auto &[name, shape] : params) {
      TensorData zeros = state.tensors.at(name);
      std::fill(zeros.bytes.begin(), zeros.bytes.end(), 0);
      state.tensors["adam.m." + name] = zeros;
      state.tensors["adam.v." + name] = zeros;
    }
  }

  std::string logPath = (fs::path(o.outDir) / "log.jsonl").string();
  if (startStep > 0)
    repairLog(logPath, startStep);
  std::ofstream log(logPath, startStep > 0 ? std::ios::app : std::ios::trunc);
  // Each record is flushed as it is written: a kill loses at most the line
  // being written, which the next resume drops.
  auto record = [&](const OrderedJson &r) {
    log << r.dump() << "\n" << std::flush;
    if (!log)
      throw RuntimeError("cannot write the log '" + logPath +
                         "': " + std::strerror(errno));
  };
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);

  const int64_t tokensPerStep = o.batchSize * o.contextLength;
  std::cerr << "training on " << o.data << ": " << trainSet.size()
            << " training windows (" << perEpoch << " batches of "
            << o.batchSize << " x " << o.contextLength << " tokens per epoch), "
            << valSet.size() << " validation windows; " << totalSteps
            << " steps" << (startStep ? ", resuming after step " : "")
            << (startStep ? std::to_string(startStep) : "") << "\n";
  bool tty = o.progress && isatty(2);
  std::vector<double> stepLoss(startStep, std::nan(""));
  std::vector<EvalPoint> evals;
  std::vector<int32_t> in(tokensPerStep), tg(tokensPerStep);
  // On a GPU, parameters and moments stay there from step to step: each
  // step's new values replace the inputs on the device, and only the loss
  // comes back (checkpoints fetch the rest).
  if (exec.onDevice()) {
    std::set<std::string> names;
    for (const ParamSpec &p : params)
      names.insert(p.name);
    exec.keepOnDevice([names](const std::string &n) {
      return n.rfind("adam.", 0) == 0 || names.count(n) > 0;
    });
    exec.feedOutputsBack(true);
  }
  auto started = std::chrono::steady_clock::now();
  int64_t epoch = -1;
  for (int64_t step = startStep + 1; step <= totalSteps; ++step) {
    int64_t e = (step - 1) / perEpoch, b = (step - 1) % perEpoch;
    if (e != epoch) {
      trainLoader.startEpoch(e);
      epoch = e;
    }
    int64_t rows = trainLoader.batch(b, in.data(), tg.data());
    state.tensors["tokens"] = ids(rows, o.contextLength, in);
    state.tensors["targets"] = ids(rows, o.contextLength, tg);
    double lr = learningRate(step);
    state.tensors["lr"] = scalar(lr);
    state.tensors["step"] = scalar(static_cast<double>(step));
    state.tensors["weight_decay"] = scalar(o.weightDecay);
    // As the book's appendix D: no clipping during the warmup.
    state.tensors["clip_norm"] =
        scalar(step > o.warmupSteps ? o.clipGradNorm : 1e30);
    // Gradients are not copied out; the step is rerun for them only to name
    // the culprit of a non-finite loss (the step is deterministic).
    auto isGrad = [](const std::string &name) {
      return name.rfind("grad.", 0) == 0;
    };
    auto out =
        exec.run("train_step", state, o.data, step, [&](const std::string &n) {
          return exec.onDevice() ? n == "loss" : !isGrad(n);
        });
    double l = scalarOf(out.at("loss"));
    if (!std::isfinite(l)) {
      std::string culprit;
      for (auto &[name, t] :
           exec.run("train_step", state, o.data, step, isGrad))
        if (name.rfind("grad.", 0) == 0 && !allFinite(t)) {
          culprit = name;
          break;
        }
      throw RuntimeError(
          "step " + std::to_string(step) + ": the loss is " +
          std::to_string(l) +
          (culprit.empty()
               ? ""
               : "; the first non-finite gradient is '" + culprit + "'") +
          "; stopping (the last checkpoint is kept); try a lower --lr");
    }
    for (auto &[name, t] : out)
      if (state.tensors.count(name) && name.rfind("grad.", 0) != 0)
        state.tensors[name] = std::move(t);
    stepLoss.push_back(l);
    record({{"step", step},
            {"epoch", e + 1},
            {"tokens", step * tokensPerStep},
            {"loss", l},
            {"lr", lr}});
    bool last = step == totalSteps;
    // The final state is kept before the last evaluation and sample, so a
    // failure there loses nothing.
    if (last)
      saveCheckpoint(ckptPath, step);

    double elapsed = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - started)
                         .count();
    double perStep = elapsed / static_cast<double>(step - startStep);
    if (tty) {
      int width = 24, done = static_cast<int>(width * step / totalSteps);
      std::cerr << "\r  step " << step << "/" << totalSteps << " ["
                << std::string(done, '#') << std::string(width - done, '.')
                << "] loss " << std::fixed << std::setprecision(3) << l
                << " lr " << std::scientific << std::setprecision(2) << lr
                << std::fixed << " "
                << static_cast<int64_t>(rows * o.contextLength / perStep)
                << " tok/s ETA " << duration(perStep * (totalSteps - step))
                << "   " << std::flush;
    }
    if ((o.evalInterval > 0 && step % o.evalInterval == 0) || last) {
      double tl = meanLoss(trainLoader, o.evalIters);
      double vl = meanLoss(valLoader, o.evalIters);
      evals.push_back({step, step * tokensPerStep, tl, vl});
      record({{"step", step},
              {"tokens", step * tokensPerStep},
              {"train_loss", tl},
              {"val_loss", vl}});
      std::cerr << (tty ? "\r" : "") << "Ep " << e + 1 << " (step " << step
                << ", " << step * tokensPerStep << " tokens): train loss "
                << std::fixed << std::setprecision(3) << tl << " (perplexity "
                << std::setprecision(1) << std::exp(tl) << "), val loss "
                << std::setprecision(3) << vl << " (perplexity "
                << std::setprecision(1) << std::exp(vl) << "), "
                << static_cast<int64_t>(rows * o.contextLength / perStep)
                << " tok/s, ETA " << duration(perStep * (totalSteps - step))
                << (tty ? "          " : "") << "\n";
    }
    // A model without next-token logits (a classifier) has no text to show.
    if (samples &&
        ((o.sampleInterval > 0 && step % o.sampleInterval == 0) || last))
      std::cerr << "  sample: " << sample() << "\n";
    if (o.checkpointInterval > 0 && step % o.checkpointInterval == 0)
      saveCheckpoint(ckptPath, step);
    if (step == o.stopAfter)
      stopRequested = 1;
    if (stopRequested || last) {
      if (!last)
        saveCheckpoint(ckptPath, step);
      std::string plot = (fs::path(o.outDir) / "loss.svg").string();
      writePlot(plot, stepLoss, evals, tokensPerStep);
      std::cerr << (stopRequested ? "interrupted: " : "done: ") << "checkpoint "
                << ckptPath << " (step " << step << "), log " << logPath
                << ", loss curve " << plot << "\n";
      return 0;
    }
  }
  std::cerr << "nothing to do: the checkpoint is at step " << startStep
            << " of " << totalSteps << "\n";
  return 0;
}

} // namespace

int runTrainer(Executor &exec, const TrainerOptions &options) {
  return Trainer(exec, exec.getPlan(), options).run();
}

} // namespace gptc
