//===- CachedAttention.h - KV-cache kernels for decoding --------*- C++ -*-===//
//
// The two kernels of the decode step `--gpt-kv-cache` derives, header-only
// C++ instantiated by gptc-kernelgen (AttentionKernel.cpp) like flash
// attention:
//  - write: copies the new tokens' keys or values into their cache slots,
//    in place;
//  - attend: attention of the new tokens' queries over the cache slots up
//    to each one's position.
// Decoding reads one query per head against a few hundred keys: the work
// is tiny next to the weights a step streams, so these favour simplicity
// over tiling. A query's scores are a loop over its keys (a dot product of
// vectors), then one exp pass and a sum of value rows.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_CACHEDATTENTION_H
#define GPTC_BACKENDS_CPU_CACHEDATTENTION_H

#include "Simd.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace gptc::kvcache {

/// Runs task(ctx, i) for i in [0, n): a thread pool's parallel-for.
using ParallelFor = void (*)(int n, void (*task)(void *, int), void *ctx);

/// Shapes of one call: `batch` sequences of `heads` heads; `T` new tokens,
/// `S` cache slots, `D` floats per head. The caches of attend may hold
/// `kvHeads` heads (grouped-query attention: each serves heads / kvHeads
/// consecutive query heads); 0 means `heads`.
struct Shape {
  int64_t batch, heads, T, S, D, kvHeads = 0;
};

inline namespace GPTC_SIMD_ISA {

/// The first slot each sequence writes: positions[b * T] (0 without
/// positions). Returns the index of a sequence whose tokens do not fit in
/// the cache, or -1.
inline int64_t checkSlots(const Shape &s, const int32_t *positions) {
  for (int64_t b = 0; b < s.batch; ++b) {
    int64_t p0 = positions ? positions[b * s.T] : 0;
    if (p0 < 0 || p0 + s.T > s.S)
      return b;
  }
  return -1;
}

/// cache[b, h, p_b + t, :] = entries[b, h, t, :]; cache [batch*heads, S, D],
/// entries [batch*heads, T, D]. Call checkSlots first.
inline void write(const Shape &s, const float *entries,
                  const int32_t *positions, float *cache) {
  for (int64_t bh = 0; bh < s.batch * s.heads; ++bh) {
    int64_t p0 = positions ? positions[bh / s.heads * s.T] : 0;
    std::memcpy(cache + (bh * s.S + p0) * s.D, entries + bh * s.T * s.D,
                sizeof(float) * s.T * s.D);
  }
}

namespace detail {

using namespace gptc::simd;

template <int D> struct Args {
  Shape s;
  float scale;
  const float *q, *k, *v;
  const int32_t *positions;
  float *out;
};

/// Query t of (sequence, head) `bh`: softmax over slots 0..p, then the
/// weighted sum of their values.
template <int D> void attendTask(void *ctx, int task) {
  const Args<D> &a = *static_cast<const Args<D> *>(ctx);
  const Shape &s = a.s;
  const int64_t bh = task / s.T, t = task % s.T;
  const int64_t p = a.positions[bh / s.heads * s.T + t];
  const float *qi = a.q + (bh * s.T + t) * D;
  const int64_t kvHeads = s.kvHeads ? s.kvHeads : s.heads;
  const int64_t kv =
      bh / s.heads * kvHeads + bh % s.heads / (s.heads / kvHeads);
  const float *kb = a.k + kv * s.S * D, *vb = a.v + kv * s.S * D;
  thread_local std::vector<float> w;
  w.resize(static_cast<size_t>(p + 1));
  float m = -INFINITY;
  for (int64_t j = 0; j <= p; ++j) {
    w[j] = dot<D>(qi, kb + j * D) * a.scale;
    m = std::max(m, w[j]);
  }
  float sum = 0;
  for (int64_t j = 0; j <= p; ++j)
    sum += (w[j] = std::exp(w[j] - m));
  float acc[D] = {};
  for (int64_t j = 0; j <= p; ++j) {
    const float *vj = vb + j * D;
    for (int c = 0; c < D; ++c)
      acc[c] += w[j] * vj[c];
  }
  float *o = a.out + (bh * s.T + t) * D;
  for (int c = 0; c < D; ++c)
    o[c] = acc[c] / sum;
}

} // namespace detail

/// The first position outside [0, S) in `positions` [batch, T], or -1.
inline int64_t checkPositions(const Shape &s, const int32_t *positions) {
  for (int64_t i = 0; i < s.batch * s.T; ++i)
    if (positions[i] < 0 || positions[i] >= s.S)
      return i;
  return -1;
}

/// out [batch*heads, T, D]: query t of sequence b attends to cache slots
/// 0..positions[b, t] of k and v [batch*kvHeads, S, D]. Call checkPositions
/// first.
template <int D>
void attend(const Shape &s, float scale, const float *q, const float *k,
            const float *v, const int32_t *positions, float *out,
            ParallelFor parallelFor) {
  detail::Args<D> args{s, scale, q, k, v, positions, out};
  int n = static_cast<int>(s.batch * s.heads * s.T);
  if (parallelFor)
    parallelFor(n, detail::attendTask<D>, &args);
  else
    for (int i = 0; i < n; ++i)
      detail::attendTask<D>(&args, i);
}

} // namespace GPTC_SIMD_ISA
} // namespace gptc::kvcache

#endif // GPTC_BACKENDS_CPU_CACHEDATTENTION_H
