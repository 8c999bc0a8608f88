//===- GptOps.cpp - Shape rules, folders and the dialect ------------------===//
//
// Each op's shape rule is the MLIR-free function of ShapeRules.h that the
// front end calls too; shapeRule feeds it the operands' dims from a DimEnv:
// the IR's static sizes and `?` (StaticDims: the unknown dim, compatible
// with anything; the front end has checked the symbolic relations, the run
// time checks the actual sizes) for type inference and the verifier, or the
// entry's symbolic dims (SymbolicShapes.h) for the lowering.
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/GptOps.h"
#include "gptc/IR/GptBuilder.h"
#include "gptc/IR/ShapeRules.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace gptc;
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

/// The static value of an index operand, or kDyn.
static int64_t staticSize(Value v) {
  if (auto c = getConstantIntValue(v))
    return *c;
  return kDyn;
}

static bool sizesFit(int64_t a, int64_t b) {
  return a == b || a == kDyn || b == kDyn;
}

shapes::Shape StaticDims::shape(Value v) const {
  return shapes::fromSizes(shapeOf(v), kDyn);
}

Dim StaticDims::index(Value v) const {
  int64_t n = staticSize(v);
  return n == kDyn ? Dim::unknown() : Dim(n);
}

/// Starts or ends from static values and size operands (kDyn: the next
/// operand, as `env` sees it).
static shapes::Shape boundsOf(const DimEnv &env, ArrayRef<int64_t> bounds,
                              ValueRange dynamic) {
  shapes::Shape dims;
  size_t k = 0;
  for (int64_t b : bounds)
    dims.push_back(b != kDyn            ? Dim(b)
                   : k < dynamic.size() ? env.index(dynamic[k++])
                                        : Dim::unknown());
  return dims;
}

LogicalResult
gptc::gpt::inferStaticShapes(Operation *op,
                             SmallVectorImpl<SmallVector<int64_t>> &shapes) {
  for (const shapes::Result &r :
       cast<ShapeInference>(op).shapeRules(StaticDims())) {
    if (r.failed())
      return op->emitOpError(r.error);
    SmallVector<int64_t> &shape = shapes.emplace_back();
    for (const Dim &d : r.shape)
      shape.push_back(d.isConstant() ? d.coeff : kDyn);
  }
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
      ok = sizesFit(declared.getDimSize(i), inferred[i]);
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
  shapes::Result Op::shapeRule(const DimEnv &env) {                            \
    return shapes::Result::ok(env.shape(getInput()));                          \
  }
SAME_AS_INPUT(NegOp)
SAME_AS_INPUT(ExpOp)
SAME_AS_INPUT(LogOp)
SAME_AS_INPUT(SqrtOp)
SAME_AS_INPUT(TanhOp)
SAME_AS_INPUT(SinOp)
SAME_AS_INPUT(CosOp)
SAME_AS_INPUT(SigmoidOp)
SAME_AS_INPUT(SiluOp)
SAME_AS_INPUT(RsqrtOp)
SAME_AS_INPUT(ReluOp)
SAME_AS_INPUT(GeluOp)
SAME_AS_INPUT(PowOp)
SAME_AS_INPUT(DropoutOp)
SAME_AS_INPUT(StepOp)
#undef SAME_AS_INPUT

#define BROADCASTING(Op)                                                       \
  shapes::Result Op::shapeRule(const DimEnv &env) {                            \
    return shapes::broadcast(env.shape(getLhs()), env.shape(getRhs()));        \
  }
BROADCASTING(AddOp)
BROADCASTING(SubOp)
BROADCASTING(MulOp)
BROADCASTING(DivOp)
BROADCASTING(LtOp)
BROADCASTING(LeOp)
BROADCASTING(GtOp)
BROADCASTING(GeOp)
BROADCASTING(EqOp)
BROADCASTING(NeOp)
#undef BROADCASTING

/// Both operands of a comparison have one element type.
template <typename Compare> static LogicalResult verifyCompare(Compare op) {
  auto elem = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getElementType();
  };
  if (elem(op.getLhs()) != elem(op.getRhs()))
    return op.emitOpError("compares ")
           << elem(op.getLhs()) << " with " << elem(op.getRhs())
           << "; cast one side first";
  return success();
}
LogicalResult LtOp::verify() { return verifyCompare(*this); }
LogicalResult LeOp::verify() { return verifyCompare(*this); }
LogicalResult GtOp::verify() { return verifyCompare(*this); }
LogicalResult GeOp::verify() { return verifyCompare(*this); }
LogicalResult EqOp::verify() { return verifyCompare(*this); }
LogicalResult NeOp::verify() { return verifyCompare(*this); }

