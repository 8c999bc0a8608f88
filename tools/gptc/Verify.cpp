//===- Verify.cpp - `gptc run --verify`: kernels against the oracle -------===//
//
// Algorithm:
//  1. The host program makes one call per top-level kernel op of a
//     function, in order (gpt.kernel, attention, its gradient, the KV-cache
//     ops); reshapes are views. So call i of the trace belongs to the i-th
//     such op of the compiled IR.
//  2. The interpreter runs the function; after each kernel op, its results
//     are compared with the call's outputs and then replaced by them.
//  3. A differing call is reported at the op that computes the kernel's
//     result, with a note for each other op fused into it.
//
//===----------------------------------------------------------------------===//

#include "Verify.h"

#include "gptc/IR/GptOps.h"
#include "gptc/IR/SourceLoc.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <cstdio>
#include <limits>

using namespace mlir;
using namespace gptc::gpt;

namespace gptc {

namespace {

bool makesCall(Operation *op) {
  return isa<KernelOp, AttentionOp, AttentionGradOp, CacheWriteOp,
             CachedAttentionOp>(op);
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string indexText(const std::vector<int64_t> &shape, int64_t flat) {
  std::vector<int64_t> ix(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    ix[d] = flat % shape[d];
    flat /= shape[d];
  }
  std::string s = "[";
  for (size_t d = 0; d < ix.size(); ++d)
    s += (d ? ", " : "") + std::to_string(ix[d]);
  return s + "]";
}

/// How far `got` is from `want`: the largest difference over the largest
/// magnitude of `want`; where either is not finite, 0 if they are the same
/// value (NaN included) and infinite otherwise.
struct Difference {
  double error = 0;
  int64_t at = 0; ///< The element with the largest difference.
};

Difference compare(const std::vector<double> &got,
                   const std::vector<double> &want) {
  Difference d;
  double largest = 0, scale = 1e-6;
  for (size_t i = 0; i < want.size(); ++i) {
    double diff = std::fabs(got[i] - want[i]);
    if (!std::isfinite(got[i]) || !std::isfinite(want[i])) {
      bool same =
          got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i]));
      diff = same ? 0 : std::numeric_limits<double>::infinity();
    }
    if (diff > largest) {
      largest = diff;
      d.at = static_cast<int64_t>(i);
    }
    if (std::isfinite(want[i]))
      scale = std::max(scale, std::fabs(want[i]));
  }
  d.error = largest / scale;
  return d;
}

/// What the kernel op computes: its kind and op count, for messages.
std::string kernelText(Operation *op) {
  auto k = dyn_cast<KernelOp>(op);
  if (!k)
    return op->getName().getStringRef().str();
  auto body = k.getBody().front().without_terminator();
  auto n = static_cast<size_t>(std::distance(body.begin(), body.end()));
  return "a " + k.getKind().str() + " kernel of " + std::to_string(n) + " op" +
         (n == 1 ? "" : "s");
}

/// The op whose location names the kernel's result `output`: its producer.
Operation *resultOp(Operation *op, size_t output) {
  if (auto k = dyn_cast<KernelOp>(op))
    if (Operation *def = cast<YieldOp>(k.getBody().front().getTerminator())
                             .getValues()[output]
                             .getDefiningOp())
      return def;
  return op;
}

class Verifier {
public:
  Verifier(const VerifyOptions &o, const SafetensorsFile &trace,
           const SourceManager &sm, std::ostream &err)
      : options(o), trace(trace), sm(sm), err(err) {}

  /// Runs `fn` on `args`; returns the number of differing calls.
  int check(func::FuncOp fn, const std::vector<Buffer> &args,
            InterpreterOptions interp, std::ostream &os) {
    name = fn.getName().str();
    calls = differing = 0;
    worst = 0;
    interp.afterOp = [&](Operation *op, std::vector<Buffer> &results) {
      if (makesCall(op))
        compareCall(op, results);
    };
    interpretAll(fn, args, interp);
    size_t traced = 0;
    while (trace.find(key(traced, 0)))
      ++traced;
    if (traced != calls)
      throw RuntimeError("the trace holds " + std::to_string(traced) +
                         " calls of @" + name + " but the IR makes " +
                         std::to_string(calls) +
                         ": it is not this model's trace");
    os << "@" << name << ": " << calls << " kernel calls, " << calls - differing
       << " agree with the interpreter (largest error " << number(worst)
       << ", tolerance " << number(options.tolerance) << ")\n";
    return differing;
  }

private:
  std::string key(size_t call, size_t output) const {
    return name + "." + std::to_string(call) + "." + std::to_string(output);
  }

