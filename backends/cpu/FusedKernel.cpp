//===- FusedKernel.cpp - The fused kernel family --------------------------===//
//
// A `fused` description lists a gpt.kernel body op by op (HostProgram.cpp).
// Each op becomes a Halide Func over the same indices (numpy order here,
// reversed for Halide, whose first dim is the innermost): elementwise and
// layout ops are pure Funcs that Halide inlines into their consumer, so a
// chain of them costs one pass over memory; reductions are explicit Funcs.
//
// Schedule:
//  1. Reductions inside the kernel (row means, softmax maxima and sums,
//     batched products) are computed once, into kernel-local buffers,
//     rows in parallel (tasks of several rows), each row summed
//     sequentially so the result does not depend on the thread count.
//  2. The output is vectorized along its innermost dim (tails guarded) and
//     runs in parallel over its outer dims fused together, in tasks of
//     several rows.
//  3. An output that is itself a reduction (bias gradients, embedding
//     gradients, the loss) keeps the reduction loop sequential inside each
//     vector of output columns, parallel over column blocks.
//
//===----------------------------------------------------------------------===//

#include "FusedKernel.h"
#include "FastMath.h"

#include "gptc/IR/OpInfo.h"
#include "gptc/Runtime/Philox.h"
#include "gptc/Support/Error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

using namespace Halide;

namespace gptc {

namespace {

std::vector<std::string> splitOn(const std::string &s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep))
    parts.push_back(cur);
  if (!s.empty() && s.back() == sep)
    parts.push_back("");
  return parts;
}

/// A tensor inside the kernel: a Func indexed in numpy order.
struct Tensor {
  Func f;
  std::vector<Expr> shape;
  std::vector<std::string> dims; ///< The sizes as written ("1" matters).
  Type type = Float(32);
  /// A reduction's update loops (scheduled with the Func), if any.
  std::vector<RVar> rvars;
  bool hasUpdate = false, scheduled = false;
  /// For a reshape of every dim into one, its operand: a sum of the whole
  /// tensor walks the operand's rows instead of splitting each flat index
  /// with a division (gathers: 12 GB/s instead of 32).
  const Tensor *flatOf = nullptr;

  Expr at(std::vector<Expr> idx) const {
    std::reverse(idx.begin(), idx.end());
    if (idx.empty())
      return f();
    return f(idx);
  }
  size_t rank() const { return shape.size(); }
};

class FusedBuilder {
public:
  FusedBuilder(const KernelDesc &d, const Target &t) : desc(d), target(t) {}
  void compile(const std::string &prefix);

private:
  [[noreturn]] void fail(const std::string &what) const {
    throw RuntimeError("kernel '" + desc.name + "': " + what);
  }
  Expr dimExpr(const std::string &text);
  Type typeOf(const std::string &dtype);
  void parseShape(const std::string &text, Tensor &t);
  Tensor &value(const std::string &name);
  double numAttr(const std::map<std::string, std::string> &a,
                 const std::string &key);
  std::vector<int64_t> listAttr(const std::map<std::string, std::string> &a,
                                const std::string &key);

  /// The indices of operand `x` read for result indices `idx` under
  /// broadcasting (aligned right; size-1 dims read index 0).
  std::vector<Expr> broadcastIdx(const Tensor &x,
                                 const std::vector<Expr> &idx) const;
  /// A reduction domain over every element of `t`, and its index.
  std::pair<RDom, std::vector<Expr>> everyElement(const Tensor &t,
                                                  const std::string &rname);
  /// Defines `r.f` by `body(indices)`.
  template <typename F> void define(Tensor &r, F body);
  /// Lowers one op line of the description into `values`.
  void lowerOp(const std::string &line);

  // The op being lowered: lowerOp sets these, then calls its lowering.
  std::string name, op;                     ///< "v3", "add"
  std::vector<Tensor *> args;               ///< Its operands.
  std::map<std::string, std::string> attrs; ///< Its attributes, as text.
  Tensor r;                                 ///< Its result.
  int rank = 0;                             ///< The result's rank.

  /// Fails unless the op has `n` operands.
  void need(size_t n) const;
  /// Defines `r` elementwise from one or two (broadcast) operands.
  template <typename F> void unary(F fn);
  template <typename F> void binary(F fn);
  /// A reduction along `axis` of x: a kernel-local Func of x's other dims,
  /// returned as a function of the indices of x (the axis index ignored).
  template <typename Combine, typename Elem>
  std::function<Expr(std::vector<Expr>)>
  reduceAlong(const Tensor &x, int axis, Combine combine, Expr init, Elem elem);
  /// The row width C of `x`'s operand when `x` flattens it and C is a
  /// constant multiple of the vector width (a CPU target), else 0: a sum
  /// of x then walks whole rows of the operand, so each vector's flat index
  /// is row * C + a multiple of V and the reshape's division folds away.
  int64_t flatRowWidth(const Tensor &x) const;
  /// A dim of a slice (or unslice) box: its start in `whole`, the sliced
  /// tensor, and whether the slice drops it.
  struct SliceDim {
    Expr start;
    bool squeezed;
  };
  /// The box of the current slice or unslice op over `whole`.
  std::vector<SliceDim> sliceDims(const Tensor &whole);
  /// Ops lowered alike: sum, mean, max, var; softmax, log_softmax;
  /// cross_entropy and its gradient.
  void lowerReduction();
  void lowerSoftmaxLike();
  void lowerCrossEntropyLike();
  /// The lowering of each op GptOps.td assigns to the fused family: a
  /// missing one fails to link, naming the op.
#define GPT_FUSED_OP(Mnemonic, Class) void lower##Class();
#include "gptc/IR/GptOpTable.inc"
  /// Schedules a kernel-local reduction Func of `rank` dims whose every
  /// element reduces `reduced` inputs.
  void computeRoot(Func f, int rank, Expr reduced);
  /// Schedules a reduction Func (kernel-local or the output): pure init
  /// vectorized; the update vectorized across output columns with the
  /// reduction loops inside, parallel over column blocks or outer dims.
  void scheduleReduction(Func f, int rank, const std::vector<RVar> &rvars);
  /// GPU targets: `s` runs one GPU thread per point of its pure vars
  /// (fused, blocks of kGpuThreads), reduction loops inside the thread; a
  /// stage without pure vars runs as one thread.
  void gpuThreads(Stage s, const std::vector<Var> &vars);
  /// Computes `f` at root on the GPU, both its stages one thread per point.
  void gpuRoot(Func f);
  /// Single-thread reductions to a scalar: on the GPU when targeting one.
  void scalarRoot(Func f);
  /// The op producing the output is defined as the output Func itself.
  Func newFunc(const std::string &name) {
    if (name != outName)
      return Func(name);
    outputFunc = Func(desc.name);
    return outputFunc;
  }
  std::string outName;
  Func outputFunc; ///< Defined once the op producing the output is lowered.
  int reductionCount = 0;

