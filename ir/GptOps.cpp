//===- GptOps.cpp - Shape rules, folders and the dialect ------------------===//
//
// Each op's shape rule (ShapeInference::inferResultShape) doubles as its
// verifier through verifyInferredShape. Dynamic dims (`?`) are compatible
// with anything: the front end has already checked the symbolic relations
// between them, and the run time checks the actual sizes.
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/GptOps.h"
#include "gptc/IR/GptBuilder.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace gptc::gpt;

#include "gptc/IR/GptDialect.cpp.inc"

void GptDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "gptc/IR/GptOps.cpp.inc"
      >();
}

Operation *GptDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  auto f = dyn_cast<FloatAttr>(value);
  auto t = dyn_cast<RankedTensorType>(type);
  if (!f || !t || t.getRank() != 0 || !t.getElementType().isF32())
    return nullptr;
  return ConstantOp::create(builder, loc, t,
                            builder.getF64FloatAttr(f.getValueAsDouble()));
}

//===----------------------------------------------------------------------===//
// Shape helpers
//===----------------------------------------------------------------------===//

static constexpr int64_t kDyn = ShapedType::kDynamic;

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

std::string gptc::gpt::formatShape(ArrayRef<int64_t> s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i)
    out += (i ? ", " : "") +
           (s[i] == kDyn ? std::string("?") : std::to_string(s[i]));
  return out + "]";
}

/// NumPy broadcasting; a dynamic dim is assumed to fit a static one.
static LogicalResult broadcast(Operation *op, ArrayRef<int64_t> a,
                               ArrayRef<int64_t> b,
                               SmallVectorImpl<int64_t> &out) {
  size_t rank = std::max(a.size(), b.size());
  out.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t y = i < b.size() ? b[b.size() - 1 - i] : 1;
    int64_t &o = out[rank - 1 - i];
    if (x == y || y == 1)
      o = x;
    else if (x == 1)
      o = y;
    else if (x == kDyn)
      o = y;
    else if (y == kDyn)
      o = x;
    else
      return op->emitOpError("operand shapes ")
             << formatShape(a) << " and " << formatShape(b)
             << " do not broadcast";
  }
  return success();
}

/// The static value of an index operand, or kDyn.
static int64_t staticSize(Value v) {
  if (auto c = getConstantIntValue(v))
    return *c;
  return kDyn;
}

static bool compatible(int64_t a, int64_t b) {
  return a == b || a == kDyn || b == kDyn;
}

static LogicalResult checkAxis(Operation *op, int64_t axis, int64_t rank) {
  if (axis < 0 || axis >= rank)
    return op->emitOpError("axis ")
           << axis << " is out of range for rank " << rank;
  return success();
}

LogicalResult gptc::gpt::verifyInferredShape(Operation *op) {
  SmallVector<SmallVector<int64_t>> shapes;
  if (failed(cast<ShapeInference>(op).inferResultShapes(shapes)))
    return failure();
  for (auto [result, inferred] : llvm::zip(op->getResults(), shapes)) {
    auto declared = cast<RankedTensorType>(result.getType());
    bool ok = declared.getRank() == static_cast<int64_t>(inferred.size());
    for (size_t i = 0; ok && i < inferred.size(); ++i)
      ok = compatible(declared.getDimSize(i), inferred[i]);
    if (!ok)
      return op->emitOpError("result type ")
             << declared << " does not match the inferred shape "
             << formatShape(inferred);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Shape rules
//===----------------------------------------------------------------------===//

#define SAME_AS_INPUT(Op)                                                      \
  LogicalResult Op::inferResultShape(SmallVectorImpl<int64_t> &shape) {        \
    shape.assign(shapeOf(getInput()).begin(), shapeOf(getInput()).end());      \
    return success();                                                          \
  }
SAME_AS_INPUT(NegOp)
SAME_AS_INPUT(ExpOp)
SAME_AS_INPUT(LogOp)
SAME_AS_INPUT(SqrtOp)
SAME_AS_INPUT(TanhOp)
SAME_AS_INPUT(SinOp)
SAME_AS_INPUT(CosOp)
SAME_AS_INPUT(SigmoidOp)
SAME_AS_INPUT(ReluOp)
SAME_AS_INPUT(GeluOp)
SAME_AS_INPUT(PowOp)
SAME_AS_INPUT(DropoutOp)
SAME_AS_INPUT(StepOp)
#undef SAME_AS_INPUT

#define BROADCASTING(Op)                                                       \
  LogicalResult Op::inferResultShape(SmallVectorImpl<int64_t> &shape) {        \
    return broadcast(*this, shapeOf(getLhs()), shapeOf(getRhs()), shape);      \
  }
BROADCASTING(AddOp)
BROADCASTING(SubOp)
BROADCASTING(MulOp)
BROADCASTING(DivOp)
#undef BROADCASTING

LogicalResult ConstantOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  shape.clear();
  return success();
}

template <typename SoftmaxLike>
static LogicalResult softmaxShape(SoftmaxLike op,
                                  SmallVectorImpl<int64_t> &shape) {
  auto in = shapeOf(op.getInput());
  if (failed(checkAxis(op, op.getAxis(), in.size())))
    return failure();
  shape.assign(in.begin(), in.end());
  return success();
}
LogicalResult SoftmaxOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  return softmaxShape(*this, shape);
}
LogicalResult LogSoftmaxOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  return softmaxShape(*this, shape);
}

