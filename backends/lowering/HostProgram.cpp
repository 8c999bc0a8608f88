//===- HostProgram.cpp - Lowering fused functions to kernels and a plan ---===//
//
// Algorithm:
//  1. Symbolic shapes. Every dim is a monomial c * B^i * T^j, read from
//     the IR by SymbolicShapes (the arguments' `gpt.dims` names, the ops'
//     shape rules over them); a size that is not one fails the lowering
//     with its location.
//  2. Each top-level value becomes a plan value: a function input, a
//     parameter, a kernel's result (a temporary buffer), or a view of
//     another value (a reshape left outside kernels).
//  3. Each `gpt.kernel` becomes a KernelDesc: `matmul` kernels keep their
//     family (operands flattened to matrices), `fused` kernels serialize
//     their body op by op. Identical descriptions are one kernel.
//  4. Attention ops become calls of the `attention` and `attention_grad`
//     families (flash attention, several outputs), their operands seen as
//     batches [B*H, T, D] and the log-sum-exp as [B*H, T].
//  5. Embedding ids that come from an input, and positions `arange(n)` read
//     from a table, become run-time checks of the plan.
//  6. A kernel that only scatters an embedding gradient onto a base that no
//     other op reads (the tied lm_head's weight gradient) writes in place:
//     its result is a view of the base and its description says
//     `in_place = aN`, so the kernel touches the scattered rows only
//     instead of copying the whole table.
//  7. A result of an elementwise fused kernel that the function returns may
//     be written over an input or parameter of its type whose last reader
//     is that kernel (AdamW's new weights and moments over the old): the
//     plan marks it `over` the input, for callers that donate their inputs
//     (Executor::donateInputs). A store to a line the core holds after
//     reading it skips the read a store to a fresh buffer costs.
//
//===----------------------------------------------------------------------===//

#include "gptc/Backends/HostProgram.h"
#include "gptc/IR/Dim.h"
#include "gptc/IR/GptOps.h"
#include "gptc/IR/SourceLoc.h"
#include "gptc/IR/SymbolicShapes.h"
#include "gptc/Runtime/Plan.h"
#include "gptc/Support/Error.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/Pass/Pass.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cstdio>
#include <map>
#include <set>
#include <sstream>

using namespace mlir;
using namespace gptc::gpt;