  const KernelDesc &desc;
  const Target &target;
  std::map<std::string, Param<int32_t>> syms;
  Param<uint32_t> seedLo{"seed_lo"}, seedHi{"seed_hi"}, step{"step"};
  /// The batch slice this call computes: its first row in the whole batch
  /// and its row count (docs/RNG.md).
  Param<uint32_t> firstRow{"first_row"}, rowCount{"row_count"};
  bool usesRng = false;
  std::vector<ImageParam> inputs;
  std::map<std::string, Tensor> values;
  std::vector<Func> reductions; ///< Output-rank-known, scheduled at the end.
  int vectorLanes() const {
    return target.has_feature(Target::AVX512) ? 16 : 8;
  }
  const bool gpu = target.has_gpu_feature();
};

constexpr int kGpuThreads = 128;
/// Partials one GPU thread combines in a reduction's second level.
constexpr int kGpuFan = 256;
/// Rows of the outermost reduced dim one GPU thread sums in a column
/// reduction's first level.
constexpr int kGpuSliceRows = 8;
/// Elements a parallel task covers at least (64 KiB of fp32): enough to
/// amortize handing the task to a thread.
constexpr int kTaskElems = 16384;

void FusedBuilder::gpuThreads(Stage s, const std::vector<Var> &vars) {
  if (vars.empty()) {
    s.gpu_single_thread();
    return;
  }
  Var all = vars[0];
  for (size_t i = 1; i < vars.size(); ++i) {
    Var fused(all.name() + "_" + vars[i].name());
    s.fuse(all, vars[i], fused);
    all = fused;
  }
  Var block("block"), thread("thread");
  s.gpu_tile(all, block, thread, kGpuThreads, TailStrategy::GuardWithIf);
}

void FusedBuilder::gpuRoot(Func f) {
  f.compute_root();
  gpuThreads(f, f.args());
  for (int i = 0; i < f.num_update_definitions(); ++i)
    gpuThreads(f.update(i), f.args());
}

void FusedBuilder::scalarRoot(Func f) {
  f.compute_root();
  if (!gpu)
    return;
  f.gpu_single_thread();
  for (int i = 0; i < f.num_update_definitions(); ++i)
    f.update(i).gpu_single_thread();
}

Expr FusedBuilder::dimExpr(const std::string &text) {
  Expr e;
  for (const std::string &f : splitOn(text, '*')) {
    Expr factor;
    if (!f.empty() && std::isdigit(static_cast<unsigned char>(f[0])))
      factor = static_cast<int32_t>(std::stoll(f));
    else if (auto it = syms.find(f); it != syms.end())
      factor = it->second;
    else
      fail("unknown size '" + f + "' in '" + text + "'");
    e = e.defined() ? e * factor : factor;
  }
  return e;
}

Type FusedBuilder::typeOf(const std::string &dtype) {
  if (dtype == "f32")
    return Float(32);
  if (dtype == "i32")
    return Int(32);
  if (dtype == "u8")
    return UInt(8);
  fail("unknown element type '" + dtype + "'");
}

void FusedBuilder::parseShape(const std::string &text, Tensor &t) {
  if (text == "-")
    return;
  for (const std::string &d : splitOn(text, ',')) {
    t.dims.push_back(d);
    t.shape.push_back(dimExpr(d));
  }
}

Tensor &FusedBuilder::value(const std::string &name) {
  auto it = values.find(name);
  if (it == values.end())
    fail("unknown value '" + name + "'");
  return it->second;
}

double FusedBuilder::numAttr(const std::map<std::string, std::string> &a,
                             const std::string &key) {
  auto it = a.find(key);
  if (it == a.end())
    fail("missing attribute '" + key + "'");
  if (it->second == "true" || it->second == "false")
    return it->second == "true";
  return std::stod(it->second);
}

std::vector<int64_t>
FusedBuilder::listAttr(const std::map<std::string, std::string> &a,
                       const std::string &key) {
  auto it = a.find(key);
  if (it == a.end())
    fail("missing attribute '" + key + "'");
  std::vector<int64_t> r;
  if (it->second != "-")
    for (const std::string &x : splitOn(it->second, ','))
      r.push_back(std::stoll(x));
  return r;
}

std::vector<Expr>
FusedBuilder::broadcastIdx(const Tensor &x,
                           const std::vector<Expr> &idx) const {
  std::vector<Expr> r;
  size_t off = idx.size() - x.rank();
  for (size_t i = 0; i < x.rank(); ++i)
    r.push_back(x.dims[i] == "1" ? Expr(0) : idx[off + i]);
  return r;
}

std::pair<RDom, std::vector<Expr>>
FusedBuilder::everyElement(const Tensor &t, const std::string &rname) {
  Region box;
  for (size_t i = 0; i < t.rank(); ++i)
    box.push_back(Range(0, t.shape[i]));
  RDom dom(box, rname);
  std::vector<Expr> at;
  for (size_t i = 0; i < t.rank(); ++i)
    at.push_back(dom[i]);
  return {dom, at};
}

template <typename F> void FusedBuilder::define(Tensor &r, F body) {
  std::vector<Var> vars;
  for (size_t i = 0; i < r.rank(); ++i)
    vars.push_back(Var("i" + std::to_string(i)));
  std::vector<Expr> idx(vars.begin(), vars.end());
  Expr e = body(idx);
  if (e.type() != r.type)
    e = cast(r.type, e);
  std::vector<Var> rev(vars.rbegin(), vars.rend());
  if (rev.empty())
    r.f() = e;
  else
    r.f(rev) = e;
}

void FusedBuilder::computeRoot(Func f, int rank, Expr reduced) {
  if (gpu)
    return gpuRoot(f);
  f.compute_root();
  if (rank == 0)
    return;
  // Its elements in parallel, each reduced in order, as many to a task as
  // cover about kTaskElems inputs: over the outer dim alone, a batch of one
  // (W2, prefill) reduced every row of the loss on one thread.
  Expr perTask = max(1, kTaskElems / max(1, reduced));
  for (Stage s : {Stage(f), f.update()}) {
    std::vector<Var> v = f.args();
    Var all = v[0];
    for (int i = 1; i < rank; ++i) {
      Var fused("rows" + std::to_string(i));
      s.fuse(all, v[i], fused);
      all = fused;
    }
    Var task("task"), item("item");
    s.split(all, task, item, perTask, TailStrategy::GuardWithIf).parallel(task);
  }
}