LogicalResult MatmulOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto a = shapeOf(getLhs()), b = shapeOf(getRhs());
  if (a.size() < 2 || b.size() < 2)
    return emitOpError("operands must have rank >= 2, got ")
           << formatShape(a) << " and " << formatShape(b);
  if (!compatible(a.back(), b[b.size() - 2]))
    return emitOpError("inner dimensions differ: ")
           << formatShape(a) << " @ " << formatShape(b);
  if (failed(broadcast(*this, a.drop_back(2), b.drop_back(2), shape)))
    return failure();
  shape.push_back(a[a.size() - 2]);
  shape.push_back(b.back());
  return success();
}

LogicalResult TransposeOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto in = shapeOf(getInput());
  ArrayRef<int64_t> perm = getPerm();
  if (perm.size() != in.size())
    return emitOpError("perm has ")
           << perm.size() << " entries for a rank-" << in.size() << " input";
  SmallVector<bool> seen(in.size(), false);
  shape.clear();
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(in.size()) || seen[p])
      return emitOpError("perm is not a permutation of 0..") << in.size() - 1;
    seen[p] = true;
    shape.push_back(in[p]);
  }
  return success();
}

LogicalResult ReshapeOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  ArrayRef<int64_t> target = getStaticShape();
  int64_t dynamic = llvm::count(target, kDyn);
  if (dynamic != static_cast<int64_t>(getDynamicShape().size()))
    return emitOpError("has ") << dynamic << " dynamic dims but "
                               << getDynamicShape().size() << " size operands";
  shape.assign(target.begin(), target.end());
  // Size operands that are constants give static dims.
  for (size_t i = 0, k = 0; i < shape.size(); ++i)
    if (shape[i] == kDyn)
      shape[i] = staticSize(getDynamicShape()[k++]);
  auto in = shapeOf(getInput());
  if (!llvm::is_contained(in, kDyn) && !llvm::is_contained(shape, kDyn)) {
    int64_t a = 1, b = 1;
    for (int64_t d : in)
      a *= d;
    for (int64_t d : shape)
      b *= d;
    if (a != b)
      return emitOpError("cannot reshape ")
             << formatShape(in) << " (" << a << " elements) into "
             << formatShape(shape) << " (" << b << ")";
  }
  return success();
}

LogicalResult SplitOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto in = shapeOf(getInput());
  int64_t axis = getAxis(), parts = getParts(), index = getIndex();
  if (failed(checkAxis(*this, axis, in.size())))
    return failure();
  if (parts < 1 || index < 0 || index >= parts)
    return emitOpError("index ") << index << " is not in [0, " << parts << ")";
  if (in[axis] != kDyn && in[axis] % parts != 0)
    return emitOpError("dim ")
           << axis << " of size " << in[axis] << " does not split into "
           << parts << " equal parts";
  shape.assign(in.begin(), in.end());
  if (in[axis] != kDyn)
    shape[axis] = in[axis] / parts;
  return success();
}

