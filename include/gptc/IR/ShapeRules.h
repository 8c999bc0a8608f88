//===- ShapeRules.h - Each op's shape rule, once, without MLIR ---*- C++
//-*-===//
//
// The shape rule of every gpt op as a function over symbolic shapes. The
// front end calls it with the model's dims (B, T, 768) and reports a
// failure at the call's caret with its call chain; the op's type inference
// and verifier (GptOps.cpp) call it with the IR's static sizes and unknown
// dims (`?`, compatible with anything). What a rule cannot decide for
// unknown dims the run time checks.
//
// A rule checks shapes and attributes of the op itself. What belongs to the
// DSL (negative axes and slice bounds, reshape's -1, element types of
// arguments, static arguments) stays in the front end.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_SHAPERULES_H
#define GPTC_IR_SHAPERULES_H

#include "gptc/IR/Dim.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gptc::shapes {

using Shape = std::vector<Dim>;

/// The result shape, or why there is none: `operand` is the operand the
/// error is about (-1: the op as a whole), for the front end's caret.
struct Result {
  Shape shape;
  std::string error;
  int operand = -1;

  bool failed() const { return !error.empty(); }
  static Result ok(Shape s) { return {std::move(s), "", -1}; }
  static Result fail(std::string why, int operand = -1) {
    return {{}, std::move(why), operand};
  }
};

/// The IR's sizes as dims: `unknown` (MLIR's kDynamic) is Dim::unknown().
template <typename Range> Shape fromSizes(const Range &sizes, int64_t unknown) {
  Shape dims;
  for (int64_t d : sizes)
    dims.push_back(d == unknown ? Dim::unknown() : Dim(d));
  return dims;
}

/// Elementwise binary ops: NumPy broadcasting.
Result broadcast(const Shape &a, const Shape &b);
/// cond ? a : b: the three shapes broadcast together.
Result where(const Shape &cond, const Shape &a, const Shape &b);
/// A tensor of one value: positive dims.
Result full(const Shape &shape);
/// [..., n, k] @ [..., k, m] with broadcast batch dims.
Result matmul(const Shape &a, const Shape &b);
Result transpose(const Shape &in, const std::vector<int64_t> &perm);
/// Same element count (unknown dims: decided at run time).
Result reshape(const Shape &in, const Shape &target);
/// Inputs equal but along `axis`, where their sizes add up (symbolic sizes
/// must be like monomials: T + T is 2*T). An error's `operand` is the input.
Result concat(const std::vector<Shape> &inputs, int64_t axis);
/// x's dims with `axis` sized as the index's; the index has x's rank and
/// its other dims 1 or equal to x's.
Result gather(const Shape &x, const Shape &index, int64_t axis);
/// The gradient of gather: like's shape, for a gradient shaped as the
/// gather's result.
Result gatherGrad(const Shape &grad, const Shape &index, const Shape &like,
                  int64_t axis);
/// Piece `index` of `parts` equal pieces along `axis`.
Result split(const Shape &in, int64_t axis, int64_t parts, int64_t index);
/// Per dim [start, end); squeezed dims (an index) are dropped. An error's
/// `operand` is the dim.
Result slice(const Shape &in, const Shape &starts, const Shape &ends,
             const std::vector<int64_t> &squeeze);
/// sum, mean, max, var.
Result reduce(const Shape &in, int64_t axis, bool keepdim);
/// softmax, log_softmax, argmax_mask: the input's shape, a valid axis.
Result alongAxis(const Shape &in, int64_t axis);
Result layerNorm(const Shape &in, const Shape &scale, const Shape &shift);
Result causalMask(const Dim &n);
Result arange(const Dim &n);
/// The mask broadcasts to the input.
Result maskedFill(const Shape &in, const Shape &mask);
Result embedding(const Shape &ids, const Shape &table);
/// Logits [..., V] and targets with the leading dims: a scalar.
Result crossEntropy(const Shape &logits, const Shape &targets);
/// The logits' shape.
Result crossEntropyGrad(const Shape &logits, const Shape &targets);
/// The gradient of a broadcast: `in` summed to `like`.
Result unbroadcast(const Shape &in, const Shape &like);
Result broadcastLike(const Shape &in, const Shape &like);
Result unsqueeze(const Shape &in, int64_t axis);
/// The table's shape, for ids [...], a gradient [..., dim] and, if given, a
/// base shaped like the table.
Result embeddingGrad(const Shape &ids, const Shape &table, const Shape &grad,
                     const Shape *base = nullptr);
/// `in`, piece `index` of `parts` of `like` along `axis`: like's shape.
Result unsplit(const Shape &in, const Shape &like, int64_t axis, int64_t parts,
               int64_t index);
/// Scattering a slice back: like's shape, one bound pair per dim.
Result unslice(const Shape &like, size_t starts, size_t ends);
/// q [..., T, D], k [..., S, D], v [..., S, Dv]: the output [..., T, Dv].
Result attention(const Shape &q, const Shape &k, const Shape &v, bool causal);
/// dq (q's shape), checking the forward's output, its lse and the output
/// gradient against q, k and v.
Result attentionGrad(const Shape &grad, const Shape &q, const Shape &k,
                     const Shape &v, const Shape &out, const Shape &lse,
                     bool causal);
/// x [B, H, T, D] against a cache [B, H, S, D] and positions [B, T] (empty
/// when absent): the cache's shape.
Result cacheWrite(const Shape &x, const Shape &cache, const Shape *positions);
/// q [B, H, T, D] against both caches: q's shape.
Result cachedAttention(const Shape &q, const Shape &kCache, const Shape &vCache,
                       const Shape *positions);

} // namespace gptc::shapes

#endif // GPTC_IR_SHAPERULES_H