void FusedBuilder::scheduleReduction(Func f, int rank,
                                     const std::vector<RVar> &rvars) {
  if (gpu) {
    // Output elements one per thread, the reduction sequential inside,
    // after a first level that sums slices of kGpuSliceRows of the
    // outermost reduced dim, one thread per (element, slice): GPT-2's 768
    // bias-gradient columns alone are six blocks, which occupy six of an
    // H200's 132 multiprocessors.
    if (!rvars.empty()) {
      RVar ro("ro"), ri("ri");
      Var slice("slice");
      Stage u = f.update();
      u.split(rvars.back(), ro, ri, kGpuSliceRows);
      gpuRoot(u.rfactor(ro, slice));
    }
    gpuThreads(f, f.args());
    gpuThreads(f.update(), f.args());
    return;
  }
  const int V = vectorLanes();
  std::vector<Var> vars = f.args();
  if (rank == 0)
    return;
  f.vectorize(vars[0], V, TailStrategy::GuardWithIf);
  if (rank >= 2)
    f.parallel(vars[rank - 1]);
  Var co("co"), ci("ci");
  std::vector<VarOrRVar> order{ci};
  for (const RVar &r : rvars)
    order.push_back(r);
  order.push_back(co);
  for (int i = 1; i < rank; ++i)
    order.push_back(vars[i]);
  Stage u = f.update();
  u.split(vars[0], co, ci, V, TailStrategy::GuardWithIf)
      .reorder(order)
      .vectorize(ci);
  if (rank >= 2)
    u.parallel(vars[rank - 1]);
  else
    u.parallel(co);
}

/// Philox4x32-10 of (counter, key) in Halide, word `lane` of the result
/// (runtime/Philox.h is the reference; docs/RNG.md the mapping).
Expr philoxWord(Expr c0, Expr c1, Expr c2, Expr c3, Expr k0, Expr k1,
                Expr lane) {
  const uint32_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57;
  const uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
  for (int round = 0; round < 10; ++round) {
    if (round) {
      k0 = k0 + Expr(kWeyl0);
      k1 = k1 + Expr(kWeyl1);
    }
    Expr p0 = cast<uint64_t>(Expr(kMul0)) * cast<uint64_t>(c0);
    Expr p1 = cast<uint64_t>(Expr(kMul1)) * cast<uint64_t>(c2);
    Expr n0 = cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    Expr n1 = cast<uint32_t>(p1);
    Expr n2 = cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    Expr n3 = cast<uint32_t>(p0);
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
  }
  return select(lane == 0, c0, lane == 1, c1, lane == 2, c2, c3);
}

void FusedBuilder::need(size_t n) const {
  if (args.size() != n)
    fail(op + " expects " + std::to_string(n) + " operands");
}

template <typename F> void FusedBuilder::unary(F fn) {
  need(1);
  Tensor &x = *args[0];
  define(r, [&](auto idx) { return fn(x.at(idx)); });
}

template <typename F> void FusedBuilder::binary(F fn) {
  need(2);
  Tensor &a = *args[0], &b = *args[1];
  define(r, [&](auto idx) {
    return fn(a.at(broadcastIdx(a, idx)), b.at(broadcastIdx(b, idx)));
  });
}

template <typename Combine, typename Elem>
std::function<Expr(std::vector<Expr>)>
FusedBuilder::reduceAlong(const Tensor &x, int axis, Combine combine, Expr init,
                          Elem elem) {
  Func red(name + "_red" + std::to_string(reductionCount++));
  std::vector<Var> vars;
  for (size_t i = 0; i + 1 < x.rank(); ++i)
    vars.push_back(Var("j" + std::to_string(i)));
  RDom k(0, x.shape[axis], "k");
  auto inIdx = [&](Expr kk) {
    std::vector<Expr> idx;
    for (int i = 0, j = 0; i < static_cast<int>(x.rank()); ++i)
      idx.push_back(i == axis ? kk : Expr(vars[j++]));
    return idx;
  };
  std::vector<Var> rev(vars.rbegin(), vars.rend());
  std::vector<Expr> revE(rev.begin(), rev.end());
  if (rev.empty()) {
    // To a scalar: V-lane partial results over fixed chunks, reduced in
    // parallel, then the partials in order. The chunks depend on the shape
    // alone, so the result does not depend on the thread count.
    const int V = vectorLanes();
    Func part(name + "_part" + std::to_string(reductionCount++));
    Var lane("lane"), u("u");
    part(lane, u) = init;
    Expr parts;
    if (int64_t C = flatRowWidth(x)) {
      // Blocks of whole rows of the operand, about kTaskElems elements.
      const Tensor &src = *x.flatOf;
      Expr rows = 1;
      for (size_t d = 0; d + 1 < src.rank(); ++d)
        rows = rows * src.shape[d];
      const int perTask = std::max(1, static_cast<int>(kTaskElems / C));
      RDom c(0, static_cast<int>(C / V), 0, perTask, "c");
      Expr row = u * perTask + c.y;
      Expr i = clamp(row, 0, rows - 1) * static_cast<int>(C) + c.x * V + lane;
      part(lane, u) =
          combine(part(lane, u), select(row < rows, elem({i}), init));
      parts = (rows + perTask - 1) / perTask;
    } else {
      // kChunk flat elements each.
      const int kChunk = 64 * V;
      Expr n = x.shape[0];
      RDom c(0, kChunk / V, "c");
      Expr i = u * kChunk + c.x * V + lane;
      part(lane, u) = combine(part(lane, u),
                              select(i < n, elem({clamp(i, 0, n - 1)}), init));
      parts = (n + kChunk - 1) / kChunk;
    }
    red() = init;
    if (gpu) {
      // One GPU thread adds about one partial per 30 ns: the 600k partials
      // of GPT-2's token embedding took it 18 ms. A second level of
      // threads, each combining kGpuFan consecutive partials, leaves it
      // a few thousand.
      gpuRoot(part);
      Func part2(name + "_part" + std::to_string(reductionCount++));
      Var w("w");
      Expr flat = parts * V;
      RDom f(0, kGpuFan, "f");
      Expr i = w * kGpuFan + f.x;
      part2(w) = init;
      part2(w) = combine(
          part2(w),
          select(i < flat, part(i % V, clamp(i / V, 0, parts - 1)), init));
      gpuRoot(part2);
      RDom all(0, (flat + kGpuFan - 1) / kGpuFan, "all");
      red() = combine(red(), part2(all.x));
    } else {
      part.compute_root().vectorize(lane).parallel(u);
      part.update().vectorize(lane).parallel(u);
      RDom all(0, V, 0, parts, "all");
      red() = combine(red(), part(all.x, all.y));
    }
    scalarRoot(red);
    return [red](std::vector<Expr>) { return Expr(red()); };
  } else if (!gpu && axis + 1 == static_cast<int>(x.rank())) {
    // Along contiguous rows: lane j of a V-wide partial takes elements j,
    // j + V, ... of its row, then the lanes combine in order. Vector loads
    // and V independent chains instead of one; the order still depends on
    // the shape alone.
    const int V = vectorLanes();
    Func part(name + "_part" + std::to_string(reductionCount++));
    Var lane("lane");
    std::vector<Var> pv{lane};
    pv.insert(pv.end(), rev.begin(), rev.end());
    std::vector<Expr> pe(pv.begin(), pv.end());
    Expr n = x.shape[axis];
    RDom c(0, (n + V - 1) / V, "c");
    Expr i = c.x * V + lane;
    part(pv) = init;
    part(pv) =
        combine(part(pe), select(i < n, elem(inIdx(min(i, n - 1))), init));
    RDom l(0, V, "l");
    std::vector<Expr> pl{l.x};
    pl.insert(pl.end(), revE.begin(), revE.end());
    red(rev) = init;
    red(rev) = combine(red(revE), part(pl));
    // Each row's partials next to it, in computeRoot's row tasks.
    part.compute_at(red, Var("item")).vectorize(lane);
    part.update().reorder(lane, c.x).vectorize(lane);
  } else {
    red(rev) = init;
    red(rev) = combine(red(revE), elem(inIdx(k.x)));
  }
  computeRoot(red, static_cast<int>(vars.size()), x.shape[axis]);
  return [red, axis](std::vector<Expr> idx) {
    idx.erase(idx.begin() + axis);
    std::reverse(idx.begin(), idx.end());
    return idx.empty() ? Expr(red()) : Expr(red(idx));
  };
}