LogicalResult SliceOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto in = shapeOf(getInput());
  if (getStaticStarts().size() != in.size() ||
      getStaticEnds().size() != in.size())
    return emitOpError("needs one start and one end per input dim");
  if (llvm::count(getStaticStarts(), kDyn) !=
          static_cast<int64_t>(getDynamicStarts().size()) ||
      llvm::count(getStaticEnds(), kDyn) !=
          static_cast<int64_t>(getDynamicEnds().size()))
    return emitOpError("dynamic bounds do not match the size operands");
  SmallVector<int64_t> starts(getStaticStarts()), ends(getStaticEnds());
  for (size_t i = 0, k = 0; i < starts.size(); ++i)
    if (starts[i] == kDyn)
      starts[i] = staticSize(getDynamicStarts()[k++]);
  for (size_t i = 0, k = 0; i < ends.size(); ++i)
    if (ends[i] == kDyn)
      ends[i] = staticSize(getDynamicEnds()[k++]);
  ArrayRef<int64_t> squeeze = getSqueeze();
  shape.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    bool squeezed = llvm::is_contained(squeeze, static_cast<int64_t>(i));
    if (squeezed) {
      if (starts[i] == kDyn)
        return emitOpError("a squeezed dim needs a static index");
      continue;
    }
    if (starts[i] == kDyn || ends[i] == kDyn) {
      shape.push_back(kDyn);
      continue;
    }
    if (starts[i] < 0 || ends[i] <= starts[i] ||
        (in[i] != kDyn && ends[i] > in[i]))
      return emitOpError("slice ")
             << starts[i] << ":" << ends[i] << " is out of range for dim " << i
             << " of " << formatShape(in);
    shape.push_back(ends[i] - starts[i]);
  }
  return success();
}

template <typename Reduce>
static LogicalResult reduceShape(Reduce op, SmallVectorImpl<int64_t> &shape) {
  auto in = shapeOf(op.getInput());
  int64_t axis = op.getAxis();
  if (failed(checkAxis(op, axis, in.size())))
    return failure();
  shape.assign(in.begin(), in.end());
  if (op.getKeepdim())
    shape[axis] = 1;
  else
    shape.erase(shape.begin() + axis);
  return success();
}
LogicalResult SumOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  return reduceShape(*this, shape);
}
LogicalResult MeanOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  return reduceShape(*this, shape);
}
LogicalResult MaxOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  return reduceShape(*this, shape);
}
LogicalResult VarOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  return reduceShape(*this, shape);
}

LogicalResult LayerNormOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto in = shapeOf(getInput());
  if (in.empty())
    return emitOpError("needs an input of rank >= 1");
  for (Value v : {getScale(), getShift()}) {
    auto s = shapeOf(v);
    if (s.size() != 1 || !compatible(s[0], in.back()))
      return emitOpError("scale and shift must be [")
             << in.back() << "] (the last dim of the input), got "
             << formatShape(s);
  }
  shape.assign(in.begin(), in.end());
  return success();
}

LogicalResult CausalMaskOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  int64_t n = staticSize(getSize());
  shape.assign({n, n});
  return success();
}

LogicalResult MaskedFillOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto in = shapeOf(getInput());
  if (failed(broadcast(*this, in, shapeOf(getMask()), shape)))
    return failure();
  if (shape.size() != in.size())
    return emitOpError("mask ")
           << formatShape(shapeOf(getMask()))
           << " has more dims than the input " << formatShape(in);
  shape.assign(in.begin(), in.end());
  return success();
}

LogicalResult ArangeOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  shape.assign({staticSize(getSize())});
  return success();
}

LogicalResult EmbeddingOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto table = shapeOf(getTable());
  if (table.size() != 2)
    return emitOpError("table must be [rows, dim], got ") << formatShape(table);
  auto ids = shapeOf(getIds());
  shape.assign(ids.begin(), ids.end());
  shape.push_back(table[1]);
  return success();
}

/// Targets of cross entropy index the logits' leading dims.
static LogicalResult checkTargets(Operation *op, ArrayRef<int64_t> logits,
                                  ArrayRef<int64_t> targets) {
  bool ok = logits.size() >= 2 && targets.size() == logits.size() - 1;
  for (size_t i = 0; ok && i < targets.size(); ++i)
    ok = compatible(targets[i], logits[i]);
  if (!ok)
    return op->emitOpError("targets ")
           << formatShape(targets) << " must have the leading dims of logits "
           << formatShape(logits);
  return success();
}

LogicalResult
CrossEntropyOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto logits = shapeOf(getLogits());
  if (failed(checkTargets(*this, logits, shapeOf(getTargets()))))
    return failure();
  shape.clear();
  return success();
}