namespace gptc {

namespace {

/// A shape in symbolic dims (the plan keeps them as SymExpr).
using DimShape = std::vector<Dim>;

/// Stops the lowering at `op`: the driver prints its .gpt line.
[[noreturn]] void failAt(Operation *op, const std::string &what) {
  throw LocatedError(op->getLoc(),
                     op->getName().getStringRef().str() + ": " + what);
}

/// Whether dim `d` of argument `i` is `?` (a symbol; static dims are named
/// by their size in `gpt.dims`).
bool isDynamicArgDim(func::FuncOp func, unsigned i, size_t d) {
  auto type = dyn_cast<RankedTensorType>(func.getArgument(i).getType());
  return type && d < static_cast<size_t>(type.getRank()) &&
         type.isDynamicDim(d);
}

std::string planShape(const DimShape &s) {
  if (s.empty())
    return "-";
  std::string r;
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "," : "") + s[i].str();
  return r;
}

SymShape toPlan(const DimShape &s) {
  SymShape r;
  for (const Dim &d : s)
    r.push_back(SymExpr::parse(d.str()));
  return r;
}

std::string dtypeOf(Type t) {
  Type e = cast<ShapedType>(t).getElementType();
  if (e.isF32())
    return "f32";
  if (e.isInteger(32))
    return "i32";
  if (e.isInteger(1))
    return "u8";
  throw RuntimeError("unsupported element type in the CPU backend");
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// `name=value` for each inherent attribute, in a stable order.
std::string attrText(Operation *op) {
  std::string s;
  SmallVector<NamedAttribute> attrs(op->getAttrs());
  llvm::sort(attrs, [](const NamedAttribute &a, const NamedAttribute &b) {
    return a.getName().strref() < b.getName().strref();
  });
  for (NamedAttribute a : attrs) {
    StringRef name = a.getName().strref();
    if (name.starts_with("gpt.") || name == "operandSegmentSizes" ||
        name == "static_shape")
      continue;
    std::string v;
    if (auto i = dyn_cast<IntegerAttr>(a.getValue()))
      v = std::to_string(i.getInt());
    else if (auto f = dyn_cast<FloatAttr>(a.getValue()))
      v = number(f.getValueAsDouble());
    else if (auto bl = dyn_cast<BoolAttr>(a.getValue()))
      v = bl.getValue() ? "true" : "false";
    else if (auto arr = dyn_cast<DenseI64ArrayAttr>(a.getValue())) {
      for (int64_t x : arr.asArrayRef())
        v += (v.empty() ? "" : ",") + std::to_string(x);
      if (v.empty())
        v = "-";
    } else if (auto str = dyn_cast<StringAttr>(a.getValue()))
      v = str.str();
    else
      failAt(op, "unsupported attribute '" + name.str() + "'");
    s += " " + name.str() + "=" + v;
  }
  return s;
}

//===----------------------------------------------------------------------===//
// Steps 2-4.
//===----------------------------------------------------------------------===//

class Lowering {
public:
  /// Appends `func`'s plan function to `plan`.
  void lowerFunction(func::FuncOp func);

  Plan plan;
  std::vector<KernelDesc> kernels;
  std::vector<mlir::Location> origins;
  std::map<std::string, size_t> kernelIndex; // description text -> index

private:
  /// The index of `desc`'s kernel, added (with `op` as its origin) if new.
  size_t internKernel(Operation *op, KernelDesc desc, bool syms, bool rng,
                      int outputs = 1);
  void lowerKernel(KernelOp k);
  void lowerAttention(Operation *op);
  void lowerCacheOp(Operation *op);
  /// Adds a plan value for `v` (its id in `ids`) and returns the id.
  int addValue(Value v, PlanValue pv);
  /// Declares `v` a temporary and returns its plan id.
  int temporary(Value v);
  /// A call of kernel `index` with `args` (value id and the shape the
  /// kernel sees; the kernel's outputs last).
  void call(size_t index, const std::string &flops,
            const std::vector<std::pair<int, DimShape>> &args,
            std::vector<int32_t> scalars = {});
  KernelDesc fusedDesc(KernelOp k, bool &rng);
  /// The input (by position among k's inputs) a fused kernel may write its
  /// result over, or -1 (step 6).
  int inPlaceInput(KernelOp k);
  /// Marks the results of k that may take the buffer of an input or
  /// parameter when the caller donates them (step 7).
  void markOver(KernelOp k);

  /// The current function's dims (step 1).
  std::optional<SymbolicShapes> sym;
  llvm::DenseMap<Value, int> ids;
  PlanFunction *fn = nullptr;
  bool training = false;
};

size_t Lowering::internKernel(Operation *op, KernelDesc desc, bool syms,
                              bool rng, int outputs) {
  desc.name = "";
  std::string key = desc.serialize();
  auto it = kernelIndex.find(key);
  if (it != kernelIndex.end())
    return it->second;
  // The name is the content hash, so the same kernel keeps its symbol
  // across models and builds.
  desc.name = "k" + kernelCacheKey(desc, "", "");
  size_t index = kernels.size();
  kernels.push_back(desc);
  origins.push_back(op->getLoc());
  kernelIndex[key] = index;
  PlanKernel k;
  k.symbol = desc.name;
  k.family = desc.family;
  k.takesSyms = syms;
  k.takesRng = rng;
  k.outputs = outputs;
  plan.kernels.push_back(k);
  return index;
}

KernelDesc Lowering::fusedDesc(KernelOp k, bool &rng) {
  KernelDesc d;
  d.family = "fused";
  std::string symList;
  for (const std::string &s : sym->symbols())
    symList += (symList.empty() ? "" : ",") + s;
  d.params["syms"] = symList;
  Block &body = k.getBody().front();
  llvm::DenseMap<Value, std::string> names;
  int in = 0, v = 0;
  char key[32];
  for (BlockArgument arg : body.getArguments()) {
    if (isa<IndexType>(arg.getType()))
      continue;
    names[arg] = "a" + std::to_string(in);
    std::snprintf(key, sizeof key, "in.%03d", in++);
    d.params[key] = dtypeOf(arg.getType()) + " " + planShape(sym->shape(arg));
  }
  // Index operands (sizes, slice starts) as products of the symbolic dims.
  llvm::DenseMap<Value, Dim> sizes;
  for (auto [arg, outer] : llvm::zip(body.getArguments(), k.getInputs()))
    if (isa<IndexType>(arg.getType()))
      if (sym->hasIndex(outer))
        sizes[arg] = sym->index(outer);
  int line = 0;
  for (Operation &op : body.without_terminator()) {
    std::string text = "v" + std::to_string(v) + " = " +
                       op.getName().getStringRef().drop_front(4).str();
    std::string dyn;
    for (Value o : op.getOperands()) {
      if (!isa<IndexType>(o.getType())) {
        text += " " + names.at(o);
        continue;
      }
      auto it = sizes.find(o);
      if (it != sizes.end())
        dyn += (dyn.empty() ? "" : ",") + it->second.str();
      else if (auto c = getConstantIntValue(o))
        dyn += (dyn.empty() ? "" : ",") + std::to_string(*c);
      else
        failAt(&op, "a size that is not a product of the input dims");
    }
    if (!dyn.empty())
      text += " dyn=" + dyn;
    // Dropout is the identity outside a training step.
    if (auto drop = dyn_cast<DropoutOp>(op); drop && !training)
      text += " id=" + std::to_string(drop.getId()) + " p=0";
    else
      text += attrText(&op);
    Value r = op.getResult(0);
    text += " : " + dtypeOf(r.getType()) + " " + planShape(sym->shape(r));
    names[r] = "v" + std::to_string(v++);
    std::snprintf(key, sizeof key, "op.%03d", line++);
    d.params[key] = text;
    if (auto drop = dyn_cast<DropoutOp>(op))
      rng |= training && drop.getP().convertToDouble() > 0;
  }
  std::string outs;
  for (Value r : cast<YieldOp>(body.getTerminator()).getValues())
    outs += (outs.empty() ? "" : ",") + names.at(r);
  d.params["out"] = outs;
  return d;
}

/// Flattens the leading dims: [d0, ..., dn-1] -> [d0*...*dn-2, dn-1].
DimShape asMatrix(const DimShape &s) {
  Dim rows(1);
  for (size_t i = 0; i + 1 < s.size(); ++i)
    rows = rows * s[i];
  return {rows, s.back()};
}

/// [d0, ..., dn-1] -> [d0*...*dn-3, dn-2, dn-1].
DimShape asBatch(const DimShape &s) {
  Dim batch(1);
  for (size_t i = 0; i + 2 < s.size(); ++i)
    batch = batch * s[i];
  return {batch, s[s.size() - 2], s.back()};
}

void Lowering::lowerKernel(KernelOp k) {
  std::vector<std::pair<Value, DimShape>> args;
  size_t index;
  std::string flops = "0";
  if (k.getKind() == "matmul") {
    KernelDesc d;
    d.family = "matmul";
    bool transA = k->getAttrOfType<BoolAttr>("trans_a").getValue();
    bool transB = k->getAttrOfType<BoolAttr>("trans_b").getValue();
    bool batched = static_cast<bool>(k->getAttrOfType<BoolAttr>("batch"));
    std::string epilogue = k->getAttrOfType<StringAttr>("epilogue").str();
    d.params["trans_a"] = transA ? "true" : "false";
    d.params["trans_b"] = transB ? "true" : "false";
    d.params["epilogue"] = epilogue;
    if (batched)
      d.params["batch"] = "true";
    if (auto precision = k->getAttrOfType<StringAttr>("precision");
        precision && precision.getValue() != "f32")
      d.params["precision"] = precision.str();
    index = internKernel(k, d, false, false);
    // Matrices, or batches of matrices [Bt, rows, cols].
    auto view = [&](Value v) {
      return batched ? asBatch(sym->shape(v)) : asMatrix(sym->shape(v));
    };
    Value a = k.getInputs()[0], b = k.getInputs()[1];
    DimShape sa = view(a), sb = view(b), so = view(k->getResult(0));
    args.push_back({a, sa});
    args.push_back({b, sb});
    if (epilogue != "none")
      args.push_back({k.getInputs()[2], sym->shape(k.getInputs()[2])});
    size_t r = sa.size() - 2;
    Dim kdim = transA ? sa[r] : sa[r + 1];
    Dim total = Dim(2) * so[r] * so[r + 1] * kdim;
    if (batched)
      total = total * so[0];
    flops = total.str();
    args.push_back({k->getResult(0), so});
  } else {
    bool rng = false;
    KernelDesc d = fusedDesc(k, rng);
    int inPlace = inPlaceInput(k);
    if (inPlace >= 0) {
      // The description's inputs skip the index operands.
      int named = 0;
      for (int i = 0; i < inPlace; ++i)
        named += !isa<IndexType>(k.getInputs()[i].getType());
      d.params["in_place"] = "a" + std::to_string(named);
      PlanValue view;
      view.kind = PlanValue::View;
      view.base = ids.at(k.getInputs()[inPlace]);
      view.dtype = dtypeOf(k->getResult(0).getType());
      view.shape = toPlan(sym->shape(k->getResult(0)));
      addValue(k->getResult(0), view);
    }
    index = internKernel(k, d, true, rng, k.getNumResults());
    for (auto [arg, v] :
         llvm::zip(k.getBody().front().getArguments(), k.getInputs()))
      if (!isa<IndexType>(v.getType()))
        args.push_back({v, sym->shape(v)});
    for (Value r : k.getResults())
      args.push_back({r, sym->shape(r)});
  }
  // Step 5: run-time checks for embeddings.
  k.getBody().walk([&](EmbeddingOp e) {
    int64_t rows = cast<RankedTensorType>(e.getTable().getType()).getDimSize(0);
    auto arg = dyn_cast<BlockArgument>(e.getIds());
    if (arg) {
      Value outer = k.getInputs()[arg.getArgNumber()];
      if (isa<BlockArgument>(outer)) {
        PlanCheck c;
        c.ids = true;
        c.value = ids.at(outer);
        c.limit = rows;
        fn->checks.push_back(c);
      }
    } else if (auto ar = e.getIds().getDefiningOp<ArangeOp>()) {
      auto sizeArg = cast<BlockArgument>(ar.getSize());
      Value outer = k.getInputs()[sizeArg.getArgNumber()];
      if (sym->hasIndex(outer)) {
        PlanCheck c;
        c.dim = SymExpr::parse(sym->index(outer).str());
        c.limit = rows;
        fn->checks.push_back(c);
      }
    }
  });
  // Cross-entropy targets from an input: within the vocabulary or the
  // ignore_index (the kernels would read outside the logits row).
  k.getBody().walk([&](Operation *op) {
    Value targets, logits;
    int64_t ignore = 0;
    if (auto ce = dyn_cast<CrossEntropyOp>(op)) {
      targets = ce.getTargets();
      logits = ce.getLogits();
      ignore = ce.getIgnoreIndex();
    } else if (auto g = dyn_cast<CrossEntropyGradOp>(op)) {
      targets = g.getTargets();
      logits = g.getLogits();
      ignore = g.getIgnoreIndex();
    } else {
      return;
    }
    auto arg = dyn_cast<BlockArgument>(targets);
    int64_t vocab = cast<RankedTensorType>(logits.getType()).getShape().back();
    if (!arg || ShapedType::isDynamic(vocab))
      return;
    Value outer = k.getInputs()[arg.getArgNumber()];
    if (!isa<BlockArgument>(outer))
      return;
    PlanCheck c;
    c.ids = true;
    c.value = ids.at(outer);
    c.limit = vocab;
    c.except = ignore;
    for (const PlanCheck &have : fn->checks)
      if (have.ids && have.value == c.value && have.limit == c.limit &&
          have.except == c.except)
        return;
    fn->checks.push_back(c);
  });
  for (Value r : k.getResults())
    if (!ids.count(r))
      temporary(r);
  if (k.getKind() == "fused")
    markOver(k);
  std::vector<std::pair<int, DimShape>> callArgs;
  for (auto &[v, shape] : args)
    callArgs.push_back({ids.at(v), shape});
  call(index, flops, callArgs);
}

int Lowering::inPlaceInput(KernelOp k) {
  Block &body = k.getBody().front();
  if (k->getNumResults() != 1 ||
      !llvm::hasSingleElement(body.without_terminator()))
    return -1;
  auto grad = dyn_cast<EmbeddingGradOp>(body.front());
  if (!grad || !grad.getBase() ||
      body.getTerminator()->getOperand(0) != grad.getResult())
    return -1;
  auto arg = dyn_cast<BlockArgument>(grad.getBase());
  if (!arg || !arg.hasOneUse())
    return -1;
  Value outer = k.getInputs()[arg.getArgNumber()];
  // Only a temporary nothing else reads: its last reader is this kernel.
  auto it = ids.find(outer);
  if (it == ids.end() || fn->values[it->second].kind != PlanValue::Temp ||
      !outer.hasOneUse() || outer.getType() != k->getResult(0).getType())
    return -1;
  return static_cast<int>(arg.getArgNumber());
}

/// Whether every reader of `v` but `k`, and of the views made of it, comes
/// before `k` in the function.
static bool readOnlyBefore(Value v, KernelOp k) {
  for (Operation *user : v.getUsers()) {
    if (user == k.getOperation())
      continue;
    if (user->getBlock() != k->getBlock() || !user->isBeforeInBlock(k))
      return false;
    if (auto view = dyn_cast<ReshapeOp>(user);
        view && !readOnlyBefore(view.getResult(), k))
      return false;
  }
  return true;
}

/// The values inside a kernel body that `from` reaches, not going on
/// through `stop`.
static llvm::DenseSet<Value> reachedFrom(Value from, Value stop) {
  llvm::DenseSet<Value> seen;
  llvm::SmallVector<Value> work{from};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second || v == stop)
      continue;
    for (Operation *user : v.getUsers())
      for (Value r : user->getResults())
        work.push_back(r);
  }
  return seen;
}