int64_t FusedBuilder::flatRowWidth(const Tensor &x) const {
  if (gpu || !x.flatOf)
    return 0;
  const int64_t *cols = as_const_int(x.flatOf->shape.back());
  return cols && *cols % vectorLanes() == 0 ? *cols : 0;
}

namespace {
Expr addF(Expr a, Expr b) { return a + b; }
// A select, not max(): Halide 14 miscompiles (invalid LLVM bitcast) a max()
// update of a compute_root Func scheduled as here.
Expr maxF(Expr a, Expr b) { return select(b > a, b, a); }
} // namespace

void FusedBuilder::lowerOp(const std::string &line) {
  // "v3 = add a0 v2 axis=2 : f32 B,T,32"
  size_t colon = line.rfind(" : ");
  if (colon == std::string::npos)
    fail("malformed op '" + line + "'");
  std::vector<std::string> lhs = splitOn(line.substr(0, colon), ' ');
  std::vector<std::string> type = splitOn(line.substr(colon + 3), ' ');
  if (lhs.size() < 3 || lhs[1] != "=" || type.size() != 2)
    fail("malformed op '" + line + "'");
  name = lhs[0];
  op = lhs[2];
  args.clear();
  attrs.clear();
  for (size_t i = 3; i < lhs.size(); ++i) {
    size_t eq = lhs[i].find('=');
    if (eq == std::string::npos)
      args.push_back(&value(lhs[i]));
    else
      attrs[lhs[i].substr(0, eq)] = lhs[i].substr(eq + 1);
  }
  r = Tensor();
  r.f = newFunc(name);
  r.type = typeOf(type[0]);
  parseShape(type[1], r);
  rank = static_cast<int>(r.rank());

  // One lowering function per op that GptOps.td assigns to this family.
  using Lowering = void (FusedBuilder::*)();
  static const std::map<std::string, Lowering> kLowerings = {
#define GPT_FUSED_OP(Mnemonic, Class) {#Mnemonic, &FusedBuilder::lower##Class},
#include "gptc/IR/GptOpTable.inc"
  };
  auto it = kLowerings.find(op);
  if (it == kLowerings.end())
    fail("the fused kernel family does not compute '" + op + "'");
  (this->*it->second)();

  if (r.hasUpdate && !r.scheduled && name != outName) {
    r.f.compute_root();
    scheduleReduction(r.f, rank, r.rvars);
    r.scheduled = true;
  }
  values[name] = r;
}

//===----------------------------------------------------------------------===//
// The lowering of each op
//===----------------------------------------------------------------------===//

void FusedBuilder::lowerNegOp() {
  unary([](Expr x) { return -x; });
}

void FusedBuilder::lowerExpOp() {
  unary([](Expr x) { return fastExp(x); });
}

void FusedBuilder::lowerLogOp() {
  unary([](Expr x) { return log(x); });
}

void FusedBuilder::lowerSqrtOp() {
  unary([](Expr x) { return sqrt(x); });
}

void FusedBuilder::lowerTanhOp() {
  unary([](Expr x) { return fastTanh(x); });
}

void FusedBuilder::lowerSinOp() {
  unary([](Expr x) { return ops::formula::sinFormula(x); });
}

void FusedBuilder::lowerCosOp() {
  unary([](Expr x) { return ops::formula::cosFormula(x); });
}

void FusedBuilder::lowerSigmoidOp() {
  unary([](Expr x) { return 1.0f / (1.0f + fastExp(-x)); });
}

void FusedBuilder::lowerSiluOp() {
  unary([](Expr x) { return x / (1.0f + fastExp(-x)); });
}

void FusedBuilder::lowerRsqrtOp() {
  unary([](Expr x) { return 1.0f / sqrt(x); });
}

void FusedBuilder::lowerReluOp() {
  unary([](Expr x) { return max(x, 0.0f); });
}

void FusedBuilder::lowerStepOp() {
  unary([](Expr x) { return select(x > 0.0f, 1.0f, 0.0f); });
}

void FusedBuilder::lowerGeluOp() {
  const float c = static_cast<float>(std::sqrt(2.0 / M_PI));
  unary([c](Expr x) {
    return 0.5f * x * (1.0f + fastTanh(c * (x + 0.044715f * x * x * x)));
  });
}

void FusedBuilder::lowerPowOp() {
  double p = numAttr(attrs, "exponent");
  unary([p](Expr x) -> Expr {
    if (p == 2)
      return x * x;
    if (p == 3)
      return x * x * x;
    if (p == 0.5)
      return sqrt(x);
    if (p == 1)
      return x;
    return pow(x, static_cast<float>(p));
  });
}

void FusedBuilder::lowerAddOp() {
  binary([](Expr a, Expr b) { return a + b; });
}

void FusedBuilder::lowerSubOp() {
  binary([](Expr a, Expr b) { return a - b; });
}

void FusedBuilder::lowerMulOp() {
  binary([](Expr a, Expr b) { return a * b; });
}

void FusedBuilder::lowerDivOp() {
  binary([](Expr a, Expr b) { return a / b; });
}

void FusedBuilder::lowerConstantOp() {
  float v = static_cast<float>(numAttr(attrs, "value"));
  define(r, [v](auto) { return Expr(v); });
}

void FusedBuilder::lowerDropoutOp() {
  need(1);
  Tensor &x = *args[0];
  double p = numAttr(attrs, "p");
  if (p == 0) {
    define(r, [&](auto idx) { return x.at(idx); });
  } else {
    usesRng = true;
    uint32_t id = static_cast<uint32_t>(numAttr(attrs, "id"));
    float scale = static_cast<float>(1.0 / (1.0 - p));
    // Keep iff uniform >= p, i.e. (word >> 8) >= ceil(p * 2^24).
    uint32_t threshold = static_cast<uint32_t>(std::ceil(p * (1 << 24)));
    define(r, [&](std::vector<Expr> idx) {
      // Indices count in the whole batch: the slice's earlier rows hold
      // numel / rows elements each.
      Expr flat = cast<uint64_t>(0), numel = cast<uint64_t>(1);
      for (size_t i = 0; i < idx.size(); ++i) {
        flat = flat * cast<uint64_t>(r.shape[i]) + cast<uint64_t>(idx[i]);
        numel = numel * cast<uint64_t>(r.shape[i]);
      }
      flat =
          flat + cast<uint64_t>(firstRow) * (numel / cast<uint64_t>(rowCount));
      Expr group = flat >> 2;
      Expr word =
          philoxWord(cast<uint32_t>(group), cast<uint32_t>(group >> 32),
                     Expr(id), step, seedLo, seedHi, cast<uint32_t>(flat & 3));
      Expr keep = (word >> 8) >= Expr(threshold);
      return select(keep, x.at(idx) * scale, 0.0f);
    });
  }
}