  void compareCall(Operation *op, std::vector<Buffer> &results) {
    size_t call = calls++;
    bool differs = false;
    for (size_t j = 0; j < results.size(); ++j) {
      const TensorData *t = trace.find(key(call, j));
      if (!t || t->shape != results[j].shape)
        throw RuntimeError("call " + std::to_string(call) + " of @" + name +
                           " in the trace has no output " + std::to_string(j) +
                           " of shape " + gpt::formatShape(results[j].shape) +
                           ": it is not this model's trace");
      std::vector<double> got = t->toDoubles();
      Difference d = compare(got, results[j].data);
      bool exact = t->dtype != DType::F32;
      bool bad = exact ? d.error > 0 : !(d.error <= options.tolerance);
      if (!exact)
        worst = std::max(worst, d.error);
      if (bad && !differs) {
        differs = true;
        report(op, call, j, d, got[d.at], results[j]);
      }
      results[j].data = std::move(got);
    }
    differing += differs;
  }

  void report(Operation *op, size_t call, size_t output, const Difference &d,
              double got, const Buffer &want) {
    if (++reported > kMaxReports)
      return;
    Operation *root = resultOp(op, output);
    std::string what = root == op ? "call " + std::to_string(call) + " of @" +
                                        name + " (" + kernelText(op) + ")"
                                  : root->getName().getStringRef().str() +
                                        ", the result of call " +
                                        std::to_string(call) + " of @" + name +
                                        " (" + kernelText(op) + "),";
    std::string message =
        what + " differs from the interpreter: output " +
        std::to_string(output) + " " + gpt::formatShape(want.shape) +
        " is off by " + number(d.error) +
        " of its largest magnitude, over the tolerance " +
        number(options.tolerance) + " (at " + indexText(want.shape, d.at) +
        ": compiled " + precise(got) + ", interpreted " +
        precise(want.data[d.at]) + ")";
    if (reported == kMaxReports)
      message += "; later differences are counted, not shown";
    Diagnostic diag = diagnosticAt(root->getLoc(), message, sm);
    if (auto k = dyn_cast<KernelOp>(op))
      for (Operation &inner : k.getBody().front().without_terminator()) {
        if (&inner == root || isa<tensor::EmptyOp>(inner))
          continue;
        std::string scope = scopeOf(inner.getLoc());
        diag.note(sourceLocation(inner.getLoc(), sm),
                  inner.getName().getStringRef().str() +
                      (scope.empty() ? "" : " (in " + scope + ")") +
                      ", fused into this kernel");
      }
    printDiagnostic(err, diag);
  }

  static std::string precise(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
  }

  static constexpr int kMaxReports = 5;
  int reported = 0; ///< Diagnostics printed, over all functions.

  const VerifyOptions &options;
  const SafetensorsFile &trace;
  const SourceManager &sm;
  std::ostream &err;
  std::string name;
  size_t calls = 0;
  int differing = 0;
  double worst = 0;
};

} // namespace

int verifyTrace(ModuleOp module, const VerifyOptions &options,
                const SourceManager &sm, std::ostream &os, std::ostream &err) {
  SafetensorsFile in = readSafetensors(options.run.inputPath);
  SafetensorsFile trace = readSafetensors(options.tracePath);
  ContractFunction c = contractFunction(module, in, options.run);
  Verifier v(options, trace, sm, err);
  int differing = v.check(
      c.func, bindArguments(c.func, in, options.run.inputPath), c.interp, os);
  // A loss or a training step is followed by @forward for the logits.
  if (c.func.getName() != "forward") {
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    differing +=
        v.check(forward, bindArguments(forward, in, options.run.inputPath),
                InterpreterOptions{}, os);
  }
  return differing;
}

} // namespace gptc
