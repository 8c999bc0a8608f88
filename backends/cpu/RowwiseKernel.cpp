//===- RowwiseKernel.cpp - Row-wise kernel families -----------------------===//
//
// Schedule: rows are independent, so rows run in parallel; within a row the
// reductions (mean, variance; max, sum of exponentials) are computed once
// into scalars and the elementwise output is vectorized. The reductions are
// sequential per row: at GPT-2 widths they are a small share next to the
// matmuls, and a sequential sum makes results independent of the thread
// count.
//
//===----------------------------------------------------------------------===//

#include "RowwiseKernel.h"

#include "gptc/Runtime/Error.h"

#include <cmath>
#include <cstdlib>

using namespace Halide;

namespace gptc {

namespace {

double floatParam(const KernelDesc &d, const std::string &key, double dflt) {
  std::string v = d.param(key, "");
  if (v.empty())
    return dflt;
  char *end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (*end || !std::isfinite(x))
    throw RuntimeError("kernel '" + d.name + "': '" + key +
                       "' must be a number, got '" + v + "'");
  return x;
}

} // namespace

void compileRowwiseKernel(const KernelDesc &desc, const std::string &prefix,
                          const Target &target) {
  const int V = target.has_feature(Target::AVX512) ? 16 : 8;
  ImageParam x(Float(32), 2, "x");
  Var c("c"), r("r");
  Expr C = x.dim(0).extent();
  RDom k(0, C, "k");
  Func out(desc.name);
  std::vector<Argument> args = {x};
  std::vector<Func> stats;

  if (desc.family == "layer_norm") {
    double eps = floatParam(desc, "eps", 1e-5);
    if (!(eps > 0))
      throw RuntimeError("kernel '" + desc.name + "': eps must be positive");
    ImageParam w(Float(32), 1, "w"), b(Float(32), 1, "b");
    Func mean("mean"), var("var"), rstd("rstd");
    mean(r) = sum(x(k, r)) / cast<float>(C);
    Expr d = x(k, r) - mean(r);
    var(r) = sum(d * d) / cast<float>(C);
    rstd(r) = 1.0f / sqrt(var(r) + static_cast<float>(eps));
    out(c, r) = (x(c, r) - mean(r)) * rstd(r) * w(c) + b(c);
    args.push_back(w);
    args.push_back(b);
    stats = {mean, var, rstd};
  } else if (desc.family == "softmax") {
    float scale = static_cast<float>(floatParam(desc, "scale", 1.0));
    std::string causal = desc.param("causal", "false");
    if (causal != "true" && causal != "false")
      throw RuntimeError("kernel '" + desc.name +
                         "': causal must be true or false");
    Func s("scaled"), rowMax("row_max"), total("total");
    Expr v = x(c, r) * scale;
    if (causal == "true")
      v = select(c > r % C, Float(32).min(), v);
    s(c, r) = v;
    rowMax(r) = maximum(s(k, r));
    total(r) = sum(exp(s(k, r) - rowMax(r)));
    Expr e = exp(s(c, r) - rowMax(r)) / total(r);
    out(c, r) = causal == "true" ? select(c > r % C, 0.0f, e) : e;
    stats = {rowMax, total};
  } else {
    throw RuntimeError("kernel '" + desc.name + "': not a row-wise family: '" +
                       desc.family + "'");
  }

  out.parallel(r).vectorize(c, V, TailStrategy::GuardWithIf);
  for (Func &f : stats)
    f.compute_at(out, r);
  x.dim(0).set_stride(1);
  out.output_buffer().dim(0).set_stride(1);
  out.compile_to({{OutputFileType::object, prefix + ".o"},
                  {OutputFileType::c_header, prefix + ".h"}},
                 args, desc.name, target);
}

} // namespace gptc