/// Checks that `from` broadcasts to `to` (every dim of `from`, aligned from
/// the right, is 1 or fits the dim of `to`).
static LogicalResult broadcastsTo(Operation *op, ArrayRef<int64_t> from,
                                  ArrayRef<int64_t> to) {
  bool ok = from.size() <= to.size();
  for (size_t i = 0; ok && i < from.size(); ++i) {
    int64_t f = from[from.size() - 1 - i], t = to[to.size() - 1 - i];
    ok = f == 1 || compatible(f, t);
  }
  if (!ok)
    return op->emitOpError("shape ")
           << formatShape(from) << " does not broadcast to " << formatShape(to);
  return success();
}

LogicalResult UnbroadcastOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto like = shapeOf(getLike());
  if (failed(broadcastsTo(*this, like, shapeOf(getInput()))))
    return failure();
  shape.assign(like.begin(), like.end());
  return success();
}

LogicalResult
BroadcastLikeOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto like = shapeOf(getLike());
  if (failed(broadcastsTo(*this, shapeOf(getInput()), like)))
    return failure();
  shape.assign(like.begin(), like.end());
  return success();
}

LogicalResult UnsqueezeOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto in = shapeOf(getInput());
  if (failed(checkAxis(*this, getAxis(), in.size() + 1)))
    return failure();
  shape.assign(in.begin(), in.end());
  shape.insert(shape.begin() + getAxis(), 1);
  return success();
}

LogicalResult ArgmaxMaskOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto in = shapeOf(getInput());
  if (failed(checkAxis(*this, getAxis(), in.size())))
    return failure();
  shape.assign(in.begin(), in.end());
  return success();
}

LogicalResult
EmbeddingGradOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto table = shapeOf(getTable()), ids = shapeOf(getIds()),
       grad = shapeOf(getGrad());
  bool ok = table.size() == 2 && grad.size() == ids.size() + 1 &&
            compatible(grad.back(), table[1]);
  for (size_t i = 0; ok && i < ids.size(); ++i)
    ok = compatible(ids[i], grad[i]);
  if (!ok)
    return emitOpError("gradient ")
           << formatShape(grad) << " does not fit ids " << formatShape(ids)
           << " and table " << formatShape(table);
  shape.assign(table.begin(), table.end());
  return success();
}

LogicalResult
CrossEntropyGradOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto logits = shapeOf(getLogits());
  if (failed(checkTargets(*this, logits, shapeOf(getTargets()))))
    return failure();
  shape.assign(logits.begin(), logits.end());
  return success();
}

LogicalResult UnsplitOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto like = shapeOf(getLike()), in = shapeOf(getInput());
  int64_t axis = getAxis(), parts = getParts();
  if (failed(checkAxis(*this, axis, like.size())))
    return failure();
  // The index attribute reads back unsigned: a negative one is huge.
  bool ok = in.size() == like.size() && parts >= 1 &&
            static_cast<int64_t>(getIndex()) >= 0 &&
            static_cast<int64_t>(getIndex()) < parts;
  for (size_t i = 0; ok && i < in.size(); ++i)
    ok = static_cast<int64_t>(i) == axis
             ? (like[i] == kDyn || compatible(in[i], like[i] / parts))
             : compatible(in[i], like[i]);
  if (!ok)
    return emitOpError("piece ")
           << formatShape(in) << " is not piece " << getIndex() << " of "
           << parts << " of " << formatShape(like) << " along axis " << axis;
  shape.assign(like.begin(), like.end());
  return success();
}

LogicalResult UnsliceOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto like = shapeOf(getLike());
  if (getStaticStarts().size() != like.size() ||
      getStaticEnds().size() != like.size())
    return emitOpError("needs one start and one end per dim of the result");
  shape.assign(like.begin(), like.end());
  return success();
}

