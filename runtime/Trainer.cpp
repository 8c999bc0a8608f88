//===- Trainer.cpp - The training driver of built executables ------------===//
//
// The data decides the task: text windows (pretraining, chapter 5),
// labelled texts for a model whose loss takes class ids (classification
// fine-tuning, chapter 6) or instruction records (chapter 7); all go through
// one DataLoader and one loop. One step:
//  1. The step's batch: epoch = (step-1) / batches per epoch, shuffled with
//     seed + epoch (DataLoader.h), so a step number fixes the data.
//  2. The learning rate: linear warmup from initial_lr to lr, then cosine
//     decay to min_lr (the book's appendix D); clipping starts after the
//     warmup, as there.
//  3. The compiled train_step: parameters and AdamW moments in, updated
//     ones out; dropout masks keyed by (seed, step).
// With several ranks (mpirun) or micro-batches, step 3 is split:
//  3a. Each rank takes its rows of the global batch and runs loss_grad on
//      them, a micro-batch at a time, with the rows' place in the global
//      batch (so dropout draws the global batch's masks).
//  3b. Gradients are summed weighted by each micro-batch's count of
//      non-ignored targets (the loss's mean denominator), into fixed
//      buckets in the order the backward completes them; on the last
//      micro-batch each full bucket starts its allreduce at once (as
//      PyTorch DDP), while the backward goes on.
//  3c. The summed loss, target count and stop flag are allreduced; the
//      gradients divided by the global count are the global batch's mean
//      gradients, and adamw_step applies clipping and AdamW identically on
//      every rank.
// Everything a later step depends on (parameters, moments, step) is in the
// checkpoint, so a resumed run repeats the uninterrupted one bit for bit.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Trainer.h"
#include "gptc/Runtime/Checkpoint.h"
#include "gptc/Runtime/ClassificationData.h"
#include "gptc/Runtime/DataLoader.h"
#include "gptc/Runtime/Distributed.h"
#include "gptc/Runtime/Generator.h"
#include "gptc/Runtime/InstructionData.h"
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
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace gptc {

namespace {

volatile std::sig_atomic_t stopRequested = 0;

/// A stop (Ctrl-C, or a launcher ending the job) finishes the step and
/// checkpoints; inside a collective the other ranks may be gone, so the
/// rank says why it ends and leaves at once (the last checkpoint is
/// intact: checkpoints are written atomically).
void onSignal(int sig) {
  if (Communicator::inCollective()) {
    const char msg[] = "gptc: stopped while waiting for the other ranks (a "
                       "rank failed or the job was ended); the last "
                       "checkpoint is intact\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(128 + sig);
  }
  stopRequested = 1;
}

/// Targets the loss averages over: all but cross-entropy's ignore_index.
int64_t countTargets(const Batch &b) {
  return std::count_if(b.targets.begin(), b.targets.end(),
                       [](int32_t t) { return t != -100; });
}

/// Rows [first, first + rows) of a batch.
Batch rowsOf(const Batch &b, const BatchSlice &s) {
  Batch r;
  r.rows = s.rows;
  r.length = b.length;
  r.classTargets = b.classTargets;
  int64_t perRow = b.length, targetsPerRow = b.classTargets ? 1 : b.length;
  r.tokens.assign(b.tokens.begin() + s.firstRow * perRow,
                  b.tokens.begin() + (s.firstRow + s.rows) * perRow);
  r.targets.assign(b.targets.begin() + s.firstRow * targetsPerRow,
                   b.targets.begin() + (s.firstRow + s.rows) * targetsPerRow);
  return r;
}

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

/// What --data holds, decided by the model and the file: class labels when
/// the loss takes targets [B], else instruction records (.json), an llm.c
/// token shard (.bin) or UTF-8 text.
enum class DataKind { Text, Shard, Classes, Instructions };

/// The static last dim of @forward's logits [B, C]: a classifier's class
/// count (0 when the logits are not [B, C]).
int64_t classCount(const Plan &plan) {
  const PlanFunction *f = plan.find("forward");
  for (auto &[name, id] : f ? f->outputs : decltype(f->outputs)()) {
    const SymShape &s = f->values[id].shape;
    if (name == "logits" && s.size() == 2 && s[1].terms.size() == 1 &&
        s[1].terms[0].syms.empty())
      return s[1].terms[0].coeff;
  }
  return 0;
}

/// The rank of input `name` of `fn` (0 when it has none).
size_t inputRank(const PlanFunction &fn, const std::string &name) {
  for (const PlanValue &v : fn.values)
    if (v.kind == PlanValue::Input && v.name == name)
      return v.shape.size();
  return 0;
}

std::string percent(double share) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << 100 * share << "%";
  return s.str();
}

class Trainer {
public:
  Trainer(Executor &exec, const Plan &plan, const TrainerOptions &o)
      : exec(exec), plan(plan), o(o) {}
  int run();

private:
  /// The model, tokenizer and data kind; what every mode needs first.
  void setUp(bool training);
  void initState();
  /// Parameters only (any format Checkpoint.h reads), or with moments and
  /// step from a gptc checkpoint to resume.
  void loadWeights(const std::string &path, bool withMoments);
  /// --init-from: the tensors of o.initMatching that fit, over initState's.
  void initMatching();
  double learningRate(int64_t step) const;
  /// `tokens` and `targets` of the state from a batch.
  void feed(const Batch &b);
  double meanLoss(const DataLoader &loader, int64_t batches);
  /// The share of texts whose largest logit is their class.
  double accuracy(const DataLoader &loader, int64_t batches);
  std::string sample();
  void saveCheckpoint(const std::string &path, int64_t step, int64_t tokens);
  std::string settings() const;
  /// Reads o.data into trainSet, valSet and testSet, or with `whole` (for
  /// --eval) all of it into trainSet.
  void prepareData(bool whole);
  void prepareText(bool whole);
  void prepareClasses(bool whole);
  void prepareInstructions(bool whole);
  /// Token ids of a text with the tokenizer's prefix; `where` names it in
  /// an error.
  std::vector<uint32_t> encodeRecord(const std::string &text,
                                     const std::string &where) const;
  int evaluate();
  int classify();
  /// Progress and reports: rank 0's stderr; other ranks print only errors.
  std::ostream &say() { return comm.rank() == 0 ? std::cerr : quiet; }
  bool leader() const { return comm.rank() == 0; }
  /// This rank's pieces of a batch of `rows` rows: its share of the ranks'
  /// even split, cut into micro-batches of o.microBatchSize.
  std::vector<BatchSlice> slicesOf(int64_t rows) const;
  /// Several ranks or micro-batches: checks the plan and, for training,
  /// lays out the gradient buckets.
  void setUpSlicing(bool training);
  /// Steps 3a-3c: the global batch's mean loss and gradients (as
  /// `grad.NAME` in the state); `stop` says whether any rank was asked to
  /// stop.
  double slicedGradients(const Batch &batch, int64_t step, bool &stop);
  /// The book's test-set responses: each test record's prompt continued
  /// greedily, written with the records as `model_response`.
  void writeResponses(const std::string &path);

  Executor &exec;
  const Plan &plan;
  TrainerOptions o;
  std::optional<Tokenizer> tok;
  std::vector<ParamSpec> params;
  std::set<std::string> trained; ///< Parameters with AdamW moments.
  SafetensorsFile state;
  int64_t totalSteps = 0, startStep = 0, startTokens = 0, contextLimit = 0;
  bool samples = true; ///< Whether @forward gives next-token logits.
  DataKind kind = DataKind::Text;
  int64_t numClasses = 0;
  uint32_t pad = 0;
  int64_t padLength = 0; ///< Classes: the length every text is padded to.
  std::vector<std::string> classNames;
  /// What a classifier checkpoint says of its training: class names and
  /// padded length (empty and 0 for other weights).
  std::vector<std::string> trainedClasses;
  int64_t trainedPadLength = 0;
  std::unique_ptr<Dataset> trainSet, valSet, testSet;
  std::vector<InstructionRecord> testRecords;

  Communicator &comm = Communicator::world();
  std::ostream quiet{nullptr};
  /// Steps run loss_grad and adamw_step (several ranks or micro-batches).
  bool sliced = false;
  /// Where a trained parameter's gradient sum lives: bucket and offset.
  struct GradSlot {
    size_t bucket = 0, offset = 0;
    int64_t count = 0;
    std::vector<int64_t> shape;
  };
  std::map<std::string, GradSlot> slots;
  std::vector<std::vector<float>> buckets;
  std::vector<int> bucketGrads; ///< Gradients per bucket.
  std::set<std::string> unwritten;
  /// GPUs with one micro-batch per rank: NCCL sums the gradients there.
  bool deviceSums = false;
  /// One slice per rank, summed by the devices (3a-3c without the host).
  double deviceGradients(const Batch &batch, int64_t step, bool &stop);
};

std::vector<BatchSlice> Trainer::slicesOf(int64_t rows) const {
  int64_t n = comm.size(), r = comm.rank();
  int64_t lo = rows * r / n, hi = rows * (r + 1) / n;
  int64_t micro = o.microBatchSize > 0 ? o.microBatchSize : hi - lo;
  std::vector<BatchSlice> slices;
  for (int64_t first = lo; first < hi; first += micro)
    slices.push_back({static_cast<uint32_t>(first),
                      static_cast<uint32_t>(std::min(micro, hi - first))});
  return slices;
}

void Trainer::setUpSlicing(bool training) {
  sliced = comm.distributed() ||
           (o.microBatchSize > 0 && o.microBatchSize < o.batchSize);
  if (!sliced || !training)
    return;
  if (o.batchSize < comm.size())
    throw RuntimeError(
        "a batch of " + std::to_string(o.batchSize) +
        " sequences cannot be split over " + std::to_string(comm.size()) +
        " ranks; give --batch of at least " + std::to_string(comm.size()));
  const PlanFunction *grad = plan.find("loss_grad");
  if (!grad || !plan.find("adamw_step"))
    throw RuntimeError("this executable has no loss_grad and adamw_step (it "
                       "was built by an older gptc); rebuild it to train "
                       "with several ranks or micro-batches");
  if (!grad->unsliceable.empty())
    throw RuntimeError(grad->unsliceable +
                       ": this model trains with one rank and whole "
                       "batches only (no mpirun, no --micro-batch)");
  // Buckets of about 25 MiB (PyTorch DDP's default), filled in the order
  // the backward completes the gradients, so they fill while it runs.
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const ParamSpec &p : params)
    shapes[p.name] = p.shape;
  std::vector<int> done = grad->completingCalls();
  std::vector<std::pair<int, std::string>> order;
  for (size_t i = 0; i < grad->outputs.size(); ++i)
    if (grad->outputs[i].first.rfind("grad.", 0) == 0) {
      order.push_back({done[i], grad->outputs[i].first.substr(5)});
      // A gradient no kernel writes (a pass-through) comes back whole.
      if (done[i] < 0)
        unwritten.insert(grad->outputs[i].first);
    }
  std::stable_sort(order.begin(), order.end(),
                   [](auto &a, auto &b) { return a.first < b.first; });
  constexpr size_t kBucketFloats = (25u << 20) / sizeof(float);
  for (auto &[call, name] : order) {
    if (buckets.empty() || buckets.back().size() >= kBucketFloats) {
      buckets.emplace_back();
      bucketGrads.push_back(0);
    }
    GradSlot s;
    s.bucket = buckets.size() - 1;
    s.offset = buckets.back().size();
    s.shape = shapes.at(name);
    s.count = 1;
    for (int64_t d : s.shape)
      s.count *= d;
    buckets.back().resize(s.offset + s.count);
    ++bucketGrads.back();
    slots[name] = s;
  }
  // GPUs sum on the devices when every rank runs its rows at once (the
  // same test on every rank: shares differ by at most one row).
  int64_t share = (o.batchSize + comm.size() - 1) / comm.size();
  if (exec.onDevice() && comm.distributed() && unwritten.empty() &&
      (o.microBatchSize == 0 || o.microBatchSize >= share))
    deviceSums = exec.device()->joinRanks(
        comm.rank(), comm.size(),
        [this](void *data, size_t bytes) { comm.broadcast(data, bytes); });
  if (deviceSums)
    buckets.clear(); // the host sums nothing
  // adamw_step reads the summed gradients where they are.
  for (auto &[name, s] : slots) {
    TensorData &g = state.tensors["grad." + name];
    g.dtype = DType::F32;
    g.shape = s.shape;
    g.bytes.assign(s.count * sizeof(float), 0);
  }
}