shapes::Result WhereOp::shapeRule(const DimEnv &env) {
  return shapes::where(env.shape(getCond()), env.shape(getA()),
                       env.shape(getB()));
}

shapes::Result CastOp::shapeRule(const DimEnv &env) {
  return shapes::Result::ok(env.shape(getInput()));
}

shapes::Result FullOp::shapeRule(const DimEnv &env) {
  ArrayRef<int64_t> target = getStaticShape();
  if (llvm::count(target, kDyn) !=
      static_cast<int64_t>(getDynamicShape().size()))
    return shapes::Result::fail("dynamic dims do not match the size operands");
  return shapes::full(boundsOf(env, target, getDynamicShape()));
}

shapes::Result ConstantOp::shapeRule(const DimEnv &env) {
  return shapes::Result::ok({});
}

#define ALONG_AXIS(Op)                                                         \
  shapes::Result Op::shapeRule(const DimEnv &env) {                            \
    return shapes::alongAxis(env.shape(getInput()), getAxis());                \
  }
ALONG_AXIS(SoftmaxOp)
ALONG_AXIS(LogSoftmaxOp)
ALONG_AXIS(ArgmaxMaskOp)
#undef ALONG_AXIS

shapes::Result MatmulOp::shapeRule(const DimEnv &env) {
  return shapes::matmul(env.shape(getLhs()), env.shape(getRhs()));
}

shapes::Result TransposeOp::shapeRule(const DimEnv &env) {
  std::vector<int64_t> perm(getPerm().begin(), getPerm().end());
  return shapes::transpose(env.shape(getInput()), perm);
}

shapes::Result ReshapeOp::shapeRule(const DimEnv &env) {
  ArrayRef<int64_t> target = getStaticShape();
  int64_t dynamic = llvm::count(target, kDyn);
  if (dynamic != static_cast<int64_t>(getDynamicShape().size()))
    return shapes::Result::fail(
        "has " + std::to_string(dynamic) + " dynamic dims but " +
        std::to_string(getDynamicShape().size()) + " size operands");
  return shapes::reshape(env.shape(getInput()),
                         boundsOf(env, target, getDynamicShape()));
}

shapes::Result ConcatOp::shapeRule(const DimEnv &env) {
  std::vector<shapes::Shape> inputs;
  for (Value v : getInputs())
    inputs.push_back(env.shape(v));
  return shapes::concat(inputs, getAxis());
}

shapes::Result GatherOp::shapeRule(const DimEnv &env) {
  return shapes::gather(env.shape(getInput()), env.shape(getIndex()),
                        getAxis());
}

shapes::Result GatherGradOp::shapeRule(const DimEnv &env) {
  return shapes::gatherGrad(env.shape(getGrad()), env.shape(getIndex()),
                            env.shape(getLike()), getAxis());
}

shapes::Result SplitOp::shapeRule(const DimEnv &env) {
  return shapes::split(env.shape(getInput()), getAxis(), getParts(),
                       getIndex());
}

shapes::Result SliceOp::shapeRule(const DimEnv &env) {
  if (llvm::count(getStaticStarts(), kDyn) !=
          static_cast<int64_t>(getDynamicStarts().size()) ||
      llvm::count(getStaticEnds(), kDyn) !=
          static_cast<int64_t>(getDynamicEnds().size()))
    return shapes::Result::fail(
        "dynamic bounds do not match the size operands");
  std::vector<int64_t> squeeze(getSqueeze().begin(), getSqueeze().end());
  return shapes::slice(env.shape(getInput()),
                       boundsOf(env, getStaticStarts(), getDynamicStarts()),
                       boundsOf(env, getStaticEnds(), getDynamicEnds()),
                       squeeze);
}

#define REDUCTION(Op)                                                          \
  shapes::Result Op::shapeRule(const DimEnv &env) {                            \
    return shapes::reduce(env.shape(getInput()), getAxis(), getKeepdim());     \
  }
REDUCTION(SumOp)
REDUCTION(MeanOp)
REDUCTION(MaxOp)
REDUCTION(VarOp)
#undef REDUCTION

shapes::Result LayerNormOp::shapeRule(const DimEnv &env) {
  return shapes::layerNorm(env.shape(getInput()), env.shape(getScale()),
                           env.shape(getShift()));
}

shapes::Result CausalMaskOp::shapeRule(const DimEnv &env) {
  return shapes::causalMask(env.index(getSize()));
}

shapes::Result MaskedFillOp::shapeRule(const DimEnv &env) {
  return shapes::maskedFill(env.shape(getInput()), env.shape(getMask()));
}

shapes::Result ArangeOp::shapeRule(const DimEnv &env) {
  return shapes::arange(env.index(getSize()));
}