/// q [..., T, D], k [..., S, D], v [..., S, Dv] with equal batch dims; the
/// output [..., T, Dv].
static LogicalResult attentionShape(Operation *op, Value qv, Value kv, Value vv,
                                    bool causal,
                                    SmallVectorImpl<int64_t> &shape) {
  auto q = shapeOf(qv), k = shapeOf(kv), v = shapeOf(vv);
  if (q.size() < 2 || k.size() != q.size() || v.size() != q.size())
    return op->emitOpError("q, k and v must have the same rank >= 2, got ")
           << formatShape(q) << ", " << formatShape(k) << " and "
           << formatShape(v);
  size_t r = q.size();
  for (size_t i = 0; i + 2 < r; ++i)
    if (!compatible(q[i], k[i]) || !compatible(q[i], v[i]))
      return op->emitOpError("batch dims differ: ")
             << formatShape(q) << ", " << formatShape(k) << " and "
             << formatShape(v);
  if (!compatible(q[r - 1], k[r - 1]))
    return op->emitOpError("q and k head dims differ: ")
           << formatShape(q) << " and " << formatShape(k);
  if (!compatible(k[r - 2], v[r - 2]))
    return op->emitOpError("k and v lengths differ: ")
           << formatShape(k) << " and " << formatShape(v);
  if (causal && !compatible(q[r - 2], k[r - 2]))
    return op->emitOpError("a causal mask needs as many queries as keys: ")
           << formatShape(q) << " and " << formatShape(k);
  shape.assign(q.begin(), q.end());
  shape[r - 1] = v[r - 1];
  return success();
}

LogicalResult AttentionOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  return attentionShape(*this, getQ(), getK(), getV(), getCausal(), shape);
}

LogicalResult
AttentionOp::inferResultShapes(SmallVectorImpl<SmallVector<int64_t>> &shapes) {
  SmallVector<int64_t> out;
  if (failed(inferResultShape(out)))
    return failure();
  shapes.push_back(out);
  shapes.push_back(SmallVector<int64_t>(out.begin(), out.end() - 1));
  return success();
}

/// dq's shape; checks that the forward's output, its lse and the output
/// gradient fit q, k and v.
LogicalResult
AttentionGradOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  SmallVector<int64_t> out;
  if (failed(attentionShape(*this, getQ(), getK(), getV(), getCausal(), out)))
    return failure();
  auto fits = [](ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
    return a.size() == b.size() && llvm::all_of(llvm::zip(a, b), [](auto p) {
             return compatible(std::get<0>(p), std::get<1>(p));
           });
  };
  for (auto [name, value] :
       {std::pair<StringRef, Value>{"gradient", getGrad()},
        std::pair<StringRef, Value>{"forward output", getOut()}})
    if (!fits(shapeOf(value), out))
      return emitOpError() << name << " " << formatShape(shapeOf(value))
                           << " does not match the attention output "
                           << formatShape(out);
  ArrayRef<int64_t> rows(out.begin(), out.end() - 1);
  if (!fits(shapeOf(getLse()), rows))
    return emitOpError("lse ")
           << formatShape(shapeOf(getLse())) << " does not match the rows "
           << formatShape(rows);
  auto q = shapeOf(getQ());
  shape.assign(q.begin(), q.end());
  return success();
}

LogicalResult AttentionGradOp::inferResultShapes(
    SmallVectorImpl<SmallVector<int64_t>> &shapes) {
  SmallVector<int64_t> dq;
  if (failed(inferResultShape(dq)))
    return failure();
  shapes.push_back(dq);
  for (Value v : {getK(), getV()})
    shapes.push_back(SmallVector<int64_t>(shapeOf(v)));
  return success();
}

/// Checks that `x` `[B, H, T, D]` fits a cache `[B, H, S, D]` and that
/// `positions`, when given, is `[B, T]`. Whether T new tokens fit in S
/// slots depends on the positions: the kernels check it at run time.
static LogicalResult cacheShapes(Operation *op, StringRef what, Value x,
                                 Value cache, Value positions) {
  auto s = shapeOf(x), c = shapeOf(cache);
  if (s.size() != 4 || c.size() != 4)
    return op->emitOpError("needs ")
           << what << " [B, H, T, D] and a cache [B, H, S, D], got "
           << formatShape(s) << " and " << formatShape(c);
  if (!compatible(s[0], c[0]) || !compatible(s[1], c[1]) ||
      !compatible(s[3], c[3]))
    return op->emitOpError() << what << " " << formatShape(s)
                             << " does not fit the cache " << formatShape(c);
  if (positions) {
    auto p = shapeOf(positions);
    if (p.size() != 2 || !compatible(p[0], s[0]) || !compatible(p[1], s[2]))
      return op->emitOpError("positions ")
             << formatShape(p) << " must be [B, T] for " << formatShape(s);
  }
  return success();
}

LogicalResult CacheWriteOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  if (failed(cacheShapes(*this, "new entries", getNewEntries(), getCache(),
                         getPositions())))
    return failure();
  auto c = shapeOf(getCache());
  shape.assign(c.begin(), c.end());
  return success();
}