double Trainer::deviceGradients(const Batch &batch, int64_t step, bool &stop) {
  BatchSlice slice = slicesOf(batch.rows).at(0);
  Batch part = rowsOf(batch, slice);
  feed(part);
  // Each rank's mean gradients weigh its share of the global targets.
  double local = static_cast<double>(countTargets(part)), total = local;
  comm.allreduceSum(&total, 1);
  float scale = total > 0 ? static_cast<float>(local / total) : 0.0f;
  Device *dev = exec.device();
  exec.onOutputReady([&](const std::string &out, const float *g, int64_t n) {
    if (out.rfind("grad.", 0) != 0 || !slots.count(out.substr(5)))
      return;
    auto *dst = static_cast<float *>(
        exec.deviceInput(out, n * static_cast<int64_t>(sizeof(float))));
    dev->allreduceScaled(dst, g, n, scale);
  });
  // The local gradients must not replace the summed ones.
  exec.feedOutputsBack(false);
  auto out = exec.run(
      "loss_grad", state, o.data, step,
      [](const std::string &n) { return n == "loss"; }, slice);
  exec.feedOutputsBack(true);
  exec.onOutputReady(nullptr);
  dev->synchronize();
  double sums[3] = {local > 0 ? local * scalarOf(out.at("loss")) : 0.0, local,
                    stopRequested ? 1.0 : 0.0};
  comm.allreduceSum(sums, 3);
  stop = sums[2] > 0;
  return sums[0] / sums[1];
}

