//===- GptBuilder.cpp - Building gpt arithmetic with inferred types -------===//

#include "gptc/IR/GptBuilder.h"

using namespace mlir;

namespace gptc {

static constexpr int64_t kDyn = ShapedType::kDynamic;

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

static RankedTensorType f32(ArrayRef<int64_t> shape, OpBuilder &b) {
  return RankedTensorType::get(shape, b.getF32Type());
}

/// NumPy broadcasting of two static-or-dynamic shapes (already verified).
static SmallVector<int64_t> broadcast(ArrayRef<int64_t> a,
                                      ArrayRef<int64_t> c) {
  size_t rank = std::max(a.size(), c.size());
  SmallVector<int64_t> out(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t p = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t q = i < c.size() ? c[c.size() - 1 - i] : 1;
    out[rank - 1 - i] = p == 1 ? q : (q == 1 ? p : (p == kDyn ? q : p));
  }
  return out;
}

Value GptBuilder::cst(double v) {
  return gpt::ConstantOp::create(b, loc, f32({}, b), b.getF64FloatAttr(v));
}

#define BINARY(name, Op)                                                       \
  Value GptBuilder::name(Value x, Value y) {                                   \
    return gpt::Op::create(b, loc, f32(broadcast(shapeOf(x), shapeOf(y)), b),  \
                           x, y);                                              \
  }
BINARY(add, AddOp)
BINARY(sub, SubOp)
BINARY(mul, MulOp)
BINARY(div, DivOp)
#undef BINARY

Value GptBuilder::neg(Value x) { return gpt::NegOp::create(b, loc, x); }
Value GptBuilder::sqrt(Value x) { return gpt::SqrtOp::create(b, loc, x); }
Value GptBuilder::exp(Value x) { return gpt::ExpOp::create(b, loc, x); }
Value GptBuilder::relu(Value x) { return gpt::ReluOp::create(b, loc, x); }

Value GptBuilder::unbroadcast(Value g, Value like) {
  if (shapeOf(g) == shapeOf(like))
    return g;
  return gpt::UnbroadcastOp::create(b, loc, f32(shapeOf(like), b), g, like);
}

Value GptBuilder::broadcastLike(Value g, Value like) {
  if (shapeOf(g) == shapeOf(like))
    return g;
  return gpt::BroadcastLikeOp::create(b, loc, f32(shapeOf(like), b), g, like);
}

Value GptBuilder::sumKeep(Value x, int64_t axis) {
  SmallVector<int64_t> s(shapeOf(x));
  s[axis] = 1;
  return gpt::SumOp::create(b, loc, f32(s, b), x, axis, true);
}

Value GptBuilder::meanKeep(Value x, int64_t axis) {
  SmallVector<int64_t> s(shapeOf(x));
  s[axis] = 1;
  return gpt::MeanOp::create(b, loc, f32(s, b), x, axis, true);
}

Value GptBuilder::sumAll(Value x) {
  auto t = cast<RankedTensorType>(x.getType());
  assert(t.hasStaticShape() && "sumAll needs a static shape");
  int64_t n = t.getNumElements();
  Value flat = gpt::ReshapeOp::create(b, loc, f32({n}, b), x, ValueRange(),
                                      b.getDenseI64ArrayAttr({n}));
  return gpt::SumOp::create(b, loc, f32({}, b), flat, 0, false);
}

Value GptBuilder::keepAxis(Value g, int64_t axis, bool keepdim) {
  if (keepdim)
    return g;
  SmallVector<int64_t> s(shapeOf(g));
  s.insert(s.begin() + axis, 1);
  return gpt::UnsqueezeOp::create(b, loc, f32(s, b), g, axis);
}

Value GptBuilder::countAlong(Value x, int64_t axis) {
  int64_t n = shapeOf(x)[axis];
  if (n != kDyn)
    return cst(static_cast<double>(n));
  return sumKeep(broadcastLike(cst(1.0), x), axis);
}

Value GptBuilder::transposeLast2(Value x) {
  SmallVector<int64_t> perm, s(shapeOf(x));
  for (size_t i = 0; i < s.size(); ++i)
    perm.push_back(i);
  std::swap(perm[s.size() - 1], perm[s.size() - 2]);
  std::swap(s[s.size() - 1], s[s.size() - 2]);
  return gpt::TransposeOp::create(b, loc, f32(s, b), x,
                                  b.getDenseI64ArrayAttr(perm));
}

Value GptBuilder::matmul(Value x, Value y) {
  ArrayRef<int64_t> a = shapeOf(x), c = shapeOf(y);
  SmallVector<int64_t> out = broadcast(a.drop_back(2), c.drop_back(2));
  out.push_back(a[a.size() - 2]);
  out.push_back(c.back());
  return gpt::MatmulOp::create(b, loc, f32(out, b), x, y);
}

} // namespace gptc