LogicalResult
CachedAttentionOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  if (failed(cacheShapes(*this, "q", getQ(), getKCache(), getPositions())) ||
      failed(cacheShapes(*this, "q", getQ(), getVCache(), Value())))
    return failure();
  auto q = shapeOf(getQ());
  shape.assign(q.begin(), q.end());
  return success();
}

bool TransposeOp::swapsLastTwoDims() {
  ArrayRef<int64_t> p = getPerm();
  size_t n = p.size();
  if (n < 2)
    return false;
  for (size_t i = 0; i + 2 < n; ++i)
    if (p[i] != static_cast<int64_t>(i))
      return false;
  return p[n - 2] == static_cast<int64_t>(n - 1) &&
         p[n - 1] == static_cast<int64_t>(n - 2);
}

//===----------------------------------------------------------------------===//
// Gradient rules
//===----------------------------------------------------------------------===//

#define GRAD(Op)                                                               \
  void Op::buildGradients(OpBuilder &b, Value g, SmallVectorImpl<Value> &grads)

GRAD(NegOp) { grads.push_back(NegOp::create(b, getLoc(), g)); }

GRAD(ExpOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(gb.mul(g, getResult()));
}

GRAD(LogOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(gb.div(g, getInput()));
}

GRAD(SqrtOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(gb.div(gb.mul(g, 0.5), getResult()));
}

GRAD(TanhOp) {
  GptBuilder gb{b, getLoc()};
  Value y = getResult();
  grads.push_back(gb.mul(g, gb.sub(gb.cst(1.0), gb.mul(y, y))));
}

GRAD(SinOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(gb.mul(g, CosOp::create(b, getLoc(), getInput())));
}

GRAD(CosOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(gb.neg(gb.mul(g, SinOp::create(b, getLoc(), getInput()))));
}

GRAD(SigmoidOp) {
  // s' = s (1 - s), from the forward's result.
  GptBuilder gb{b, getLoc()};
  Value y = getResult();
  grads.push_back(gb.mul(g, gb.mul(y, gb.sub(gb.cst(1.0), y))));
}

GRAD(ReluOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(gb.mul(g, StepOp::create(b, getLoc(), getInput())));
}

GRAD(GeluOp) {
  // d/dx 0.5 x (1 + t), t = tanh(c (x + a x^3)):
  //   0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2)
  GptBuilder gb{b, getLoc()};
  const double c = std::sqrt(2.0 / M_PI), a = 0.044715;
  Value x = getInput();
  Value x2 = gb.mul(x, x);
  Value inner = gb.mul(gb.add(x, gb.mul(gb.mul(x2, x), a)), c);
  Value t = TanhOp::create(b, getLoc(), inner);
  Value left = gb.mul(gb.add(gb.cst(1.0), t), 0.5);
  Value dInner = gb.mul(gb.add(gb.cst(1.0), gb.mul(x2, 3 * a)), c);
  Value right =
      gb.mul(gb.mul(gb.mul(x, 0.5), gb.sub(gb.cst(1.0), gb.mul(t, t))), dInner);
  grads.push_back(gb.mul(g, gb.add(left, right)));
}

GRAD(PowOp) {
  GptBuilder gb{b, getLoc()};
  double e = getExponent().convertToDouble();
  Value d = PowOp::create(b, getLoc(), getInput(), b.getF64FloatAttr(e - 1));
  grads.push_back(gb.mul(gb.mul(g, e), d));
}

GRAD(AddOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(gb.unbroadcast(g, getLhs()));
  grads.push_back(gb.unbroadcast(g, getRhs()));
}

GRAD(SubOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(gb.unbroadcast(g, getLhs()));
  grads.push_back(gb.unbroadcast(gb.neg(g), getRhs()));
}

GRAD(MulOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(gb.unbroadcast(gb.mul(g, getRhs()), getLhs()));
  grads.push_back(gb.unbroadcast(gb.mul(g, getLhs()), getRhs()));
}

GRAD(DivOp) {
  // d(a/b)/db = -(a/b)/b: reuse the forward result.
  GptBuilder gb{b, getLoc()};
  grads.push_back(gb.unbroadcast(gb.div(g, getRhs()), getLhs()));
  grads.push_back(gb.unbroadcast(
      gb.neg(gb.div(gb.mul(g, getResult()), getRhs())), getRhs()));
}