void Lowering::markOver(KernelOp k) {
  // Each result element must read each operand at its own index only.
  Block &body = k.getBody().front();
  for (Operation &op : body.without_terminator())
    if (op.getNumOperands() > 0 && !op.hasTrait<gpt::OpTrait::Elementwise>())
      return;
  auto yielded = cast<YieldOp>(body.getTerminator()).getValues();
  for (auto [r, inner] : llvm::zip(k.getResults(), yielded)) {
    int id = ids.at(r);
    if (fn->values[id].kind != PlanValue::Temp ||
        !llvm::any_of(r.getUsers(),
                      [](Operation *u) { return isa<func::ReturnOp>(u); }))
      continue;
    for (auto [in, arg] : llvm::zip(k.getInputs(), body.getArguments())) {
      auto outer = dyn_cast<BlockArgument>(in);
      if (!outer || outer.getOwner() != k->getBlock() ||
          in.getType() != r.getType() || llvm::count(k.getInputs(), in) > 1 ||
          !readOnlyBefore(in, k))
        continue;
      // The store of r must depend on every read of the input, so that no
      // read can follow it: r reads the input, and every other result
      // that does reads it through r (AdamW's new weight reads the new
      // moments, not the old). Kernels assume their outputs alias nothing.
      llvm::DenseSet<Value> reached = reachedFrom(arg, inner);
      if (!reached.count(inner) || llvm::any_of(yielded, [&](Value y) {
            return y != inner && reached.count(y);
          }))
        continue;
      fn->values[id].over = ids.at(in);
      break;
    }
  }
}

