//===- FuseAttention.cpp - Recognizing attention --------------------------===//
//
// Replaces attention written from primitives, as the book writes it, by one
// gpt.attention op, whose gradient rule recomputes the weights instead of
// keeping the B x H x T x T matrix. Runs before autodiff.
//
// Algorithm, from each matmul `w @ v` backwards:
//  1. Optionally a dropout of the weights (its p and id carry over).
//  2. A softmax over the last axis: the op, or written out as
//     exp(x - max(x)) / sum(exp(x - max(x))) (the max subtraction optional),
//     with keepdim reductions over the last axis.
//  3. Scores made of, in any order: a scale (multiplication or division by
//     a constant, before or after the mask, or applied to q before the
//     product) and a causal mask: masked_fill of gpt.causal_mask with -inf
//     or a value below -1e4, or the addition of such a bias (a zero tensor
//     masked that way).
//  4. q @ transpose(k), the transpose swapping the last two dims; q, k and
//     v with one head dim and equal batch dims (attention's shape rule).
//  5. k and v repeated for grouped-query attention (repeat(x, G, axis = 1):
//     reshape, broadcast, reshape) are taken from before the repeat: the
//     op reads each key/value head for its G query heads.
//  Every intermediate must have this chain as its only user: weights that
//  are returned or reused elsewhere block the fusion, as does a mask that
//  is not the causal one (it stays a masked_fill).
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/GptOps.h"
#include "gptc/IR/ShapeRules.h"
#include "gptc/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace gptc {
#define GEN_PASS_DEF_GPTFUSEATTENTION
#include "gptc/Passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc::gpt;

namespace {

struct Match {
  Value q, k, v;
  bool causal = false;
  double scale = 1.0, p = 0.0;
  int64_t id = 0;
  SmallVector<Operation *> chain; ///< To erase, consumers first.