GRAD(MatmulOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(
      gb.unbroadcast(gb.matmul(g, gb.transposeLast2(getRhs())), getLhs()));
  grads.push_back(
      gb.unbroadcast(gb.matmul(gb.transposeLast2(getLhs()), g), getRhs()));
}

GRAD(AttentionOp) {
  auto dx = AttentionGradOp::create(
      b, getLoc(),
      TypeRange{getQ().getType(), getK().getType(), getV().getType()}, g,
      getQ(), getK(), getV(), getResult(), getLse(), getCausalAttr(),
      getScaleAttr(), getPAttr(), getIdAttr());
  grads.append(dx->result_begin(), dx->result_end());
}

GRAD(TransposeOp) {
  ArrayRef<int64_t> perm = getPerm();
  SmallVector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[perm[i]] = i;
  grads.push_back(TransposeOp::create(b, getLoc(), getInput().getType(), g,
                                      b.getDenseI64ArrayAttr(inverse)));
}

GRAD(ReshapeOp) {
  // Back to the input's shape; its dynamic dims are read off the input.
  auto in = cast<RankedTensorType>(getInput().getType());
  SmallVector<Value> dynamic;
  for (int64_t i = 0; i < in.getRank(); ++i)
    if (in.isDynamicDim(i))
      dynamic.push_back(tensor::DimOp::create(b, getLoc(), getInput(), i));
  grads.push_back(ReshapeOp::create(b, getLoc(), in, g, dynamic,
                                    b.getDenseI64ArrayAttr(in.getShape())));
  grads.append(getDynamicShape().size(), Value());
}

GRAD(SplitOp) {
  grads.push_back(UnsplitOp::create(b, getLoc(), getInput().getType(), g,
                                    getInput(), getAxis(), getParts(),
                                    getIndex()));
}

GRAD(SliceOp) {
  grads.push_back(UnsliceOp::create(b, getLoc(), getInput().getType(), g,
                                    getInput(), getDynamicStarts(),
                                    getStaticStartsAttr(), getDynamicEnds(),
                                    getStaticEndsAttr(), getSqueezeAttr()));
  grads.append(getDynamicStarts().size() + getDynamicEnds().size(), Value());
}

GRAD(SumOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(
      gb.broadcastLike(gb.keepAxis(g, getAxis(), getKeepdim()), getInput()));
}

GRAD(MeanOp) {
  GptBuilder gb{b, getLoc()};
  Value gk = gb.keepAxis(g, getAxis(), getKeepdim());
  grads.push_back(gb.broadcastLike(
      gb.div(gk, gb.countAlong(getInput(), getAxis())), getInput()));
}

GRAD(VarOp) {
  // d var / dx = 2 (x - mean) / n.
  GptBuilder gb{b, getLoc()};
  Value x = getInput();
  Value gk = gb.keepAxis(g, getAxis(), getKeepdim());
  Value centered = gb.sub(x, gb.meanKeep(x, getAxis()));
  Value scale = gb.div(gb.mul(gk, 2.0), gb.countAlong(x, getAxis()));
  grads.push_back(gb.mul(centered, scale));
}

GRAD(MaxOp) {
  GptBuilder gb{b, getLoc()};
  Value gk = gb.keepAxis(g, getAxis(), getKeepdim());
  Value mask = ArgmaxMaskOp::create(b, getLoc(), getInput(), getAxis());
  grads.push_back(gb.mul(mask, gk));
}

GRAD(SoftmaxOp) {
  // dx = y * (g - sum(g * y)).
  GptBuilder gb{b, getLoc()};
  Value y = getResult();
  grads.push_back(gb.mul(y, gb.sub(g, gb.sumKeep(gb.mul(g, y), getAxis()))));
}

GRAD(LogSoftmaxOp) {
  // dx = g - softmax(x) * sum(g), softmax(x) = exp(y).
  GptBuilder gb{b, getLoc()};
  Value p = ExpOp::create(b, getLoc(), getResult());
  grads.push_back(gb.sub(g, gb.mul(p, gb.sumKeep(g, getAxis()))));
}