int Lowering::addValue(Value v, PlanValue pv) {
  int id = static_cast<int>(fn->values.size());
  fn->values.push_back(std::move(pv));
  ids[v] = id;
  return id;
}

int Lowering::temporary(Value v) {
  PlanValue pv;
  pv.kind = PlanValue::Temp;
  pv.dtype = dtypeOf(v.getType());
  pv.shape = toPlan(sym->shape(v));
  return addValue(v, pv);
}

void Lowering::call(size_t index, const std::string &flops,
                    const std::vector<std::pair<int, DimShape>> &args,
                    std::vector<int32_t> scalars) {
  PlanCall c;
  c.kernel = static_cast<int>(index);
  c.flops = SymExpr::parse(flops);
  for (auto &[id, shape] : args)
    c.args.push_back({id, toPlan(shape)});
  c.firstOutput = c.args.size() - plan.kernels[index].outputs;
  c.scalars = std::move(scalars);
  fn->calls.push_back(std::move(c));
}

void Lowering::lowerAttention(Operation *op) {
  bool grad = isa<AttentionGradOp>(op);
  // The attention operands: q, k, v (after the output gradient for grad).
  Value q = op->getOperand(grad ? 1 : 0), k = op->getOperand(grad ? 2 : 1),
        v = op->getOperand(grad ? 3 : 2);
  int64_t headDim = cast<RankedTensorType>(q.getType()).getShape().back();
  for (Value x : {k, v})
    if (ShapedType::isDynamic(headDim) ||
        cast<RankedTensorType>(x.getType()).getShape().back() != headDim)
      failAt(op, "the CPU backend's attention needs "
                 "q, k and v with one static head dim");
  bool causal = op->getAttrOfType<BoolAttr>("causal").getValue();
  double p = op->getAttrOfType<FloatAttr>("p").getValueAsDouble();
  bool rng = training && p > 0;
  KernelDesc d;
  d.family = grad ? "attention_grad" : "attention";
  d.params["causal"] = causal ? "true" : "false";
  d.params["scale"] =
      number(op->getAttrOfType<FloatAttr>("scale").getValueAsDouble());
  d.params["head_dim"] = std::to_string(headDim);
  // Dropout is the identity outside a training step. Its id is an
  // argument, so every layer shares one kernel.
  d.params["p"] = number(rng ? p : 0.0);
  size_t index = internKernel(op, d, false, rng, op->getNumResults());

  // Tensors as batches [B*H, rows, D]; the log-sum-exp as [B*H, T].
  size_t rank = sym->shape(q).size();
  auto view = [&](Value x) {
    const DimShape &s = sym->shape(x);
    return s.size() == rank ? asBatch(s) : asMatrix(s);
  };
  // Products of q with the keys, 2*T*S*D each per batch: 2 in the forward,
  // 5 in the backward (the scores recomputed); causal masking halves them.
  DimShape qs = asBatch(sym->shape(q)), ks = asBatch(sym->shape(k));
  int64_t coeff = (grad ? 10 : 4) / (causal ? 2 : 1);
  std::string flops = (Dim(coeff) * qs[0] * qs[1] * ks[1] * qs[2]).str();
  std::vector<std::pair<int, DimShape>> args;
  for (Value x : op->getOperands())
    args.push_back({ids.at(x), view(x)});
  for (Value r : op->getResults()) {
    int id = temporary(r);
    args.push_back({id, view(r)});
  }
  std::vector<int32_t> scalars;
  if (rng)
    scalars.push_back(
        static_cast<int32_t>(op->getAttrOfType<IntegerAttr>("id").getInt()));
  call(index, flops, args, scalars);
}