void FusedBuilder::lowerMaskedFillOp() {
  need(2);
  Tensor &x = *args[0], &m = *args[1];
  float v = static_cast<float>(numAttr(attrs, "value"));
  define(r, [&](auto idx) {
    return select(m.at(broadcastIdx(m, idx)) != 0, Expr(v), x.at(idx));
  });
}

#define COMPARE(Op, Formula)                                                   \
  void FusedBuilder::lower##Op() {                                             \
    binary([](Expr a, Expr b) { return ops::formula::Formula(a, b); });        \
  }
COMPARE(LtOp, ltFormula)
COMPARE(LeOp, leFormula)
COMPARE(GtOp, gtFormula)
COMPARE(GeOp, geFormula)
COMPARE(EqOp, eqFormula)
COMPARE(NeOp, neFormula)
#undef COMPARE

void FusedBuilder::lowerWhereOp() {
  need(3);
  Tensor &c = *args[0], &a = *args[1], &b = *args[2];
  define(r, [&](auto idx) {
    return select(c.at(broadcastIdx(c, idx)) != 0, a.at(broadcastIdx(a, idx)),
                  b.at(broadcastIdx(b, idx)));
  });
}

void FusedBuilder::lowerCastOp() {
  need(1);
  Tensor &x = *args[0];
  // Masks are stored as u8: a mask result is x != 0, not a truncation.
  bool toMask = r.type == UInt(8);
  define(r, [&](auto idx) {
    Expr v = x.at(idx);
    return toMask ? select(v != 0, 1, 0) : cast(r.type, v);
  });
}

void FusedBuilder::lowerFullOp() {
  float v = static_cast<float>(numAttr(attrs, "value"));
  define(r, [v](auto) { return Expr(v); });
}

void FusedBuilder::lowerCausalMaskOp() {
  define(r, [](auto idx) { return select(idx[1] > idx[0], 1, 0); });
}

void FusedBuilder::lowerArangeOp() {
  define(r, [](auto idx) { return idx[0]; });
}

void FusedBuilder::lowerTransposeOp() {
  need(1);
  Tensor &x = *args[0];
  std::vector<int64_t> perm = listAttr(attrs, "perm");
  define(r, [&](auto idx) {
    std::vector<Expr> in(idx.size());
    for (size_t i = 0; i < perm.size(); ++i)
      in[perm[i]] = idx[i];
    return x.at(in);
  });
}

void FusedBuilder::lowerReshapeOp() {
  need(1);
  Tensor &x = *args[0];
  // Dims equal on both ends keep their index; the middle is linearized.
  size_t lead = 0, trail = 0;
  while (lead < x.rank() && lead < r.rank() && x.dims[lead] == r.dims[lead])
    ++lead;
  while (trail + lead < x.rank() && trail + lead < r.rank() &&
         x.dims[x.rank() - 1 - trail] == r.dims[r.rank() - 1 - trail])
    ++trail;
  define(r, [&](auto idx) {
    Expr lin = 0;
    for (size_t i = lead; i + trail < r.rank(); ++i)
      lin = lin * r.shape[i] + idx[i];
    std::vector<Expr> in(x.rank());
    for (size_t i = 0; i < lead; ++i)
      in[i] = idx[i];
    for (size_t i = 0; i < trail; ++i)
      in[x.rank() - 1 - i] = idx[r.rank() - 1 - i];
    for (size_t i = x.rank() - trail; i-- > lead;) {
      in[i] = lin % x.shape[i];
      lin = lin / x.shape[i];
    }
    return x.at(in);
  });
  if (r.rank() == 1 && x.rank() > 1)
    r.flatOf = &x;
}

void FusedBuilder::lowerSplitOp() {
  need(1);
  Tensor &x = *args[0];
  int axis = static_cast<int>(numAttr(attrs, "axis"));
  int index = static_cast<int>(numAttr(attrs, "index"));
  define(r, [&](auto idx) {
    idx[axis] = idx[axis] + index * r.shape[axis];
    return x.at(idx);
  });
}

std::vector<FusedBuilder::SliceDim>
FusedBuilder::sliceDims(const Tensor &whole) {
  std::vector<int64_t> starts = listAttr(attrs, "static_starts");
  std::vector<int64_t> squeeze = listAttr(attrs, "squeeze");
  // A start known only at run time is a product of the symbolic dims,
  // given in `dyn` (the op's size operands in order, starts first).
  std::vector<std::string> dynamic;
  if (auto it = attrs.find("dyn"); it != attrs.end())
    dynamic = splitOn(it->second, ',');
  if (starts.size() != whole.rank())
    fail(op + " needs one start per dim");
  std::vector<SliceDim> dims;
  size_t nextDynamic = 0;
  for (size_t i = 0; i < starts.size(); ++i) {
    bool squeezed =
        std::count(squeeze.begin(), squeeze.end(), static_cast<int64_t>(i));
    if (starts[i] == std::numeric_limits<int64_t>::min()) {
      if (nextDynamic >= dynamic.size())
        fail(op + " has a dynamic start without its size in 'dyn'");
      dims.push_back({dimExpr(dynamic[nextDynamic++]), squeezed});
      continue;
    }
    Expr st = static_cast<int>(starts[i]);
    if (squeezed && starts[i] < 0) // x[..., -1] counts back
      st = whole.shape[i] + st;
    dims.push_back({st, squeezed});
  }
  return dims;
}

void FusedBuilder::lowerSliceOp() {
  need(1);
  Tensor &x = *args[0];
  std::vector<SliceDim> dims = sliceDims(x);
  define(r, [&](auto idx) {
    std::vector<Expr> in;
    size_t k = 0;
    for (const SliceDim &d : dims)
      in.push_back(d.squeezed ? d.start : idx[k++] + d.start);
    return x.at(in);
  });
}

void FusedBuilder::lowerConcatOp() {
  if (args.empty())
    fail("concat needs inputs");
  int axis = static_cast<int>(numAttr(attrs, "axis"));
  define(r, [&](auto idx) {
    // From the last input back: each one where the index is past its start.
    std::vector<Expr> starts{Expr(0)};
    for (size_t k = 0; k + 1 < args.size(); ++k)
      starts.push_back(starts.back() + args[k]->shape[axis]);
    Expr e;
    for (size_t k = args.size(); k-- > 0;) {
      Tensor &x = *args[k];
      std::vector<Expr> in = idx;
      in[axis] = clamp(idx[axis] - starts[k], 0, x.shape[axis] - 1);
      e = k + 1 == args.size() ? x.at(in)
                               : select(idx[axis] < starts[k + 1], x.at(in), e);
    }
    return e;
  });
}