GRAD(LayerNormOp) {
  // With xhat = (x - mean) * rstd and dxhat = g * scale:
  //   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
  GptBuilder gb{b, getLoc()};
  Value x = getInput();
  int64_t axis = shapeOf(x).size() - 1;
  Value centered = gb.sub(x, gb.meanKeep(x, axis));
  Value var = gb.meanKeep(gb.mul(centered, centered), axis);
  Value rstd =
      gb.div(gb.cst(1.0),
             SqrtOp::create(b, getLoc(),
                            gb.add(var, gb.cst(getEps().convertToDouble()))));
  Value xhat = gb.mul(centered, rstd);
  Value dxhat = gb.mul(g, getScale());
  Value dx = gb.mul(
      rstd, gb.sub(gb.sub(dxhat, gb.meanKeep(dxhat, axis)),
                   gb.mul(xhat, gb.meanKeep(gb.mul(dxhat, xhat), axis))));
  grads.push_back(dx);
  grads.push_back(gb.unbroadcast(gb.mul(g, xhat), getScale()));
  grads.push_back(gb.unbroadcast(g, getShift()));
}

GRAD(MaskedFillOp) {
  grads.push_back(MaskedFillOp::create(b, getLoc(), getInput().getType(), g,
                                       getMask(), b.getF64FloatAttr(0.0)));
  grads.push_back(Value());
}

GRAD(DropoutOp) {
  // The same op id draws the same mask, so the backward drops exactly the
  // elements the forward dropped.
  grads.push_back(DropoutOp::create(b, getLoc(), g, getPAttr(), getIdAttr()));
}

GRAD(EmbeddingOp) {
  grads.push_back(Value());
  grads.push_back(EmbeddingGradOp::create(b, getLoc(), getTable().getType(), g,
                                          getIds(), getTable()));
}

GRAD(CrossEntropyOp) {
  grads.push_back(CrossEntropyGradOp::create(b, getLoc(), getLogits().getType(),
                                             g, getLogits(), getTargets(),
                                             getIgnoreIndex()));
  grads.push_back(Value());
}

#undef GRAD

//===----------------------------------------------------------------------===//
// Folders and canonicalization
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValueAttr(); }

OpFoldResult DropoutOp::fold(FoldAdaptor) {
  // p = 0 keeps everything: dropout is the identity even in training.
  return getP().convertToDouble() == 0.0 ? getInput() : Value();
}

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  ArrayRef<int64_t> perm = getPerm();
  auto isIdentity = [](ArrayRef<int64_t> p) {
    for (size_t i = 0; i < p.size(); ++i)
      if (p[i] != static_cast<int64_t>(i))
        return false;
    return true;
  };
  if (isIdentity(perm))
    return getInput();
  // transpose(transpose(x, p), q) is x when q undoes p.
  if (auto inner = getInput().getDefiningOp<TransposeOp>()) {
    ArrayRef<int64_t> p = inner.getPerm();
    SmallVector<int64_t> composed;
    for (int64_t q : perm)
      composed.push_back(p[q]);
    if (isIdentity(composed) && inner.getInput().getType() == getType())
      return inner.getInput();
  }
  return {};
}

OpFoldResult ReshapeOp::fold(FoldAdaptor) {
  auto type = cast<RankedTensorType>(getType());
  if (type.hasStaticShape() && getInput().getType() == type)
    return getInput();
  return {};
}

namespace {
/// reshape(reshape(x)) -> reshape(x): only the last target shape matters.
struct ComposeReshapes : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getInput().getDefiningOp<ReshapeOp>();
    if (!inner)
      return failure();
    rewriter.modifyOpInPlace(
        op, [&] { op.getInputMutable().assign(inner.getInput()); });
    return success();
  }
};
} // namespace

void ReshapeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<ComposeReshapes>(context);
}

//===----------------------------------------------------------------------===//
// Kernels
//===----------------------------------------------------------------------===//

LogicalResult KernelOp::verify() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError("body takes ")
           << body.getNumArguments() << " arguments but the kernel has "
           << getInputs().size() << " operands";
  for (auto [i, arg] : llvm::enumerate(body.getArguments()))
    if (arg.getType() != getInputs()[i].getType())
      return emitOpError("body argument ")
             << i << " is " << arg.getType() << " but operand " << i << " is "
             << getInputs()[i].getType();
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError("body must end with gpt.yield");
  if (yield.getValue().getType() != getResult().getType())
    return emitOpError("yields ")
           << yield.getValue().getType() << " but the kernel returns "
           << getResult().getType();
  StringRef kind = getKind();
  if (kind != "matmul" && kind != "fused")
    return emitOpError("kind must be \"matmul\" or \"fused\", got \"")
           << kind << "\"";
  return success();
}

#include "gptc/IR/GptInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "gptc/IR/GptOps.cpp.inc"