  /// Whether the matched ops are all of `v`'s users.
  bool onlyReader(Value v) const {
    return llvm::all_of(v.getUsers(), [&](Operation *u) {
      return llvm::is_contained(chain, u);
    });
  }
  /// The op defining `v` if only the matched ops read `v`.
  template <typename OpT> OpT producer(Value v) const {
    return onlyReader(v) ? v.getDefiningOp<OpT>() : nullptr;
  }
};

/// The value of a scalar gpt.constant.
std::optional<double> constantValue(Value v) {
  if (auto c = v.getDefiningOp<ConstantOp>())
    return c.getValue().convertToDouble();
  return std::nullopt;
}

/// Peels a scale (x * c, c * x, x / c) off `x`; returns the scaled value.
Value peelScale(Value x, Match &m) {
  if (auto mul = m.producer<MulOp>(x)) {
    if (auto c = constantValue(mul.getRhs())) {
      m.scale *= *c;
      m.chain.push_back(mul);
      return mul.getLhs();
    }
    if (auto c = constantValue(mul.getLhs())) {
      m.scale *= *c;
      m.chain.push_back(mul);
      return mul.getRhs();
    }
  }
  if (auto div = m.producer<DivOp>(x))
    if (auto c = constantValue(div.getRhs()); c && *c != 0) {
      m.scale /= *c;
      m.chain.push_back(div);
      return div.getLhs();
    }
  return x;
}

/// Whether `fill` writes -inf (or a large negative value) above the
/// diagonal: the causal mask.
bool isCausalFill(MaskedFillOp fill) {
  return fill.getMask().getDefiningOp<CausalMaskOp>() &&
         fill.getValue().convertToDouble() <= -1e4;
}

/// Whether `v` is zero everywhere: the constant 0, or it broadcast.
bool isZero(Value v) {
  if (auto b = v.getDefiningOp<BroadcastLikeOp>())
    v = b.getInput();
  std::optional<double> c = constantValue(v);
  return c && *c == 0.0;
}

/// Peels the causal mask off `x`: a masked_fill, or the addition of a
/// causal bias. A masked_fill whose mask is not the causal one is not
/// attention as fused here: fails.
FailureOr<Value> peelMask(Value x, Match &m) {
  if (auto fill = m.producer<MaskedFillOp>(x)) {
    if (!isCausalFill(fill))
      return failure();
    m.causal = true;
    m.chain.push_back(fill);
    return fill.getInput();
  }
  if (auto add = m.producer<AddOp>(x)) {
    m.chain.push_back(add);
    for (auto [bias, scores] : {std::pair(add.getRhs(), add.getLhs()),
                                std::pair(add.getLhs(), add.getRhs())}) {
      auto fill = m.producer<MaskedFillOp>(bias);
      if (!fill || !isCausalFill(fill) || !isZero(fill.getInput()))
        continue;
      m.causal = true;
      m.chain.push_back(fill);
      return scores;
    }
    m.chain.pop_back();
  }
  return x;
}

/// Whether `r` reduces the last axis of `x` with keepdim.
template <typename ReduceOp> bool reducesLastAxis(ReduceOp r, Value x) {
  return r && r.getInput() == x && r.getKeepdim() &&
         static_cast<int64_t>(r.getAxis()) ==
             cast<RankedTensorType>(x.getType()).getRank() - 1;
}

/// The softmax input if `w` is a softmax over the last axis, as the op or
/// written out; its ops join the chain.
std::optional<Value> peelSoftmax(Value w, Match &m) {
  auto type = cast<RankedTensorType>(w.getType());
  if (auto softmax = m.producer<SoftmaxOp>(w)) {
    if (static_cast<int64_t>(softmax.getAxis()) != type.getRank() - 1)
      return std::nullopt;
    m.chain.push_back(softmax);
    return softmax.getInput();
  }
  // e / sum(e), where e = exp(x) is read by exactly those two.
  auto div = m.producer<DivOp>(w);
  if (!div)
    return std::nullopt;
  m.chain.push_back(div);
  auto sum = m.producer<SumOp>(div.getRhs());
  if (!sum)
    return std::nullopt;
  m.chain.push_back(sum);
  auto exp = m.producer<ExpOp>(div.getLhs());
  if (!exp || !reducesLastAxis(sum, exp.getResult()))
    return std::nullopt;
  m.chain.push_back(exp);
  Value x = exp.getInput();
  // x = s - max(s), where s is read by exactly those two.
  if (auto sub = m.producer<SubOp>(x)) {
    m.chain.push_back(sub);
    auto max = m.producer<MaxOp>(sub.getRhs());
    if (max && reducesLastAxis(max, sub.getLhs())) {
      m.chain.push_back(max);
      if (m.onlyReader(sub.getLhs()))
        return sub.getLhs();
      m.chain.pop_back();
    }
    m.chain.pop_back();
  }
  return x;
}

/// `x` [B, H, T, D] as it was before repeat(x0, G, axis = 1) (reshape to
/// [B, Hk, 1, T, D], broadcast to [B, Hk, G, T, D], reshape), or `x` itself.
Value beforeRepeat(Value x) {
  auto merge = x.getDefiningOp<ReshapeOp>();
  auto wide = merge ? merge.getInput().getDefiningOp<BroadcastLikeOp>()
                    : BroadcastLikeOp();
  auto split = wide ? wide.getInput().getDefiningOp<ReshapeOp>() : ReshapeOp();
  if (!split)
    return x;
  auto in = cast<RankedTensorType>(split.getInput().getType());
  auto one = cast<RankedTensorType>(split.getType());
  auto many = cast<RankedTensorType>(wide.getType());
  auto out = cast<RankedTensorType>(x.getType());
  if (in.getRank() != 4 || one.getRank() != 5 || many.getRank() != 5 ||
      out.getRank() != 4 || in.isDynamicDim(1) || out.isDynamicDim(1) ||
      one.getDimSize(1) != in.getDimSize(1) || one.getDimSize(2) != 1 ||
      many.getDimSize(1) != in.getDimSize(1) || many.isDynamicDim(2) ||
      out.getDimSize(1) != in.getDimSize(1) * many.getDimSize(2) ||
      in.getDimSize(3) != out.getDimSize(3))
    return x;
  return split.getInput();
}

std::optional<Match> matchAttention(MatmulOp out) {
  Match m;
  m.chain.push_back(out);
  m.v = out.getRhs();
  Value w = out.getLhs();
  if (auto drop = m.producer<DropoutOp>(w)) {
    m.p = drop.getP().convertToDouble();
    m.id = drop.getId();
    m.chain.push_back(drop);
    w = drop.getInput();
  }
  std::optional<Value> x = peelSoftmax(w, m);
  if (!x)
    return std::nullopt;
  Value s = peelScale(*x, m);
  FailureOr<Value> unmasked = peelMask(s, m);
  if (failed(unmasked))
    return std::nullopt;
  s = peelScale(*unmasked, m);
  auto scores = m.producer<MatmulOp>(s);
  if (!scores)
    return std::nullopt;
  m.chain.push_back(scores);
  auto kt = m.producer<TransposeOp>(scores.getRhs());
  if (!kt || !kt.swapsLastTwoDims())
    return std::nullopt;
  m.chain.push_back(kt);
  m.k = kt.getInput();
  m.q = peelScale(scores.getLhs(), m);
  // Grouped-query attention: keys and values repeated for the query heads
  // are read from before the repeat, each head once.
  Value k0 = beforeRepeat(m.k), v0 = beforeRepeat(m.v);
  if (k0 != m.k && v0 != m.v && k0.getType() == v0.getType()) {
    m.k = k0;
    m.v = v0;
  }
  // q, k and v must be one batch of heads with one head dim: what
  // multi-head attention produces, and what the kernels take.
  auto q = cast<RankedTensorType>(m.q.getType());
  auto k = cast<RankedTensorType>(m.k.getType());
  auto v = cast<RankedTensorType>(m.v.getType());
  if (q.getRank() < 3 || k.getRank() != q.getRank() ||
      v.getRank() != q.getRank() || k.getShape() != v.getShape() ||
      ShapedType::isDynamic(q.getShape().back()) ||
      q.getShape().back() != k.getShape().back())
    return std::nullopt;
  // Batch dims that broadcast (grouped-query attention written as q
  // [B, Hkv, G, T, D] against k, v [B, Hkv, 1, T, D]) are not one batch of
  // heads: the pattern stays as written.
  auto dims = [](RankedTensorType t) {
    return gptc::shapes::fromSizes(t.getShape(), ShapedType::kDynamic);
  };
  if (gptc::shapes::attention(dims(q), dims(k), dims(v), m.causal).failed())
    return std::nullopt;
  return m;
}

struct FuseAttentionPass : gptc::impl::GptFuseAttentionBase<FuseAttentionPass> {
  void runOnOperation() override {
    SmallVector<MatmulOp> candidates;
    getOperation().walk([&](MatmulOp mm) { candidates.push_back(mm); });
    for (MatmulOp out : candidates) {
      if (!out->getBlock())
        continue; // erased as part of an earlier match
      std::optional<Match> m = matchAttention(out);
      if (!m)
        continue;
      OpBuilder b(out);
      auto q = cast<RankedTensorType>(m->q.getType());
      auto lseType = q.clone(q.getShape().drop_back());
      auto attn = AttentionOp::create(
          b, out.getLoc(), TypeRange{out.getType(), lseType}, m->q, m->k, m->v,
          b.getBoolAttr(m->causal), b.getF64FloatAttr(m->scale),
          b.getF64FloatAttr(m->p), b.getI64IntegerAttr(m->id));
      out.getResult().replaceAllUsesWith(attn.getResult());
      for (Operation *op : m->chain)
        op->erase();
    }
    // What only the replaced ops read (the causal mask, a zero bias) is
    // dead now; later passes would otherwise compute it.
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) { ops.push_back(op); });
    for (Operation *op : llvm::reverse(ops))
      if (isa<GptDialect>(op->getDialect()) && isOpTriviallyDead(op))
        op->erase();
  }
};

} // namespace