double Trainer::slicedGradients(const Batch &batch, int64_t step, bool &stop) {
  if (deviceSums)
    return deviceGradients(batch, step, stop);
  std::vector<BatchSlice> slices = slicesOf(batch.rows);
  double sums[3] = {0, 0, stopRequested ? 1.0 : 0.0};
  std::vector<int> left = bucketGrads;
  bool first = true, last = false;
  float weight = 0;
  // 3b. Sum a completed gradient weighted by its micro-batch's targets (a
  // micro-batch without any contributes nothing, not 0 * NaN).
  auto add = [&](const std::string &out, const float *g, int64_t n) {
    comm.progress();
    auto it =
        out.rfind("grad.", 0) == 0 ? slots.find(out.substr(5)) : slots.end();
    if (it == slots.end())
      return;
    const GradSlot &s = it->second;
    float *acc = buckets[s.bucket].data() + s.offset;
    n = std::min(n, s.count);
    if (first)
      for (int64_t k = 0; k < n; ++k)
        acc[k] = weight == 0 ? 0.0f : weight * g[k];
    else if (weight != 0)
      for (int64_t k = 0; k < n; ++k)
        acc[k] += weight * g[k];
    if (last && --left[s.bucket] == 0)
      comm.startAllreduceSum(buckets[s.bucket].data(),
                             buckets[s.bucket].size());
  };
  // 3a. On a GPU the gradients come back whole after each run.
  bool host = !exec.onDevice();
  if (host)
    exec.onOutputReady(add);
  for (size_t k = 0; k < slices.size(); ++k) {
    Batch part = rowsOf(batch, slices[k]);
    feed(part);
    weight = static_cast<float>(countTargets(part));
    last = k + 1 == slices.size();
    auto out = exec.run(
        "loss_grad", state, o.data, step,
        [&](const std::string &n) {
          return n == "loss" || !host || unwritten.count(n);
        },
        slices[k]);
    for (auto &[name, t] : out)
      if (!host || unwritten.count(name))
        add(name, reinterpret_cast<const float *>(t.bytes.data()),
            static_cast<int64_t>(t.bytes.size() / 4));
    if (weight > 0)
      sums[0] += weight * scalarOf(out.at("loss"));
    sums[1] += weight;
    first = false;
  }
  exec.onOutputReady(nullptr);
  // 3c. Every rank has started every bucket, in the same order.
  comm.waitAll();
  comm.allreduceSum(sums, 3);
  stop = sums[2] > 0;
  // Into the gradient tensors setUpSlicing laid out.
  double scale = 1.0 / sums[1];
  for (auto &[name, s] : slots) {
    float *dst = reinterpret_cast<float *>(
        state.tensors.at("grad." + name).bytes.data());
    const float *acc = buckets[s.bucket].data() + s.offset;
    for (int64_t k = 0; k < s.count; ++k)
      dst[k] = static_cast<float>(acc[k] * scale);
  }
  return sums[0] / sums[1];
}

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
      std::normal_distribution<double> normal(0.0, init->scale);
      for (double &x : v)
        x = normal(rng);
    } else if (init && init->kind == "uniform") {
      std::uniform_real_distribution<double> uniform(-init->scale, init->scale);
      for (double &x : v)
        x = uniform(rng);
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
  say() << "--init-from " << o.initMatching << ": loaded " << m.tensors.size()
        << " parameters, created " << m.created.size()
        << (m.created.empty() ? "" : " (" + list(m.created) + ")")
        << ", left unused " << m.unused.size()
        << (m.unused.empty() ? "" : " (" + list(m.unused) + ")") << "\n";
}

void Trainer::loadWeights(const std::string &path, bool withMoments) {
  if (!withMoments) {
    // Starting weights: a gptc checkpoint, Hugging Face or llm.c.
    for (auto &[name, t] : importWeights(path, params, hfNames(plan)))
      state.tensors[name] = std::move(t);
    // A gptc checkpoint says how its classifier reads texts.
    std::error_code ec;
    if (kind != DataKind::Classes || !fs::is_regular_file(path, ec) ||
        fs::path(path).extension() != ".safetensors")
      return;
    std::map<std::string, std::string> meta = readSafetensorsMetadata(path);
    Json names = Json::parse(meta["gptc.classes"], nullptr, false);
    if (names.is_array() &&
        std::all_of(names.begin(), names.end(),
                    [](const Json &n) { return n.is_string(); }))
      trainedClasses = names.get<std::vector<std::string>>();
    trainedPadLength = std::atoll(meta["gptc.pad_length"].c_str());
    return;
  }
  SafetensorsFile f = readSafetensors(path);
  for (auto &[name, shape] : params) {
    std::vector<std::string> names = {name};
    if (trained.count(name))
      names.insert(names.end(), {"adam.m." + name, "adam.v." + name});
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
  auto number = [&](const char *key, const char *what,
                    bool required) -> int64_t {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end()) {
      if (required)
        throw RuntimeError(path + ": not a gptc checkpoint (no step)");
      return -1;
    }
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end || errno == ERANGE || v < 0)
      throw RuntimeError(path + ": its " + what + " ('" + it->second + "' in " +
                         key + ") is not a " + what + " number");
    return v;
  };
  startStep = number("gptc.step", "step", true);
  startTokens = number("gptc.tokens", "token", false);
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
  if (kind == DataKind::Classes || kind == DataKind::Instructions) {
    s << " split=";
    for (size_t i = 0; i < o.split.size(); ++i)
      s << (i ? "," : "") << o.split[i];
    if (kind == DataKind::Classes)
      s << " balance=" << o.balance;
    else
      s << " mask_instruction=" << o.maskInstruction;
  }
  return s.str();
}

void Trainer::feed(const Batch &b) {
  TensorData tokens, targets;
  tokens.dtype = targets.dtype = DType::I32;
  tokens.shape = {b.rows, b.length};
  targets.shape = b.classTargets ? std::vector<int64_t>{b.rows}
                                 : std::vector<int64_t>{b.rows, b.length};
  tokens.bytes.resize(b.tokens.size() * 4);
  std::memcpy(tokens.bytes.data(), b.tokens.data(), tokens.bytes.size());
  targets.bytes.resize(b.targets.size() * 4);
  std::memcpy(targets.bytes.data(), b.targets.data(), targets.bytes.size());
  state.tensors["tokens"] = std::move(tokens);
  state.tensors["targets"] = std::move(targets);
}