void Lowering::lowerCacheOp(Operation *op) {
  auto write = dyn_cast<CacheWriteOp>(op);
  Value cache = write ? write.getCache() : op->getOperand(1);
  Value positions = write ? write.getPositions() : op->getOperand(3);
  auto type = cast<RankedTensorType>(cache.getType());
  if (type.isDynamicDim(1) || type.isDynamicDim(3))
    failAt(op, "the CPU backend's KV cache needs a "
               "static head count and head dim");
  KernelDesc d;
  d.family = write ? "cache_write" : "cached_attention";
  // The writes' heads are the cache's; attention's are q's, and the caches
  // may hold fewer (grouped-query attention).
  auto heads =
      write ? type : cast<RankedTensorType>(op->getOperand(0).getType());
  d.params["heads"] = std::to_string(heads.getDimSize(1));
  d.params["head_dim"] = std::to_string(type.getDimSize(3));
  if (!write)
    d.params["kv_heads"] = std::to_string(type.getDimSize(1));
  std::vector<std::pair<int, DimShape>> args;
  auto arg = [&](Value x) {
    DimShape s = sym->shape(x);
    args.push_back({ids.at(x), s.size() == 4 ? asBatch(s) : s});
  };
  if (write) {
    // Written in place: the result is a view of the cache, which must be an
    // input that nothing else reads (it would see the new entries).
    auto input = dyn_cast<BlockArgument>(cache);
    if (!input || !cache.hasOneUse())
      failAt(op, "the cache must be a function "
                 "input read by this write only");
    d.params["positions"] = positions ? "true" : "false";
    arg(write.getNewEntries());
    if (positions)
      arg(positions);
    PlanValue view;
    view.kind = PlanValue::View;
    view.base = ids.at(cache);
    view.dtype = "f32";
    view.shape = toPlan(sym->shape(cache));
    addValue(write.getResult(), view);
    arg(write.getResult());
  } else {
    d.params["scale"] =
        number(cast<CachedAttentionOp>(op).getScale().convertToDouble());
    for (Value x : op->getOperands())
      arg(x);
    temporary(op->getResult(0));
    arg(op->getResult(0));
  }
  size_t index = internKernel(op, d, false, false);
  call(index, "0", args);
}