void FusedBuilder::lowerUnsplitOp() {
  need(2);
  Tensor &x = *args[0];
  int axis = static_cast<int>(numAttr(attrs, "axis"));
  int index = static_cast<int>(numAttr(attrs, "index"));
  define(r, [&](auto idx) {
    Expr lo = index * x.shape[axis];
    Expr inside = idx[axis] >= lo && idx[axis] < lo + x.shape[axis];
    std::vector<Expr> in = idx;
    in[axis] = clamp(idx[axis] - lo, 0, x.shape[axis] - 1);
    return select(inside, x.at(in), 0.0f);
  });
}

void FusedBuilder::lowerUnsliceOp() {
  need(2);
  Tensor &x = *args[0];
  std::vector<SliceDim> dims = sliceDims(r);
  // The slice's element j along a kept dim is element start + j here; a
  // squeezed dim holds only its start. Elsewhere the gradient is zero.
  define(r, [&](std::vector<Expr> idx) {
    Expr inside = cast<bool>(Expr(1));
    std::vector<Expr> in;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (dims[i].squeezed) {
        inside = inside && idx[i] == dims[i].start;
        continue;
      }
      Expr j = idx[i] - dims[i].start;
      Expr n = x.shape[in.size()];
      inside = inside && j >= 0 && j < n;
      in.push_back(clamp(j, 0, n - 1));
    }
    return select(inside, x.at(in), 0.0f);
  });
}

void FusedBuilder::lowerArgmaxMaskOp() {
  need(1);
  Tensor &x = *args[0];
  int axis = static_cast<int>(numAttr(attrs, "axis"));
  auto xs = [&](std::vector<Expr> i) { return x.at(i); };
  auto m = reduceAlong(x, axis, maxF,
                       Expr(-std::numeric_limits<float>::infinity()), xs);
  // The first index holding the maximum, as the interpreter picks it.
  auto minF = [](Expr a, Expr b) { return select(b < a, b, a); };
  auto first =
      reduceAlong(x, axis, minF, Expr(std::numeric_limits<float>::infinity()),
                  [&, m, axis](std::vector<Expr> i) {
                    return select(x.at(i) == m(i), cast<float>(i[axis]),
                                  std::numeric_limits<float>::infinity());
                  });
  define(r, [&, first, axis](std::vector<Expr> idx) {
    return select(cast<float>(idx[axis]) == first(idx), 1.0f, 0.0f);
  });
}

void FusedBuilder::lowerUnsqueezeOp() {
  need(1);
  Tensor &x = *args[0];
  int axis = static_cast<int>(numAttr(attrs, "axis"));
  define(r, [&](auto idx) {
    idx.erase(idx.begin() + axis);
    return x.at(idx);
  });
}

void FusedBuilder::lowerBroadcastLikeOp() {
  need(2);
  Tensor &x = *args[0];
  define(r, [&](auto idx) { return x.at(broadcastIdx(x, idx)); });
}

void FusedBuilder::lowerEmbeddingOp() {
  need(2);
  Tensor &ids = *args[0], &table = *args[1];
  define(r, [&](std::vector<Expr> idx) {
    Expr c = idx.back();
    idx.pop_back();
    Expr row = clamp(ids.at(idx), 0, table.shape[0] - 1);
    return table.at({row, c});
  });
}

/// sum, mean, max, var: `op` says which.
void FusedBuilder::lowerReduction() {
  need(1);
  Tensor &x = *args[0];
  int axis = static_cast<int>(numAttr(attrs, "axis"));
  bool keep = numAttr(attrs, "keepdim") != 0;
  Expr n = cast<float>(x.shape[axis]);
  auto xs = [&](std::vector<Expr> i) { return x.at(i); };
  std::function<Expr(std::vector<Expr>)> red;
  if (op == "max") {
    red = reduceAlong(x, axis, maxF,
                      Expr(-std::numeric_limits<float>::infinity()), xs);
  } else {
    auto s = reduceAlong(x, axis, addF, Expr(0.0f), xs);
    red = s;
    if (op != "sum")
      red = [s, n](std::vector<Expr> i) { return s(i) / n; };
    if (op == "var") {
      auto mean = red;
      auto q = reduceAlong(x, axis, addF, Expr(0.0f),
                           [&, mean, axis](std::vector<Expr> i) {
                             std::vector<Expr> j = i;
                             Expr d = x.at(i) - mean(j);
                             return d * d;
                           });
      red = [q, n](std::vector<Expr> i) { return q(i) / n; };
    }
  }
  define(r, [&](std::vector<Expr> idx) {
    if (!keep)
      idx.insert(idx.begin() + axis, Expr(0));
    return red(idx);
  });
}

void FusedBuilder::lowerSumOp() { lowerReduction(); }
void FusedBuilder::lowerMeanOp() { lowerReduction(); }
void FusedBuilder::lowerMaxOp() { lowerReduction(); }
void FusedBuilder::lowerVarOp() { lowerReduction(); }

/// softmax, log_softmax: `op` says which.
void FusedBuilder::lowerSoftmaxLike() {
  need(1);
  Tensor &x = *args[0];
  int axis = static_cast<int>(numAttr(attrs, "axis"));
  auto xs = [&](std::vector<Expr> i) { return x.at(i); };
  auto m = reduceAlong(x, axis, maxF,
                       Expr(-std::numeric_limits<float>::infinity()), xs);
  auto s = reduceAlong(x, axis, addF, Expr(0.0f), [&, m](std::vector<Expr> i) {
    return fastExp(x.at(i) - m(i));
  });
  bool log = op == "log_softmax";
  define(r, [&](auto idx) {
    return log ? x.at(idx) - m(idx) - Halide::log(s(idx))
               : fastExp(x.at(idx) - m(idx)) / s(idx);
  });
}

void FusedBuilder::lowerSoftmaxOp() { lowerSoftmaxLike(); }
void FusedBuilder::lowerLogSoftmaxOp() { lowerSoftmaxLike(); }

void FusedBuilder::lowerLayerNormOp() {
  need(3);
  Tensor &x = *args[0], &g = *args[1], &b = *args[2];
  int axis = static_cast<int>(x.rank()) - 1;
  float eps = static_cast<float>(numAttr(attrs, "eps"));
  Expr n = cast<float>(x.shape[axis]);
  auto xs = [&](std::vector<Expr> i) { return x.at(i); };
  auto s = reduceAlong(x, axis, addF, Expr(0.0f), xs);
  auto q =
      reduceAlong(x, axis, addF, Expr(0.0f), [&, s, n](std::vector<Expr> i) {
        Expr d = x.at(i) - s(i) / n;
        return d * d;
      });
  define(r, [&](auto idx) {
    Expr mean = s(idx) / n;
    Expr inv = 1.0f / sqrt(q(idx) / n + eps);
    return (x.at(idx) - mean) * inv * g.at({idx.back()}) + b.at({idx.back()});
  });
}