shapes::Result EmbeddingOp::shapeRule(const DimEnv &env) {
  return shapes::embedding(env.shape(getIds()), env.shape(getTable()));
}

shapes::Result CrossEntropyOp::shapeRule(const DimEnv &env) {
  return shapes::crossEntropy(env.shape(getLogits()), env.shape(getTargets()));
}

shapes::Result CrossEntropyGradOp::shapeRule(const DimEnv &env) {
  return shapes::crossEntropyGrad(env.shape(getLogits()),
                                  env.shape(getTargets()));
}

shapes::Result UnbroadcastOp::shapeRule(const DimEnv &env) {
  return shapes::unbroadcast(env.shape(getInput()), env.shape(getLike()));
}

shapes::Result BroadcastLikeOp::shapeRule(const DimEnv &env) {
  return shapes::broadcastLike(env.shape(getInput()), env.shape(getLike()));
}

shapes::Result UnsqueezeOp::shapeRule(const DimEnv &env) {
  return shapes::unsqueeze(env.shape(getInput()), getAxis());
}

shapes::Result EmbeddingGradOp::shapeRule(const DimEnv &env) {
  std::optional<shapes::Shape> base;
  if (getBase())
    base = env.shape(getBase());
  return shapes::embeddingGrad(env.shape(getIds()), env.shape(getTable()),
                               env.shape(getGrad()), base ? &*base : nullptr);
}

shapes::Result UnsplitOp::shapeRule(const DimEnv &env) {
  // The index attribute reads back unsigned: a negative one is huge.
  return shapes::unsplit(env.shape(getInput()), env.shape(getLike()), getAxis(),
                         getParts(), static_cast<int64_t>(getIndex()));
}

shapes::Result UnsliceOp::shapeRule(const DimEnv &env) {
  return shapes::unslice(env.shape(getLike()), getStaticStarts().size(),
                         getStaticEnds().size());
}

shapes::Result AttentionOp::shapeRule(const DimEnv &env) {
  return shapes::attention(env.shape(getQ()), env.shape(getK()),
                           env.shape(getV()), getCausal());
}

/// The output, and the log-sum-exp without its last dim.
std::vector<shapes::Result> AttentionOp::shapeRules(const DimEnv &env) {
  shapes::Result out = shapeRule(env);
  if (out.failed())
    return {out};
  return {out, shapes::Result::ok(
                   shapes::Shape(out.shape.begin(), out.shape.end() - 1))};
}

shapes::Result AttentionGradOp::shapeRule(const DimEnv &env) {
  return shapes::attentionGrad(
      env.shape(getGrad()), env.shape(getQ()), env.shape(getK()),
      env.shape(getV()), env.shape(getOut()), env.shape(getLse()), getCausal());
}

/// dq, then dk and dv shaped as k and v.
std::vector<shapes::Result> AttentionGradOp::shapeRules(const DimEnv &env) {
  shapes::Result dq = shapeRule(env);
  if (dq.failed())
    return {dq};
  return {dq, shapes::Result::ok(env.shape(getK())),
          shapes::Result::ok(env.shape(getV()))};
}

shapes::Result CacheWriteOp::shapeRule(const DimEnv &env) {
  shapes::Shape positions;
  if (getPositions())
    positions = env.shape(getPositions());
  return shapes::cacheWrite(env.shape(getNewEntries()), env.shape(getCache()),
                            getPositions() ? &positions : nullptr);
}