void Lowering::lowerFunction(func::FuncOp func) {
  sym.emplace(func);
  // As in the interpreter: the training step and the gradient a trainer
  // steps with are the only functions whose dropout is active.
  training = func.getName() == "train_step" || func.getName() == "loss_grad";
  ids.clear();
  plan.functions.emplace_back();
  fn = &plan.functions.back();
  fn->name = func.getName().str();
  fn->syms = sym->symbols();
  Block &body = func.getBody().front();
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    Value arg = body.getArgument(i);
    PlanValue pv;
    pv.kind = PlanValue::Param;
    auto name = func.getArgAttrOfType<StringAttr>(i, "gpt.param");
    if (!name) {
      pv.kind = PlanValue::Input;
      name = func.getArgAttrOfType<StringAttr>(i, "gpt.input");
    }
    if (!name)
      throw RuntimeError("@" + func.getName().str() + ": argument " +
                         std::to_string(i) +
                         " has no gpt.param/gpt.input name");
    pv.name = name.str();
    pv.dtype = dtypeOf(arg.getType());
    pv.shape = toPlan(sym->shape(arg));
    int id = addValue(arg, pv);
    if (auto dims = func.getArgAttrOfType<ArrayAttr>(i, "gpt.dims"))
      for (auto [d, a] : llvm::enumerate(dims))
        if (isDynamicArgDim(func, i, d))
          fn->binds.push_back(
              {cast<StringAttr>(a).str(), id, static_cast<int>(d)});
  }
  for (Operation &op : body) {
    if (isa<tensor::DimOp, arith::ConstantOp, arith::MulIOp, arith::AddIOp>(op))
      continue;
    if (auto k = dyn_cast<KernelOp>(op)) {
      lowerKernel(k);
    } else if (isa<AttentionOp, AttentionGradOp>(op)) {
      lowerAttention(&op);
    } else if (isa<CacheWriteOp, CachedAttentionOp>(op)) {
      lowerCacheOp(&op);
    } else if (auto r = dyn_cast<ReshapeOp>(op)) {
      PlanValue view;
      view.kind = PlanValue::View;
      view.base = ids.at(r.getInput());
      view.dtype = dtypeOf(r.getType());
      view.shape = toPlan(sym->shape(r));
      addValue(r.getResult(), view);
    } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        std::string name = func.getName().str() == "forward" ? "logits"
                           : func.getName().str() == "loss"  ? "loss"
                                                             : "";
        if (auto n = func.getResultAttrOfType<StringAttr>(i, "gpt.output"))
          name = n.str();
        if (name.empty())
          name = "result" + std::to_string(i);
        if (!ids.count(v))
          throw RuntimeError("@" + func.getName().str() + ": result " + name +
                             " is not computed by a kernel");
        fn->outputs.push_back({name, ids.at(v)});
      }
    } else {
      failAt(&op, "not in a kernel (run gpt-fuse before lowering)");
    }
  }
  if (auto requirements = func->getAttrOfType<ArrayAttr>("gpt.requirements"))
    for (Attribute a : requirements) {
      auto r = cast<DictionaryAttr>(a);
      auto text = [&](StringRef key) {
        auto v = r.getAs<StringAttr>(key);
        if (!v)
          failAt(func, "a gpt.requirements entry without '" + key.str() + "'");
        return v.str();
      };
      PlanRequire req;
      req.lhs = SymExpr::parse(text("lhs"));
      req.rel = text("rel");
      req.rhs = SymExpr::parse(text("rhs"));
      req.message = text("message");
      std::replace(req.message.begin(), req.message.end(), '\n', ' ');
      fn->requirements.push_back(req);
    }

  // Row slices of a training batch (micro-batches, ranks' shares) draw the
  // whole batch's masks only where every dropout's input leads with the
  // batch dim (docs/RNG.md): the first input's leading dim.
  if (!training || func.getNumArguments() == 0)
    return;
  DimShape first = sym->shape(body.getArgument(0));
  func.walk([&](Operation *op) {
    Value x;
    double p = 0;
    if (auto drop = dyn_cast<DropoutOp>(op)) {
      x = drop.getInput();
      p = drop.getP().convertToDouble();
    } else if (isa<AttentionOp, AttentionGradOp>(op)) {
      x = op->getOperand(isa<AttentionGradOp>(op) ? 1 : 0);
      p = op->getAttrOfType<FloatAttr>("p").getValueAsDouble();
    }
    if (p == 0 || !fn->unsliceable.empty())
      return;
    DimShape s = sym->shape(x);
    if (first.empty() || s.empty() || !(s[0] == first[0]))
      fn->unsliceable = describeLoc(op->getLoc()) + ": a dropout on [" +
                        (s.empty() ? std::string() : s[0].str()) +
                        ", ...] does not lead with the batch dim " +
                        (first.empty() ? "(none)" : first[0].str());
  });
}

} // namespace