void FusedBuilder::lowerMatmulOp() {
  need(2);
  Tensor &a = *args[0], &b = *args[1];
  // mm(n, m, batch...) = sum_k a[..., m, k] * b[..., k, n].
  Func mm(name + "_mm");
  std::vector<Var> vars;
  for (int i = 0; i < rank; ++i)
    vars.push_back(Var("j" + std::to_string(i)));
  std::vector<Expr> idx(vars.begin(), vars.end());
  RDom k(0, a.shape[a.rank() - 1], "k");
  std::vector<Expr> ia = broadcastIdx(a, idx), ib = broadcastIdx(b, idx);
  // Broadcasting aligned the last two dims of a and b with (m, n): fix the
  // contracted index.
  ia[a.rank() - 1] = k.x;
  ia[a.rank() - 2] = idx[rank - 2];
  ib[b.rank() - 2] = k.x;
  ib[b.rank() - 1] = idx[rank - 1];
  std::vector<Var> rev(vars.rbegin(), vars.rend());
  std::vector<Expr> revE(rev.begin(), rev.end());
  mm(rev) = 0.0f;
  mm(rev) += a.at(ia) * b.at(ib);
  if (gpu) {
    gpuRoot(mm);
  } else {
    mm.compute_root();
    const int V = vectorLanes();
    Var no("no"), ni("ni");
    mm.vectorize(rev[0], V, TailStrategy::GuardWithIf);
    mm.update()
        .split(rev[0], no, ni, V, TailStrategy::GuardWithIf)
        .reorder(ni, k.x, no)
        .vectorize(ni);
    if (rank >= 3) {
      mm.parallel(rev[rank - 1]);
      mm.update().parallel(rev[rank - 1]);
    } else {
      mm.update().parallel(rev[1]);
    }
  }
  define(r, [&](std::vector<Expr> i) {
    std::reverse(i.begin(), i.end());
    return mm(i);
  });
}

void FusedBuilder::lowerUnbroadcastOp() {
  need(2);
  Tensor &x = *args[0];
  // Sum over the leading dims x has beyond r, and over r's size-1 dims.
  size_t off = x.rank() - r.rank();
  std::vector<size_t> summed;
  for (size_t i = 0; i < x.rank(); ++i)
    if (i < off || (r.dims[i - off] == "1" && x.dims[i] != "1"))
      summed.push_back(i);
  Region box;
  for (size_t i : summed)
    box.push_back(Range(0, x.shape[i]));
  if (box.empty()) {
    define(r, [&](auto idx) { return x.at(idx); });
  } else {
    RDom rd(box, "s");
    std::vector<Var> vars;
    for (int i = 0; i < rank; ++i)
      vars.push_back(Var("j" + std::to_string(i)));
    std::vector<Expr> in(x.rank());
    for (size_t i = 0; i < x.rank(); ++i)
      in[i] = i < off ? Expr() : Expr(vars[i - off]);
    for (size_t j = 0; j < summed.size(); ++j)
      in[summed[j]] = rd[j];
    std::vector<Var> rev(vars.rbegin(), vars.rend());
    std::vector<Expr> revE(rev.begin(), rev.end());
    if (rev.empty()) {
      r.f() = 0.0f;
      r.f() += x.at(in);
    } else {
      r.f(rev) = 0.0f;
      r.f(rev) += x.at(in);
    }
    r.hasUpdate = true;
    for (int j = 0; j < rd.dimensions(); ++j)
      r.rvars.push_back(rd[j]);
  }
}

/// cross_entropy, cross_entropy_grad: `op` says which.
void FusedBuilder::lowerCrossEntropyLike() {
  bool grad = op == "cross_entropy_grad";
  need(grad ? 3 : 2);
  Tensor &x = *args[grad ? 1 : 0], &t = *args[grad ? 2 : 1];
  int ignore = static_cast<int>(numAttr(attrs, "ignore_index"));
  int axis = static_cast<int>(x.rank()) - 1;
  auto xs = [&](std::vector<Expr> i) { return x.at(i); };
  auto m = reduceAlong(x, axis, maxF,
                       Expr(-std::numeric_limits<float>::infinity()), xs);
  auto s = reduceAlong(x, axis, addF, Expr(0.0f), [&, m](std::vector<Expr> i) {
    return fastExp(x.at(i) - m(i));
  });
  // Count and (for the loss) total over every target position.
  auto [rows, at] = everyElement(t, "rows");
  Expr target = t.at(at);
  Expr valid = target != ignore;
  Func count(name + "_count");
  count() = 0.0f;
  count() += select(valid, 1.0f, 0.0f);
  scalarRoot(count);
  if (!grad) {
    std::vector<Expr> xi = at;
    xi.push_back(clamp(target, 0, x.shape[axis] - 1));
    Expr lse = m(xi) + log(s(xi));
    Func total(name + "_total");
    total() = 0.0f;
    total() += select(valid, lse - x.at(xi), 0.0f);
    scalarRoot(total);
    r.f() = total() / count();
  } else {
    Tensor &g = *args[0];
    define(r, [&](std::vector<Expr> idx) {
      std::vector<Expr> row(idx.begin(), idx.end() - 1);
      Expr tg = t.at(row);
      Expr p = fastExp(x.at(idx) - m(idx)) / s(idx);
      Expr onehot = select(idx.back() == tg, 1.0f, 0.0f);
      return select(tg != ignore, g.at({}) * (p - onehot) / count(), 0.0f);
    });
  }
}

void FusedBuilder::lowerCrossEntropyOp() { lowerCrossEntropyLike(); }
void FusedBuilder::lowerCrossEntropyGradOp() { lowerCrossEntropyLike(); }

void FusedBuilder::lowerGatherOp() {
  need(2);
  Tensor &x = *args[0], &index = *args[1];
  int axis = static_cast<int>(numAttr(attrs, "axis"));
  define(r, [&](auto idx) {
    Expr k = index.at(broadcastIdx(index, idx));
    std::vector<Expr> in = idx;
    in[axis] = clamp(k, 0, x.shape[axis] - 1);
    // Out of range is NaN, not a silently clamped row.
    return select(k >= 0 && k < x.shape[axis], x.at(in),
                  Expr(std::numeric_limits<float>::quiet_NaN()));
  });
}

void FusedBuilder::lowerGatherGradOp() {
  need(3);
  Tensor &g = *args[0], &index = *args[1];
  int axis = static_cast<int>(numAttr(attrs, "axis"));
  // Every gradient element, in order, added at the position it came from.
  auto [pos, at] = everyElement(g, "pos");
  std::vector<Var> vars;
  for (size_t i = 0; i < r.rank(); ++i)
    vars.push_back(Var("i" + std::to_string(i)));
  std::vector<Var> rev(vars.rbegin(), vars.rend());
  std::vector<Expr> target = at;
  target[axis] = clamp(index.at(broadcastIdx(index, at)), 0, r.shape[axis] - 1);
  std::vector<Expr> revTarget(target.rbegin(), target.rend());
  r.f(rev) = 0.0f;
  r.f(revTarget) += g.at(at);
  if (gpu) {
    gpuThreads(r.f, rev);
    gpuThreads(r.f.update(), {});
  }
  r.hasUpdate = true;
  r.scheduled = true;
  if (name != outName)
    r.f.compute_root();
}