double Trainer::meanLoss(const DataLoader &loader, int64_t batches) {
  int64_t n = std::min(batches, loader.numBatches());
  if (n <= 0)
    return std::nan("");
  // Per batch: the loss summed over this rank's slices, weighted by their
  // targets, and the targets; the ranks' sums make each batch's mean.
  std::vector<double> sums(2 * n, 0.0);
  for (int64_t b = 0; b < n; ++b) {
    Batch batch = loader.batch(b);
    if (!sliced) {
      feed(batch);
      sums[2 * b] = scalarOf(exec.run("loss", state, o.data).at("loss"));
      sums[2 * b + 1] = 1;
      continue;
    }
    for (const BatchSlice &s : slicesOf(batch.rows)) {
      Batch part = rowsOf(batch, s);
      double count = static_cast<double>(countTargets(part));
      if (count == 0)
        continue;
      feed(part);
      sums[2 * b] +=
          count * scalarOf(exec.run("loss", state, o.data).at("loss"));
      sums[2 * b + 1] += count;
    }
  }
  comm.allreduceSum(sums.data(), sums.size());
  double total = 0;
  for (int64_t b = 0; b < n; ++b)
    total += sums[2 * b] / sums[2 * b + 1];
  return total / static_cast<double>(n);
}

double Trainer::accuracy(const DataLoader &loader, int64_t batches) {
  int64_t n = std::min(batches, loader.numBatches());
  if (n <= 0)
    return std::nan("");
  double counts[2] = {0, 0}; // right, total
  for (int64_t k = 0; k < n; ++k) {
    Batch batch = loader.batch(k);
    // One slice, the whole batch, unless ranks or micro-batches split it.
    for (const BatchSlice &s : slicesOf(batch.rows)) {
      Batch b = rowsOf(batch, s);
      feed(b);
      TensorData logits = exec.run("forward", state, o.data).at("logits");
      counts[0] += static_cast<double>(
          countCorrect(reinterpret_cast<const float *>(logits.bytes.data()),
                       b.targets.data(), b.rows, numClasses));
      counts[1] += static_cast<double>(b.rows);
    }
  }
  comm.allreduceSum(counts, 2);
  return counts[0] / counts[1];
}

/// The book's generate_text_simple: greedy, over the last contextLimit
/// tokens; an instruction run's stops at end-of-text, as chapter 7's
/// generate(eos_id=50256).
std::string Trainer::sample() {
  std::vector<uint32_t> idx =
      tok->encode(o.samplePrompt, Tokenizer::Special::Allow);
  std::vector<uint32_t> stops;
  if (kind == DataKind::Instructions)
    stops.push_back(pad);
  std::mt19937_64 unused;
  generateTokens(exec, state, idx, o.sampleTokens, contextLimit,
                 SamplingOptions(), unused, stops, [](uint32_t) {});
  std::string text = tok->decode(idx);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

void Trainer::saveCheckpoint(const std::string &path, int64_t step,
                             int64_t tokens) {
  // Every rank holds the same state; rank 0 writes it.
  if (!leader())
    return;
  auto stateNames = [&](const std::string &name) {
    std::vector<std::string> names = {name};
    if (trained.count(name))
      names.insert(names.end(), {"adam.m." + name, "adam.v." + name});
    return names;
  };
  // On a GPU the training state lives there: bring it back first.
  if (exec.onDevice())
    for (auto &[name, shape] : params)
      for (const std::string &n : stateNames(name))
        if (std::unique_ptr<TensorData> t = exec.fetch(n))
          state.tensors.at(n).bytes = std::move(t->bytes);
  SafetensorsFile ckpt;
  for (auto &[name, shape] : params)
    for (const std::string &n : stateNames(name))
      ckpt.tensors[n] = state.tensors.at(n);
  ckpt.metadata["gptc.step"] = std::to_string(step);
  ckpt.metadata["gptc.tokens"] = std::to_string(tokens);
  ckpt.metadata["gptc.settings"] = settings();
  ckpt.metadata["gptc.schedule"] =
      "lr=" + std::to_string(o.lr) +
      " initial_lr=" + std::to_string(o.initialLr) +
      " min_lr=" + std::to_string(o.minLr) +
      " warmup_steps=" + std::to_string(o.warmupSteps) +
      " weight_decay=" + std::to_string(o.weightDecay) +
      " clip_grad_norm=" + std::to_string(o.clipGradNorm);
  // How --eval and --classify read texts as the training did.
  if (kind == DataKind::Classes) {
    ckpt.metadata["gptc.classes"] = Json(classNames).dump();
    ckpt.metadata["gptc.pad_length"] = std::to_string(padLength);
  }
  writeSafetensors(path, ckpt);
}

void Trainer::setUp(bool training) {
  const PlanFunction *loss = plan.find("loss");
  if (!loss || !plan.find("forward") || (training && !plan.find("train_step")))
    throw RuntimeError("this executable was not built for training "
                       "(gptc build --task=train)");
  params = planParameters(plan, "loss");
  if (const PlanFunction *step = plan.find("train_step"))
    for (const PlanValue &v : step->values)
      if (v.kind == PlanValue::Input && v.name.rfind("adam.m.", 0) == 0)
        trained.insert(v.name.substr(7));
  samples = plan.find("forward")->nextTokenLogitsProblem().empty();
  contextLimit = loss->contextLimit();
  if (contextLimit == 0)
    contextLimit = o.contextLength;
  if (o.batchSize < 1 || o.contextLength < 1 || o.stride < 1)
    throw RuntimeError("batch size, context length and stride must be "
                       "positive");
  tok.emplace(Tokenizer::load(o.tokenizer));
  for (const PlanCheck &c : loss->checks)
    if (c.ids && c.limit < static_cast<int64_t>(tok->vocabSize()) &&
        loss->values[c.value].name == "tokens")
      throw RuntimeError(
          "the model's vocabulary has " + std::to_string(c.limit) +
          " entries but the tokenizer needs " +
          std::to_string(tok->vocabSize()) +
          " (build with vocab_size: " + std::to_string(tok->vocabSize()) + ")");

  std::string ext = fs::path(o.data).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  bool table = ext == ".tsv" || ext == ".csv";
  if (inputRank(*loss, "targets") == 1) {
    kind = DataKind::Classes;
    numClasses = classCount(plan);
    if (numClasses == 0)
      throw RuntimeError("the model's loss takes one class id per text "
                         "(targets [B]), but @forward does not return class "
                         "logits [B, C]");
    if (ext == ".json" || ext == ".bin")
      throw RuntimeError("this model classifies texts (its loss takes "
                         "targets [B]): --data must be a table of labelled "
                         "texts (label<TAB>text, or a .csv), not '" +
                         o.data + "'");
    if (o.split.empty())
      o.split = {0.7, 0.1, 0.2};
  } else if (table) {
    throw RuntimeError("'" + o.data +
                       "' is a table of labelled texts, but "
                       "this model's loss takes next-token targets [B, T]; "
                       "build a classifier (models/gpt2-classifier.gpt) or "
                       "train on text");
  } else if (ext == ".json") {
    kind = DataKind::Instructions;
    if (o.split.empty())
      o.split = {0.85, 0.05, 0.1};
  } else {
    kind = ext == ".bin" ? DataKind::Shard : DataKind::Text;
  }
  // Windows of text are context_length long; labelled texts and records
  // are cut to it, so for them it is a bound the model's context lowers.
  if (kind == DataKind::Classes || kind == DataKind::Instructions)
    o.contextLength = std::min(o.contextLength, contextLimit);
  else if (o.contextLength > contextLimit && o.classifyTexts.empty())
    throw RuntimeError("context length " + std::to_string(o.contextLength) +
                       " exceeds the model's context of " +
                       std::to_string(contextLimit));
  if (kind == DataKind::Classes || kind == DataKind::Instructions) {
    // The book pads with <|endoftext|>; a classifier says its pad id.
    auto it = plan.config.find("pad_token_id");
    int64_t id =
        it != plan.config.end() ? std::stoll(it->second) : tok->endOfText();
    if (it != plan.config.end() &&
        (id < 0 || id >= static_cast<int64_t>(tok->vocabSize())))
      throw RuntimeError("the model's pad_token_id " + it->second +
                         " is not an id of the tokenizer (0 to " +
                         std::to_string(tok->vocabSize() - 1) + ")");
    if (id >= static_cast<int64_t>(tok->vocabSize()))
      throw RuntimeError("the tokenizer has no end-of-text token to pad "
                         "with; give the model a pad_token_id config");
    pad = static_cast<uint32_t>(id);
  }
}

std::vector<uint32_t> Trainer::encodeRecord(const std::string &text,
                                            const std::string &where) const {
  std::vector<uint32_t> ids = tok->prefix();
  try {
    std::vector<uint32_t> body = tok->encode(text);
    ids.insert(ids.end(), body.begin(), body.end());
  } catch (const RuntimeError &e) {
    throw RuntimeError(where + ": " + e.what());
  }
  return ids;
}

void Trainer::prepareText(bool whole) {
  bool shard = kind == DataKind::Shard;
  std::string text = shard ? std::string() : readText(o.data);
  std::vector<uint32_t> shardTokens;
  if (shard)
    shardTokens = readTokenShard(o.data);
  if (whole) {
    trainSet = std::make_unique<WindowDataset>(
        shard ? shardTokens : tok->encode(text, Tokenizer::Special::Allow),
        o.contextLength, o.contextLength);
    return;
  }
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
      return std::make_unique<WindowDataset>(std::move(t), o.contextLength,
                                             stride);
    } catch (const RuntimeError &) {
      throw RuntimeError(
          "the " + std::string(part) + " part of '" + o.data + "' has " +
          std::to_string(n) + " tokens, fewer than one window of " +
          std::to_string(o.contextLength + 1) +
          "; use more text, a smaller --ctx or a different --train-ratio");
    }
  };
  trainSet = dataset(std::move(trainTokens), "training", o.stride);
  valSet = dataset(std::move(valTokens), "validation", o.contextLength);
  say() << "training on " << o.data << ": " << trainSet->size()
        << " training windows of " << o.contextLength << " tokens, "
        << valSet->size() << " validation windows"
        << (plan.precision == "bf16" ? "; bf16 mixed precision" : "") << "\n";
}

