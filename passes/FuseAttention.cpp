//===- FuseAttention.cpp - Recognizing attention --------------------------===//
//
// Replaces attention written from primitives, as the book writes it, by one
// gpt.attention op, whose gradient rule recomputes the weights instead of
// keeping the B x H x T x T matrix. Runs before autodiff.
//
// Algorithm, from each matmul `w @ v` backwards:
//  1. Optionally a dropout of the weights (its p and id carry over).
//  2. A softmax over the last axis.
//  3. Scores made of, in any order: a scale (multiplication or division by
//     a constant, before or after the mask, or applied to q before the
//     product) and a causal mask (masked_fill of gpt.causal_mask with -inf
//     or a value below -1e4).
//  4. q @ transpose(k), the transpose swapping the last two dims.
//  Every intermediate must have this chain as its only user: weights that
//  are returned or reused elsewhere block the fusion, as does a mask that
//  is not the causal one (it stays a masked_fill).
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/GptOps.h"
#include "gptc/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"

namespace gptc {
#define GEN_PASS_DEF_GPTFUSEATTENTION
#include "gptc/Passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc::gpt;

namespace {

/// The op defining `v` if `v` has no other user.
template <typename OpT> OpT onlyUse(Value v) {
  if (!v.hasOneUse())
    return nullptr;
  return v.getDefiningOp<OpT>();
}

/// The value of a scalar gpt.constant.
std::optional<double> constantValue(Value v) {
  if (auto c = v.getDefiningOp<ConstantOp>())
    return c.getValue().convertToDouble();
  return std::nullopt;
}

struct Match {
  Value q, k, v;
  bool causal = false;
  double scale = 1.0, p = 0.0;
  int64_t id = 0;
  SmallVector<Operation *> chain; ///< To erase, consumers first.
};

/// Peels a scale (x * c, c * x, x / c) off `x`; returns the scaled value.
Value peelScale(Value x, Match &m) {
  if (auto mul = onlyUse<MulOp>(x)) {
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
  if (auto div = onlyUse<DivOp>(x))
    if (auto c = constantValue(div.getRhs()); c && *c != 0) {
      m.scale /= *c;
      m.chain.push_back(div);
      return div.getLhs();
    }
  return x;
}

/// Peels the causal mask off `x`. A masked_fill whose mask is not the
/// causal one is not attention as fused here: fails.
FailureOr<Value> peelMask(Value x, Match &m) {
  auto fill = onlyUse<MaskedFillOp>(x);
  if (!fill)
    return x;
  if (!fill.getMask().getDefiningOp<CausalMaskOp>() ||
      fill.getValue().convertToDouble() > -1e4)
    return failure();
  m.causal = true;
  m.chain.push_back(fill);
  return fill.getInput();
}

std::optional<Match> matchAttention(MatmulOp out) {
  Match m;
  m.v = out.getRhs();
  Value w = out.getLhs();
  if (auto drop = onlyUse<DropoutOp>(w)) {
    m.p = drop.getP().convertToDouble();
    m.id = drop.getId();
    m.chain.push_back(drop);
    w = drop.getInput();
  }
  auto softmax = onlyUse<SoftmaxOp>(w);
  auto type = cast<RankedTensorType>(w.getType());
  if (!softmax || softmax.getAxis() != type.getRank() - 1)
    return std::nullopt;
  m.chain.push_back(softmax);
  Value s = peelScale(softmax.getInput(), m);
  FailureOr<Value> unmasked = peelMask(s, m);
  if (failed(unmasked))
    return std::nullopt;
  s = peelScale(*unmasked, m);
  auto scores = onlyUse<MatmulOp>(s);
  if (!scores)
    return std::nullopt;
  m.chain.push_back(scores);
  auto kt = onlyUse<TransposeOp>(scores.getRhs());
  if (!kt || !kt.swapsLastTwoDims())
    return std::nullopt;
  m.chain.push_back(kt);
  m.k = kt.getInput();
  m.q = peelScale(scores.getLhs(), m);
  // q, k and v must be one batch of equal shapes' heads.
  auto q = cast<RankedTensorType>(m.q.getType());
  auto k = cast<RankedTensorType>(m.k.getType());
  auto v = cast<RankedTensorType>(m.v.getType());
  if (q.getRank() < 3 || k.getRank() != q.getRank() ||
      v.getRank() != q.getRank() || q.getShape().back() != k.getShape().back())
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
      auto attn = AttentionOp::create(
          b, out.getLoc(), out.getType(), m->q, m->k, m->v,
          b.getBoolAttr(m->causal), b.getF64FloatAttr(m->scale),
          b.getF64FloatAttr(m->p), b.getI64IntegerAttr(m->id));
      out.getResult().replaceAllUsesWith(attn.getResult());
      out->erase();
      for (Operation *op : m->chain)
        op->erase();
    }
  }
};

} // namespace