shapes::Result CachedAttentionOp::shapeRule(const DimEnv &env) {
  shapes::Shape positions;
  if (getPositions())
    positions = env.shape(getPositions());
  return shapes::cachedAttention(env.shape(getQ()), env.shape(getKCache()),
                                 env.shape(getVCache()),
                                 getPositions() ? &positions : nullptr);
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

GRAD(SiluOp) {
  // silu' = s (1 + x (1 - s)) with s = sigmoid(x).
  GptBuilder gb{b, getLoc()};
  Value x = getInput();
  Value sig = SigmoidOp::create(b, getLoc(), x);
  Value inner = gb.add(gb.cst(1.0), gb.mul(x, gb.sub(gb.cst(1.0), sig)));
  grads.push_back(gb.mul(g, gb.mul(sig, inner)));
}

GRAD(RsqrtOp) {
  // (x^-1/2)' = -y^3 / 2, from the forward's result y.
  GptBuilder gb{b, getLoc()};
  Value y = getResult();
  grads.push_back(gb.mul(g, gb.mul(gb.mul(y, gb.mul(y, y)), -0.5)));
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

GRAD(ConcatOp) {
  // Each input's gradient is its window of g along the axis: a slice from
  // the sizes before it (index arithmetic where a size is dynamic).
  Location loc = getLoc();
  auto gType = cast<RankedTensorType>(g.getType());
  int64_t axis = getAxis();
  auto size = [&](Value v, int64_t d) -> OpFoldResult {
    auto t = cast<RankedTensorType>(v.getType());
    if (!t.isDynamicDim(d))
      return b.getIndexAttr(t.getDimSize(d));
    return tensor::DimOp::create(b, loc, v, d).getResult();
  };
  auto add = [&](OpFoldResult x, OpFoldResult y) -> OpFoldResult {
    auto cx = getConstantIntValue(x), cy = getConstantIntValue(y);
    if (cx && cy)
      return b.getIndexAttr(*cx + *cy);
    auto value = [&](OpFoldResult f) -> Value {
      if (auto c = getConstantIntValue(f))
        return arith::ConstantIndexOp::create(b, loc, *c);
      return cast<Value>(f);
    };
    return arith::AddIOp::create(b, loc, value(x), value(y)).getResult();
  };
  OpFoldResult offset = b.getIndexAttr(0);
  for (Value in : getInputs()) {
    SmallVector<OpFoldResult> starts, ends;
    for (int64_t d = 0; d < gType.getRank(); ++d) {
      if (d == axis) {
        starts.push_back(offset);
        offset = add(offset, size(in, d));
        ends.push_back(offset);
      } else {
        starts.push_back(b.getIndexAttr(0));
        ends.push_back(size(g, d));
      }
    }
    SmallVector<Value> dynStarts, dynEnds;
    SmallVector<int64_t> staticStarts, staticEnds;
    dispatchIndexOpFoldResults(starts, dynStarts, staticStarts);
    dispatchIndexOpFoldResults(ends, dynEnds, staticEnds);
    grads.push_back(SliceOp::create(b, loc, in.getType(), g, dynStarts,
                                    b.getDenseI64ArrayAttr(staticStarts),
                                    dynEnds, b.getDenseI64ArrayAttr(staticEnds),
                                    b.getDenseI64ArrayAttr({})));
  }
}

GRAD(GatherOp) {
  grads.push_back(GatherGradOp::create(b, getLoc(), getInput().getType(), g,
                                       getIndex(), getInput(), getAxisAttr()));
  grads.push_back(Value()); // integer indices
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

GRAD(BroadcastLikeOp) {
  GptBuilder gb{b, getLoc()};
  grads.push_back(gb.unbroadcast(g, getInput()));
  grads.push_back(Value()); // only its shape is read
}

GRAD(WhereOp) {
  // The mask routes the gradient: to a where it holds, to b elsewhere.
  GptBuilder gb{b, getLoc()};
  Value zero = gb.cst(0.0);
  Type type = g.getType();
  grads.push_back(Value()); // the mask
  grads.push_back(gb.unbroadcast(
      WhereOp::create(b, getLoc(), type, getCond(), g, zero), getA()));
  grads.push_back(gb.unbroadcast(
      WhereOp::create(b, getLoc(), type, getCond(), zero, g), getB()));
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
                                          getIds(), getTable(), Value()));
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
  if (yield.getValues().getTypes() != getResults().getTypes())
    return emitOpError("yields (")
           << yield.getValues().getTypes() << ") but the kernel returns ("
           << getResults().getTypes() << ")";
  StringRef kind = getKind();
  if (kind != "matmul" && kind != "fused")
    return emitOpError("kind must be \"matmul\" or \"fused\", got \"")
           << kind << "\"";
  if (auto precision = (*this)->getAttr("precision")) {
    auto name = dyn_cast<StringAttr>(precision);
    if (kind != "matmul")
      return emitOpError("only a matmul kernel has a precision");
    if (!name || (name.getValue() != "f32" && name.getValue() != "bf16"))
      return emitOpError("precision must be \"f32\" or \"bf16\", got ")
             << precision;
  }
  if (getNumResults() == 0 || (kind == "matmul" && getNumResults() != 1))
    return emitOpError("a ") << kind << " kernel has "
                             << (kind == "matmul" ? "one" : "at least one")
                             << " result, got " << getNumResults();
  if (getNumResults() > 1) {
    // Several results are computed in one elementwise pass.
    for (Operation &op : body.without_terminator())
      if (!op.hasTrait<gpt::OpTrait::Elementwise>() &&
          !op.hasTrait<gpt::OpTrait::Generator>())
        return op.emitOpError("in a kernel of ")
               << getNumResults()
               << " results: only elementwise ops and generators compute "
                  "several results in one pass";
    for (Type t : getResultTypes())
      if (t != getResultTypes().front())
        return emitOpError("results must share one type, got ")
               << getResultTypes().front() << " and " << t;
  }
  return success();
}

#include "gptc/IR/GptInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "gptc/IR/GptOps.cpp.inc"