/// Elements [first, first + n) of `v`, moved out: each split part takes
/// its records once.
template <typename T>
static std::vector<T> slice(std::vector<T> &v, int64_t first, int64_t n) {
  return std::vector<T>(std::make_move_iterator(v.begin() + first),
                        std::make_move_iterator(v.begin() + first + n));
}

void Trainer::prepareClasses(bool whole) {
  // A checkpoint's own class names and length take precedence for --eval.
  LabelledTable table = readLabelledTable(
      o.data, whole && o.classes.empty() ? trainedClasses : o.classes);
  classNames = table.classes;
  if (static_cast<int64_t>(classNames.size()) > numClasses) {
    std::string names;
    for (const std::string &c : classNames)
      names += (names.empty() ? "" : ", ") + c;
    throw RuntimeError(
        "'" + o.data + "' has " + std::to_string(classNames.size()) +
        " classes (" + names + ") but the model has " +
        std::to_string(numClasses) + " outputs (build with num_classes: " +
        std::to_string(classNames.size()) + ")");
  }
  std::vector<LabelledText> rows = table.rows;
  std::vector<int64_t> sizes = {static_cast<int64_t>(rows.size()), 0, 0};
  if (!whole) {
    if (o.balance)
      rows = balanceClasses(table, static_cast<uint64_t>(o.seed));
    // random_split: shuffled, then cut.
    std::vector<int64_t> order(rows.size());
    std::iota(order.begin(), order.end(), 0);
    shuffleOrder(order, static_cast<uint64_t>(o.seed));
    std::vector<LabelledText> shuffled;
    for (int64_t i : order)
      shuffled.push_back(rows[i]);
    rows = std::move(shuffled);
    sizes = splitSizes(static_cast<int64_t>(rows.size()), o.split);
  }
  std::vector<std::vector<uint32_t>> texts;
  std::vector<int32_t> labels;
  for (const LabelledText &r : rows) {
    texts.push_back(
        encodeRecord(r.text, o.data + ":" + std::to_string(r.line)));
    labels.push_back(r.label);
  }
  // SpamDataset: the longest training text, at most the context.
  padLength = whole ? trainedPadLength : 0;
  if (padLength <= 0)
    for (int64_t i = 0; i < sizes[0]; ++i)
      padLength = std::max<int64_t>(padLength, texts[i].size());
  padLength = std::clamp<int64_t>(padLength, 1, o.contextLength);
  int64_t cut = std::count_if(texts.begin(), texts.end(), [&](auto &t) {
    return static_cast<int64_t>(t.size()) > padLength;
  });
  auto part = [&](int64_t first, int64_t n) {
    return std::make_unique<ClassificationDataset>(
        slice(texts, first, n), slice(labels, first, n), padLength, pad);
  };
  trainSet = part(0, sizes[0]);
  valSet = part(sizes[0], sizes[1]);
  testSet = part(sizes[0] + sizes[1], sizes[2]);
  if (whole)
    return;
  say() << "classifying " << o.data << " into " << numClasses << " classes (";
  for (size_t c = 0; c < classNames.size(); ++c)
    say() << (c ? ", " : "") << classNames[c] << " " << c;
  say() << "): " << rows.size() << " texts"
        << (o.balance ? " after balancing" : "") << ", " << sizes[0]
        << " training, " << sizes[1] << " validation, " << sizes[2]
        << " test, padded to " << padLength << " tokens";
  if (cut)
    say() << " (" << cut << " longer ones truncated)";
  say() << "\n";
}