void FusedBuilder::lowerEmbeddingGradOp() {
  if (args.size() != 3 && args.size() != 4)
    fail("embedding_grad expects 3 or 4 operands");
  Tensor &g = *args[0], &ids = *args[1], &table = *args[2];
  auto [pos, at] = everyElement(ids, "pos");
  Var c("c"), row("row");
  Expr id = clamp(ids.at(at), 0, table.shape[0] - 1);
  std::vector<Expr> gi = at;
  gi.push_back(c);
  // Written over the base (HostProgram.cpp, step 6): the output buffer
  // already holds it, so only the scattered rows are touched.
  std::string over = desc.param("in_place", "");
  bool inPlace = args.size() == 4 && !over.empty() && &value(over) == args[3];
  if (!over.empty() && (!inPlace || name != outName))
    fail("in_place names " + over +
         ", which is not the base of the embedding gradient it computes");
  if (inPlace)
    r.f(c, row) = undef<float>();
  else
    r.f(c, row) = args.size() == 4 ? args[3]->at({row, c}) : Expr(0.0f);
  r.f(c, id) += g.at(gi);
  if (gpu) {
    // One thread per column: each scatters its column of every row, so
    // no two threads write one element. The pure stage is scheduled even
    // when it is undef: left unscheduled, Halide counts it as host code and
    // demands the output's host pointer, which the GPU executor's buffers
    // do not have.
    gpuThreads(r.f, {c, row});
    gpuThreads(r.f.update(), {c});
  } else {
    const int V = vectorLanes();
    Var co("co"), ci("ci");
    if (!inPlace)
      r.f.vectorize(c, V, TailStrategy::GuardWithIf).parallel(row);
    std::vector<VarOrRVar> order{ci};
    for (int j = 0; j < pos.dimensions(); ++j)
      order.push_back(pos[j]);
    order.push_back(co);
    r.f.update()
        .split(c, co, ci, V, TailStrategy::GuardWithIf)
        .reorder(order)
        .vectorize(ci)
        .parallel(co);
  }
  r.hasUpdate = true;
  r.scheduled = true;
  if (name != outName)
    r.f.compute_root();
}

void FusedBuilder::compile(const std::string &prefix) {
  std::string symList = desc.param("syms", "");
  if (!symList.empty())
    for (const std::string &s : splitOn(symList, ','))
      syms.emplace(s, Param<int32_t>(s));
  for (auto &[key, text] : desc.params) {
    if (key.rfind("in.", 0) != 0)
      continue;
    std::vector<std::string> w = splitOn(text, ' ');
    if (w.size() != 2)
      fail("malformed input '" + text + "'");
    Tensor t;
    t.type = typeOf(w[0]);
    parseShape(w[1], t);
    ImageParam p(t.type, static_cast<int>(t.rank()),
                 "in" + std::to_string(inputs.size()));
    if (t.rank() == 0)
      t.f() = p();
    else {
      std::vector<Var> vars;
      for (size_t i = 0; i < t.rank(); ++i)
        vars.push_back(Var("x" + std::to_string(i)));
      std::vector<Expr> e(vars.begin(), vars.end());
      t.f(vars) = p(e);
    }
    values["a" + std::to_string(inputs.size())] = t;
    inputs.push_back(p);
  }
  // Several outputs (elementwise, one shape, as the IR verifier requires)
  // are one Tuple-valued Func: one loop computes them all.
  std::vector<std::string> outNames = splitOn(desc.param("out", ""), ',');
  if (outNames.empty())
    fail("no output");
  if (outNames.size() == 1)
    outName = outNames[0];
  for (auto &[key, text] : desc.params)
    if (key.rfind("op.", 0) == 0)
      lowerOp(text);
  Tensor &result = value(outNames[0]);
  Func out = result.f;
  const int rank = static_cast<int>(result.rank());
  if (!outputFunc.defined() || out.name() != outputFunc.name()) {
    // The result is an input or defined under another name, or there are
    // several: copy them.
    out = Func(desc.name);
    std::vector<Var> vars;
    for (int i = 0; i < rank; ++i)
      vars.push_back(Var("o" + std::to_string(i)));
    std::vector<Expr> e(vars.begin(), vars.end());
    std::vector<Expr> values;
    for (const std::string &n : outNames) {
      Tensor &t = value(n);
      if (t.rank() != result.rank() || t.hasUpdate)
        fail("output " + n + " is not elementwise of the first one's shape");
      values.push_back(rank == 0 ? t.f() : t.f(e));
    }
    Tuple tuple = values.size() == 1 ? Tuple(values[0]) : Tuple(values);
    if (rank == 0)
      out() = tuple;
    else
      out(vars) = tuple;
  }
  std::vector<Var> vars = out.args();

  const int V = vectorLanes();
  if (result.hasUpdate && !result.scheduled) {
    scheduleReduction(out, rank, result.rvars);
  } else if (!result.scheduled && gpu) {
    gpuThreads(out, vars);
  } else if (!result.scheduled) {
    // Vectorized along the innermost dim, parallel over the rest.
    if (rank >= 1)
      out.vectorize(vars[0], V, TailStrategy::GuardWithIf);
    if (rank >= 2) {
      Var outer = vars[1];
      for (int i = 2; i < rank; ++i) {
        Var fused("f" + std::to_string(i));
        out.fuse(outer, vars[i], fused);
        outer = fused;
      }
      // Tasks of at least kTaskElems elements: a task per row of a
      // [3072, 768] update spent more time in the thread pool than in the
      // loop.
      Expr rows = max(1, kTaskElems / out.output_buffers()[0].dim(0).extent());
      Var task("task"), row("row");
      out.split(outer, task, row, rows, TailStrategy::GuardWithIf)
          .parallel(task);
    }
  }
  for (ImageParam &p : inputs)
    if (p.dimensions() > 0)
      p.dim(0).set_stride(1);
  if (rank > 0)
    for (OutputImageParam o : out.output_buffers())
      o.dim(0).set_stride(1);

  std::vector<Argument> args(inputs.begin(), inputs.end());
  for (auto &[name, p] : syms)
    args.push_back(p);
  if (usesRng) {
    args.push_back(seedLo);
    args.push_back(seedHi);
    args.push_back(step);
    args.push_back(firstRow);
    args.push_back(rowCount);
  }
  out.compile_to({{OutputFileType::object, prefix + ".o"},
                  {OutputFileType::c_header, prefix + ".h"}},
                 args, desc.name, target);
}

} // namespace

void compileFusedKernel(const KernelDesc &desc, const std::string &prefix,
                        const Target &target) {
  FusedBuilder(desc, target).compile(prefix);
}

} // namespace gptc