HostProgram lowerToHostProgram(ModuleOp module,
                               const std::vector<std::string> &entries) {
  Lowering lowering;
  for (const std::string &name : entries) {
    auto func = module.lookupSymbol<func::FuncOp>(name);
    if (!func)
      throw RuntimeError("the model has no function @" + name);
    lowering.lowerFunction(func);
  }
  HostProgram p;
  p.plan = std::move(lowering.plan);
  p.kernels = std::move(lowering.kernels);
  p.origins = std::move(lowering.origins);
  return p;
}

std::string HostProgram::serialize() const {
  std::string s;
  for (const KernelDesc &k : kernels)
    s += k.serialize() + "\n";
  return s + plan.serialize();
}

namespace {

/// gptc-opt's view of the lowering: prints what `gptc emit --stage=kernels`
/// prints and leaves the module as it was, so FileCheck tests can drive the
/// lowering on hand-written fused IR.
struct LowerToHostProgramPass
    : PassWrapper<LowerToHostProgramPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LowerToHostProgramPass)

  LowerToHostProgramPass() = default;
  LowerToHostProgramPass(const LowerToHostProgramPass &other)
      : PassWrapper(other) {}

  StringRef getArgument() const final { return "gpt-lower-to-host-program"; }
  StringRef getDescription() const final {
    return "Lower fused functions to kernel descriptions and a plan, and "
           "print them";
  }

  void runOnOperation() final {
    ModuleOp module = getOperation();
    std::vector<std::string> names(entries.begin(), entries.end());
    if (names.empty())
      for (auto func : module.getOps<func::FuncOp>())
        if (func.isPublic())
          names.push_back(func.getName().str());
    try {
      llvm::outs() << lowerToHostProgram(module, names).serialize();
    } catch (const LocatedError &e) {
      emitError(e.loc) << e.message;
      signalPassFailure();
    } catch (const RuntimeError &e) {
      module.emitError() << e.what();
      signalPassFailure();
    }
  }

  ListOption<std::string> entries{
      *this, "entries",
      llvm::cl::desc("Functions to lower, in order (default: every public "
                     "function)")};
};

} // namespace

void registerLowerToHostProgramPass() {
  PassRegistration<LowerToHostProgramPass>();
}

} // namespace gptc