void Trainer::prepareInstructions(bool whole) {
  std::vector<InstructionRecord> records = readInstructions(o.data);
  std::vector<int64_t> sizes = {static_cast<int64_t>(records.size()), 0, 0};
  if (!whole)
    sizes = splitSizes(static_cast<int64_t>(records.size()), o.split);
  std::vector<std::vector<uint32_t>> texts;
  std::vector<int64_t> promptLengths;
  for (size_t i = 0; i < records.size(); ++i) {
    std::string where = o.data + ": record " + std::to_string(i);
    std::string prompt = alpacaPrompt(records[i]);
    texts.push_back(encodeRecord(prompt + alpacaResponse(records[i]), where));
    promptLengths.push_back(
        static_cast<int64_t>(encodeRecord(prompt, where).size()));
  }
  auto part = [&](int64_t first, int64_t n) {
    return std::make_unique<InstructionDataset>(
        slice(texts, first, n), slice(promptLengths, first, n), pad,
        o.contextLength, o.maskInstruction);
  };
  trainSet = part(0, sizes[0]);
  valSet = part(sizes[0], sizes[1]);
  testSet = part(sizes[0] + sizes[1], sizes[2]);
  if (whole)
    return;
  testRecords.assign(records.begin() + sizes[0] + sizes[1], records.end());
  // The book samples the first validation record's prompt.
  if (o.samplePrompt.empty() && sizes[1] > 0)
    o.samplePrompt = alpacaPrompt(records[sizes[0]]);
  say() << "instruction data " << o.data << ": " << records.size()
        << " records, " << sizes[0] << " training, " << sizes[1]
        << " validation, " << sizes[2] << " test (Alpaca prompts, padded "
        << "per batch, at most " << o.contextLength << " tokens"
        << (o.maskInstruction ? ", prompts masked" : "") << ")\n";
}

void Trainer::prepareData(bool whole) {
  switch (kind) {
  case DataKind::Text:
  case DataKind::Shard:
    prepareText(whole);
    break;
  case DataKind::Classes:
    prepareClasses(whole);
    break;
  case DataKind::Instructions:
    prepareInstructions(whole);
    break;
  }
  if (o.samplePrompt.empty())
    o.samplePrompt = "Every effort moves you";
}

void Trainer::writeResponses(const std::string &path) {
  OrderedJson out = OrderedJson::array();
  std::vector<uint32_t> stops = {pad};
  auto started = std::chrono::steady_clock::now();
  bool tty = o.progress && isatty(2);
  for (size_t i = 0; i < testRecords.size(); ++i) {
    std::vector<uint32_t> ids =
        encodeRecord(alpacaPrompt(testRecords[i]), "test record");
    size_t promptLength = ids.size();
    std::mt19937_64 unused;
    generateTokens(exec, state, ids, o.responseTokens, contextLimit,
                   SamplingOptions(), unused, stops, [](uint32_t) {});
    if (ids.size() > promptLength && ids.back() == pad)
      ids.pop_back();
    std::string response = tok->decode(
        std::vector<uint32_t>(ids.begin() + promptLength, ids.end()));
    // As the book: the response header removed, whitespace stripped.
    for (size_t at; (at = response.find("### Response:")) != std::string::npos;)
      response.erase(at, 13);
    size_t first = response.find_first_not_of(" \t\n\r");
    size_t last = response.find_last_not_of(" \t\n\r");
    response = first == std::string::npos
                   ? ""
                   : response.substr(first, last - first + 1);
    OrderedJson r = testRecords[i].json;
    r["model_response"] = response;
    out.push_back(std::move(r));
    if (tty)
      say() << "\r  test responses " << i + 1 << "/" << testRecords.size()
            << std::flush;
  }
  writeFileAtomically(path, out.dump(4) + "\n");
  say() << (tty ? "\r" : "") << "wrote " << testRecords.size()
        << " test responses to " << path << " ("
        << duration(std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - started)
                        .count())
        << ")\n";
}

int Trainer::evaluate() {
  if (o.initFrom.empty() && o.resume.empty())
    throw RuntimeError("--eval needs weights: --weights FILE or --resume "
                       "CHECKPOINT");
  loadWeights(o.resume.empty() ? o.initFrom : o.resume, false);
  if (o.weightFormat != WeightFormat::F32) {
    // The weights stay as loaded: packed once, as a generator's.
    for (const std::string &name : exec.packConstantParameters(
             state, [](const std::string &) { return true; }, o.weightFormat))
      state.tensors.erase(name);
    if (!exec.packedBytes())
      throw RuntimeError(std::string("--weight-format ") +
                         weightFormatName(o.weightFormat) +
                         " needs the matmuls' weights packed on the CPU; "
                         "this executable packs none (use --weight-format "
                         "f32)");
  }
  prepareData(true);
  setUpSlicing(false);
  // A batch larger than the data is the whole data: the same mean.
  DataLoader loader(
      *trainSet,
      std::min<int64_t>(o.batchSize, std::max<int64_t>(1, trainSet->size())),
      false, false, 0);
  double l = meanLoss(loader, loader.numBatches());
  double acc =
      kind == DataKind::Classes ? accuracy(loader, loader.numBatches()) : 0.0;
  if (!leader())
    return 0;
  std::cout << o.data << ": loss " << std::fixed << std::setprecision(4) << l;
  if (kind == DataKind::Classes)
    std::cout << ", accuracy " << percent(acc) << " over " << trainSet->size()
              << " texts of " << padLength << " tokens\n";
  else if (kind == DataKind::Instructions)
    std::cout << ", perplexity " << std::setprecision(2) << std::exp(l)
              << " over " << trainSet->size() << " records\n";
  else
    std::cout << ", perplexity " << std::setprecision(2) << std::exp(l)
              << " over " << trainSet->size() << " windows of "
              << o.contextLength << " tokens\n";
  return 0;
}

int Trainer::classify() {
  if (kind != DataKind::Classes)
    throw RuntimeError("--classify needs a classifier (a model whose loss "
                       "takes class ids, targets [B])");
  if (o.initFrom.empty())
    throw RuntimeError("--classify needs the classifier's --weights");
  loadWeights(o.initFrom, false);
  classNames = o.classes.empty() ? trainedClasses : o.classes;
  while (static_cast<int64_t>(classNames.size()) < numClasses)
    classNames.push_back(std::to_string(classNames.size()));
  std::vector<std::vector<uint32_t>> texts;
  for (size_t i = 0; i < o.classifyTexts.size(); ++i)
    texts.push_back(encodeRecord(o.classifyTexts[i],
                                 "--classify text " + std::to_string(i + 1)));
  // As trained: padded to the training's length (the model may read the
  // last position), else to the longest text.
  padLength = trainedPadLength;
  if (padLength <= 0)
    for (const auto &t : texts)
      padLength = std::max<int64_t>(padLength, t.size());
  padLength = std::clamp<int64_t>(padLength, 1, contextLimit);
  ClassificationDataset data(texts, std::vector<int32_t>(texts.size(), 0),
                             padLength, pad);
  std::vector<int64_t> all(texts.size());
  std::iota(all.begin(), all.end(), 0);
  feed(data.collate(all));
  TensorData logits = exec.run("forward", state, "--classify").at("logits");
  const float *p = reinterpret_cast<const float *>(logits.bytes.data());
  for (size_t r = 0; r < texts.size(); ++r) {
    const float *row = p + r * numClasses;
    int64_t best = std::max_element(row, row + numClasses) - row;
    double sum = 0;
    for (int64_t c = 0; c < numClasses; ++c)
      sum += std::exp(static_cast<double>(row[c] - row[best]));
    std::cout << classNames[best] << "\t" << std::fixed << std::setprecision(3)
              << 1 / sum << "\t" << o.classifyTexts[r] << "\n";
  }
  return 0;
}

