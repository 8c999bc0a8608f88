//===- GptOps.cpp - Shape rules, folders and the dialect ------------------===//
//
// Each op's shape rule (ShapeInference::inferResultShape) doubles as its
// verifier through verifyInferredShape. Dynamic dims (`?`) are compatible
// with anything: the front end has already checked the symbolic relations
// between them, and the run time checks the actual sizes.
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/GptOps.h"

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

static std::string shapeStr(ArrayRef<int64_t> s) {
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
             << shapeStr(a) << " and " << shapeStr(b) << " do not broadcast";
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
  SmallVector<int64_t> inferred;
  if (failed(cast<ShapeInference>(op).inferResultShape(inferred)))
    return failure();
  auto declared = cast<RankedTensorType>(op->getResult(0).getType());
  bool ok = declared.getRank() == static_cast<int64_t>(inferred.size());
  for (size_t i = 0; ok && i < inferred.size(); ++i)
    ok = compatible(declared.getDimSize(i), inferred[i]);
  if (!ok)
    return op->emitOpError("result type ")
           << declared << " does not match the inferred shape "
           << shapeStr(inferred);
  return success();
}

//===----------------------------------------------------------------------===//
// Shape rules
//===----------------------------------------------------------------------===//

#define SAME_AS_INPUT(Op)                                                      \
  LogicalResult Op::inferResultShape(SmallVectorImpl<int64_t> &shape) {        \
    shape.assign(shapeOf(getInput()).begin(), shapeOf(getInput()).end());     \
    return success();                                                          \
  }
SAME_AS_INPUT(NegOp)
SAME_AS_INPUT(ExpOp)
SAME_AS_INPUT(LogOp)
SAME_AS_INPUT(SqrtOp)
SAME_AS_INPUT(TanhOp)
SAME_AS_INPUT(ReluOp)
SAME_AS_INPUT(GeluOp)
SAME_AS_INPUT(PowOp)
SAME_AS_INPUT(DropoutOp)
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
           << shapeStr(a) << " and " << shapeStr(b);
  if (!compatible(a.back(), b[b.size() - 2]))
    return emitOpError("inner dimensions differ: ")
           << shapeStr(a) << " @ " << shapeStr(b);
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
      return emitOpError("perm is not a permutation of 0..")
             << in.size() - 1;
    seen[p] = true;
    shape.push_back(in[p]);
  }
  return success();
}

LogicalResult ReshapeOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  ArrayRef<int64_t> target = getStaticShape();
  int64_t dynamic = llvm::count(target, kDyn);
  if (dynamic != static_cast<int64_t>(getDynamicShape().size()))
    return emitOpError("has ")
           << dynamic << " dynamic dims but " << getDynamicShape().size()
           << " size operands";
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
             << shapeStr(in) << " (" << a << " elements) into "
             << shapeStr(shape) << " (" << b << ")";
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
    return emitOpError("dim ") << axis << " of size " << in[axis]
                               << " does not split into " << parts
                               << " equal parts";
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
             << " of " << shapeStr(in);
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
             << shapeStr(s);
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
    return emitOpError("mask ") << shapeStr(shapeOf(getMask()))
                                << " has more dims than the input "
                                << shapeStr(in);
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
    return emitOpError("table must be [rows, dim], got ") << shapeStr(table);
  auto ids = shapeOf(getIds());
  shape.assign(ids.begin(), ids.end());
  shape.push_back(table[1]);
  return success();
}

LogicalResult
CrossEntropyOp::inferResultShape(SmallVectorImpl<int64_t> &shape) {
  auto logits = shapeOf(getLogits()), targets = shapeOf(getTargets());
  bool ok = logits.size() >= 2 && targets.size() == logits.size() - 1;
  for (size_t i = 0; ok && i < targets.size(); ++i)
    ok = compatible(targets[i], logits[i]);
  if (!ok)
    return emitOpError("targets ")
           << shapeStr(targets) << " must have the leading dims of logits "
           << shapeStr(logits);
  shape.clear();
  return success();
}

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

#include "gptc/IR/GptInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "gptc/IR/GptOps.cpp.inc"