int Trainer::run() {
  setUp(!o.evalOnly && o.classifyTexts.empty());
  if (!o.classifyTexts.empty())
    return classify();
  if (o.evalOnly)
    return evaluate();

  const std::string ckptPath =
      o.checkpoint.empty()
          ? (fs::path(o.outDir) / "checkpoint.safetensors").string()
          : o.checkpoint;
  if (leader())
    checkWritable(o.outDir, ckptPath);
  prepareData(false);
  DataLoader trainLoader(*trainSet, o.batchSize, true, true,
                         static_cast<uint64_t>(o.seed));
  DataLoader valLoader(*valSet, o.batchSize, false, false, 0);
  std::optional<DataLoader> testLoader;
  if (testSet)
    testLoader.emplace(*testSet, o.batchSize, false, false, 0);
  int64_t perEpoch = trainLoader.numBatches();
  if (perEpoch == 0)
    throw RuntimeError("'" + o.data + "' gives " +
                       std::to_string(trainSet->size()) +
                       " training examples, fewer than one batch of " +
                       std::to_string(o.batchSize));
  totalSteps = o.epochs > std::numeric_limits<int64_t>::max() / perEpoch
                   ? std::numeric_limits<int64_t>::max()
                   : o.epochs * perEpoch;
  if (o.maxSteps > 0)
    totalSteps = std::min(totalSteps, o.maxSteps);
  setUpSlicing(true);

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
    // AdamW moments for the trained parameters only: frozen ones have none.
    for (const std::string &name : trained) {
      TensorData zeros = state.tensors.at(name);
      std::fill(zeros.bytes.begin(), zeros.bytes.end(), 0);
      state.tensors["adam.m." + name] = zeros;
      state.tensors["adam.v." + name] = zeros;
    }
  }

  // Rank 0 alone writes the log (and checkpoints, plots, samples).
  std::string logPath = (fs::path(o.outDir) / "log.jsonl").string();
  if (startStep > 0 && leader())
    repairLog(logPath, startStep);
  std::ofstream log;
  if (leader())
    log.open(logPath, startStep > 0 ? std::ios::app : std::ios::trunc);
  // Each record is flushed as it is written: a kill loses at most the line
  // being written, which the next resume drops.
  auto record = [&](const OrderedJson &r) {
    if (!leader())
      return;
    log << r.dump() << "\n" << std::flush;
    if (!log)
      throw RuntimeError("cannot write the log '" + logPath +
                         "': " + std::strerror(errno));
  };
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);

  int64_t frozen = static_cast<int64_t>(params.size() - trained.size());
  say() << perEpoch << " batches of " << o.batchSize << " per epoch, "
        << totalSteps << " steps"
        << (frozen ? ", " + std::to_string(trained.size()) + " of " +
                         std::to_string(params.size()) +
                         " parameter tensors trained"
                   : "")
        << (startStep ? ", resuming after step " : "")
        << (startStep ? std::to_string(startStep) : "") << "\n";
  if (sliced) {
    // How the global batch is split: rank 0's share tells the rest.
    std::vector<BatchSlice> mine = slicesOf(o.batchSize);
    say() << "each batch of " << o.batchSize << ": " << comm.size()
          << (comm.size() == 1 ? " rank" : " ranks") << " x " << mine.size()
          << (mine.size() == 1 ? " micro-batch" : " micro-batches") << " of "
          << (mine.empty() ? 0 : mine.front().rows) << " rows, gradients "
          << "summed ";
    if (deviceSums)
      say() << "on the GPUs (NCCL)\n";
    else
      say() << "in " << buckets.size()
            << (buckets.size() == 1 ? " bucket" : " buckets") << "\n";
  }
  bool tty = o.progress && isatty(2) && leader();
  std::vector<double> stepLoss(startStep, std::nan(""));
  std::vector<EvalPoint> evals;
  // Tokens seen (padding included); a checkpoint without the count
  // (before it was kept) is assumed to have had full batches.
  int64_t tokens = startTokens >= 0 ? startTokens
                                    : startStep * o.batchSize * o.contextLength;
  // On a GPU, parameters and moments stay there from step to step: each
  // step's new values replace the inputs on the device, and only the loss
  // comes back (checkpoints fetch the rest).
  if (exec.onDevice()) {
    std::set<std::string> names;
    for (const ParamSpec &p : params)
      names.insert(p.name);
    bool grads = deviceSums;
    exec.keepOnDevice([names, grads](const std::string &n) {
      return n.rfind("adam.", 0) == 0 || names.count(n) > 0 ||
             (grads && n.rfind("grad.", 0) == 0);
    });
    exec.feedOutputsBack(true);
  }
  double stepSeconds = 0, commSeconds = 0;
  // The buffers a host step writes the new parameters and moments to.
  std::map<std::string, std::vector<uint8_t>> spare;
  auto started = std::chrono::steady_clock::now();
  int64_t epoch = -1, tokensAtStart = tokens;
  for (int64_t step = startStep + 1; step <= totalSteps; ++step) {
    int64_t e = (step - 1) / perEpoch, b = (step - 1) % perEpoch;
    if (e != epoch) {
      trainLoader.startEpoch(e);
      epoch = e;
    }
    Batch batch = trainLoader.batch(b);
    auto stepStart = std::chrono::steady_clock::now();
    comm.takeCommSeconds();
    feed(batch);
    tokens += batch.rows * batch.length;
    double lr = learningRate(step);
    state.tensors["lr"] = scalar(lr);
    state.tensors["step"] = scalar(static_cast<double>(step));
    state.tensors["weight_decay"] = scalar(o.weightDecay);
    // As the book's appendix D: no clipping during the warmup; a clip norm
    // of 0 clips nothing in a step built with clipping.
    state.tensors["clip_norm"] = scalar(
        step > o.warmupSteps && o.clipGradNorm > 0 ? o.clipGradNorm : 1e30);
    // Gradients are not copied out; the step is rerun for them only to name
    // the culprit of a non-finite loss (the step is deterministic).
    auto isGrad = [](const std::string &name) {
      return name.rfind("grad.", 0) == 0;
    };
    bool stop = false;
    double l = 0;
    std::map<std::string, TensorData> out;
    // On the host, the step writes each new parameter and moment into its
    // spare buffer, swapped with the state's once the loss is finite:
    // copying them out and freeing the old ones took a third of a GPT-2
    // 124M step.
    std::set<std::string> written;
    struct Unset {
      Executor &exec;
      ~Unset() {
        exec.writeOutputsTo(nullptr);
        exec.donateInputs(false);
      }
    } unset{exec};
    auto giveSpares = [&] {
      if (!exec.onDevice())
        exec.writeOutputsTo([&](const std::string &n, int64_t bytes) -> void * {
          auto it = state.tensors.find(n);
          if (isGrad(n) || it == state.tensors.end() ||
              static_cast<int64_t>(it->second.bytes.size()) != bytes)
            return nullptr;
          std::vector<uint8_t> &buffer = spare[n];
          buffer.resize(static_cast<size_t>(bytes));
          written.insert(n);
          return buffer.data();
        });
    };
    if (sliced) {
      l = slicedGradients(batch, step, stop);
      // The loss is known before the update, so on the host it writes the
      // new weights and moments over the old (Executor::donateInputs)
      // where each output updates the state entry of its own name.
      auto over = exec.donatable("adamw_step");
      bool inPlace = !exec.onDevice() && !over.empty() &&
                     std::all_of(over.begin(), over.end(), [](const auto &kv) {
                       return kv.first == kv.second;
                     });
      if (inPlace)
        exec.donateInputs(true);
      else
        giveSpares();
      if (std::isfinite(l))
        out = exec.run("adamw_step", state, o.data, step,
                       [&](const std::string &n) {
                         return !exec.onDevice() && !isGrad(n) &&
                                !(inPlace && over.count(n));
                       });
      exec.donateInputs(false);
    } else {
      giveSpares();
      out = exec.run("train_step", state, o.data, step,
                     [&](const std::string &n) {
                       return exec.onDevice() ? n == "loss" : !isGrad(n);
                     });
      l = scalarOf(out.at("loss"));
      stop = stopRequested;
    }
    exec.writeOutputsTo(nullptr);
    if (!std::isfinite(l)) {
      std::string culprit;
      std::map<std::string, TensorData> rerun;
      if (!sliced)
        rerun = exec.run("train_step", state, o.data, step, isGrad);
      for (auto &[name, t] : sliced ? state.tensors : rerun)
        if (isGrad(name) && !allFinite(t)) {
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
      if (state.tensors.count(name) && !isGrad(name))
        state.tensors[name] = std::move(t);
    for (const std::string &name : written)
      state.tensors[name].bytes.swap(spare[name]);
    stepSeconds += std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - stepStart)
                       .count();
    commSeconds += comm.takeCommSeconds();
    stepLoss.push_back(l);
    record({{"step", step},
            {"epoch", e + 1},
            {"tokens", tokens},
            {"loss", l},
            {"lr", lr}});
    bool last = step == totalSteps;
    // The final state is kept before the last evaluation and sample, so a
    // failure there loses nothing.
    if (last)
      saveCheckpoint(ckptPath, step, tokens);

    double elapsed = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - started)
                         .count();
    double perStep = elapsed / static_cast<double>(step - startStep);
    int64_t tokPerSec = static_cast<int64_t>(
        static_cast<double>(tokens - tokensAtStart) / std::max(elapsed, 1e-9));
    if (tty) {
      int width = 24, done = static_cast<int>(width * step / totalSteps);
      say() << "\r  step " << step << "/" << totalSteps << " ["
            << std::string(done, '#') << std::string(width - done, '.')
            << "] loss " << std::fixed << std::setprecision(3) << l << " lr "
            << std::scientific << std::setprecision(2) << lr << std::fixed
            << " " << tokPerSec << " tok/s ETA "
            << duration(perStep * (totalSteps - step)) << "   " << std::flush;
    }
    if ((o.evalInterval > 0 && step % o.evalInterval == 0) || last) {
      double tl = meanLoss(trainLoader, o.evalIters);
      double vl = meanLoss(valLoader, o.evalIters);
      evals.push_back({step, tokens, tl, vl});
      record({{"step", step},
              {"tokens", tokens},
              {"train_loss", tl},
              {"val_loss", vl}});
      say() << (tty ? "\r" : "") << "Ep " << e + 1 << " (step " << step << ", "
            << tokens << " tokens): train loss " << std::fixed
            << std::setprecision(3) << tl;
      if (kind != DataKind::Classes)
        say() << " (perplexity " << std::setprecision(1) << std::exp(tl) << ")";
      say() << ", val loss " << std::setprecision(3) << vl;
      if (kind != DataKind::Classes)
        say() << " (perplexity " << std::setprecision(1) << std::exp(vl) << ")";
      say() << ", " << tokPerSec << " tok/s, ETA "
            << duration(perStep * (totalSteps - step))
            << (tty ? "          " : "") << "\n";
    }
    // A classifier's accuracy at the end of each epoch (over eval_iters
    // batches, as the book) and over every text at the end.
    if (kind == DataKind::Classes && (b + 1 == perEpoch || last)) {
      int64_t n = last ? std::numeric_limits<int64_t>::max() : o.evalIters;
      double ta = accuracy(trainLoader, n), va = accuracy(valLoader, n),
             sa = accuracy(*testLoader, n);
      record({{"step", step},
              {"epoch", e + 1},
              {"batches", last ? "all" : std::to_string(o.evalIters)},
              {"train_accuracy", ta},
              {"val_accuracy", va},
              {"test_accuracy", sa}});
      say() << (tty ? "\r" : "") << (last ? "Accuracy over every text" : "Ep ")
            << (last ? "" : std::to_string(e + 1)) << ": training "
            << percent(ta) << ", validation " << percent(va) << ", test "
            << percent(sa) << (tty ? "          " : "") << "\n";
    }
    // A model without next-token logits (a classifier) has no text to show.
    if (samples && leader() &&
        ((o.sampleInterval > 0 && step % o.sampleInterval == 0) || last))
      say() << "  sample: " << sample() << "\n";
    if (o.checkpointInterval > 0 && step % o.checkpointInterval == 0)
      saveCheckpoint(ckptPath, step, tokens);
    // Every rank stops at the same step: the ranks' flags were summed.
    if (step == o.stopAfter)
      stop = true;
    if (stop || last) {
      if (!last)
        saveCheckpoint(ckptPath, step, tokens);
      std::string plot = (fs::path(o.outDir) / "loss.svg").string();
      if (leader())
        writePlot(plot, stepLoss, evals, tokens / std::max<int64_t>(1, step));
      if (leader() && last && kind == DataKind::Instructions &&
          o.responseTokens > 0 && !testRecords.empty())
        writeResponses((fs::path(o.outDir) / "test-responses.json").string());
      say() << (stop && !last ? "interrupted: " : "done: ") << "checkpoint "
            << ckptPath << " (step " << step << "), log " << logPath
            << ", loss curve " << plot << "\n";
      // Step time alone (no evaluation, samples or checkpoints).
      say() << step - startStep << " steps in " << std::fixed
            << std::setprecision(2) << stepSeconds << " s, "
            << static_cast<int64_t>(
                   static_cast<double>(tokens - tokensAtStart) /
                   std::max(stepSeconds, 1e-9))
            << " tokens/s";
      if (comm.distributed())
        say() << "; rank 0 in collectives " << commSeconds << " s ("
              << percent(commSeconds / std::max(stepSeconds, 1e-9)) << ")";
      say() << "\n";
      return 0;
    }
  }
  say() << "nothing to do: the checkpoint is at step " << startStep << " of "
        << totalSteps << "\n";
  return 0;
}

} // namespace

int runTrainer(Executor &exec, const TrainerOptions &options) {
  return Trainer(exec, exec.getPlan(), options).run();
}

} // namespace gptc
