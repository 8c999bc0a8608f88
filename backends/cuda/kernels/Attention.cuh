//===- Attention.cuh - Attention and KV-cache kernels for CUDA --*- CUDA
//-*-===//
//
// The CUDA counterparts of backends/cpu/kernels/FlashAttention.h and
// CachedAttention.h, with the same contracts (layouts [batch, rows, D]
// row-major fp32, lse per query row, dropout masks from runtime/Philox.h
// with flat index (b * T + i) * S + j, so every backend drops the same
// weights). gptc-kernelgen instantiates them per head dim in a generated
// .cu file (CudaKernel.cpp) and compiles it with nvcc.
//
// This first version favours clarity: one thread per query row (or key row
// in the key-side backward) with tiles of keys staged in shared memory.
//  - forward: online softmax over key tiles; lse from the undropped sum;
//    output from the dropped weights / (1 - p).
//  - backward, two kernels: dq per query row; dk and dv per key row (each
//    row has one writer, so no atomics). D = rowsum(dout * out) is
//    recomputed per staged query tile.
//  - cache write and cached attention for the decode step.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_ATTENTION_CUH
#define GPTC_BACKENDS_CUDA_ATTENTION_CUH

#include "gptc/Runtime/Philox.h"

#include <cstdint>

namespace gptc::cuda {

/// Rows per block and rows staged per shared-memory tile.
constexpr int kRows = 64;

struct Problem {
  int64_t batch, T, S; // batch = B * heads of q
  bool causal;
  float scale;
  bool dropout; // p > 0 in a training step
  double p;
  uint64_t seed, step;
  uint32_t id;
  // Query heads per key/value head (grouped-query attention): q's batch
  // element b reads k and v at b / groups. 0 or 1: one each.
  int64_t groups;
  // The flat index of this call's first weight in the whole batch's (a
  // micro-batch's or rank's rows start past 0; docs/RNG.md).
  uint64_t offset;
};

__device__ inline int64_t minRows(int64_t a, int64_t b) {
  return a < b ? a : b;
}

/// The weight multiplier dropout applies to element (b, i, j): 0 or
/// 1 / (1 - p).
__device__ inline float dropFactor(const Problem &pb, int64_t b, int64_t i,
                                   int64_t j) {
  if (!pb.dropout)
    return 1.0f;
  uint64_t index = pb.offset + static_cast<uint64_t>((b * pb.T + i) * pb.S + j);
  return dropoutKeeps(pb.p, pb.seed, pb.step, pb.id, index)
             ? static_cast<float>(1.0 / (1.0 - pb.p))
             : 0.0f;
}

/// The keys a block of queries sees: under causal, those up to its last
/// query.
__device__ inline int64_t keysSeen(const Problem &pb) {
  int64_t last = minRows(pb.T, (blockIdx.x + 1) * int64_t(kRows)) - 1;
  return pb.causal ? minRows(pb.S, last + 1) : pb.S;
}

__device__ inline int64_t groupsOf(const Problem &pb) {
  return pb.groups > 1 ? pb.groups : 1;
}

/// Copies keys and values k0.. (at most kRows, up to `end`) that query
/// batch `b` reads into shared memory, between barriers; returns how many.
template <int D>
__device__ inline int stageKeys(const Problem &pb, int64_t b, int64_t k0,
                                int64_t end, const float *k, const float *v,
                                float (*ks)[D], float (*vs)[D]) {
  int n = static_cast<int>(minRows(kRows, end - k0));
  const int64_t kv = b / groupsOf(pb);
  __syncthreads();
  for (int r = threadIdx.x; r < n; r += blockDim.x)
    for (int c = 0; c < D; ++c) {
      ks[r][c] = k[(kv * pb.S + k0 + r) * D + c];
      vs[r][c] = v[(kv * pb.S + k0 + r) * D + c];
    }
  __syncthreads();
  return n;
}

/// Grid (ceil(T / kRows), batch), kRows threads: thread i of block (x, b)
/// computes query x * kRows + i.
template <int D>
__global__ void attentionForward(Problem pb, const float *q, const float *k,
                                 const float *v, float *out, float *lse) {
  __shared__ float ks[kRows][D], vs[kRows][D];
  const int64_t b = blockIdx.y, i = blockIdx.x * kRows + threadIdx.x;
  const bool active = i < pb.T;
  float qi[D], acc[D];
  for (int c = 0; c < D; ++c) {
    qi[c] = active ? q[(b * pb.T + i) * D + c] * pb.scale : 0.0f;
    acc[c] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  const int64_t end = keysSeen(pb);
  for (int64_t k0 = 0; k0 < end; k0 += kRows) {
    int n = stageKeys<D>(pb, b, k0, end, k, v, ks, vs);
    if (!active)
      continue;
    for (int r = 0; r < n; ++r) {
      int64_t j = k0 + r;
      if (pb.causal && j > i)
        break;
      float s = 0.0f;
      for (int c = 0; c < D; ++c)
        s += qi[c] * ks[r][c];
      float mNew = fmaxf(m, s), alpha = __expf(m - mNew), e = __expf(s - mNew);
      l = l * alpha + e;
      float w = e * dropFactor(pb, b, i, j);
      for (int c = 0; c < D; ++c)
        acc[c] = acc[c] * alpha + w * vs[r][c];
      m = mNew;
    }
  }
  if (!active)
    return;
  for (int c = 0; c < D; ++c)
    out[(b * pb.T + i) * D + c] = acc[c] / l;
  lse[b * pb.T + i] = m + __logf(l);
}

/// dq: grid and threads as the forward, thread = query row.
template <int D>
__global__ void attentionBackwardQ(Problem pb, const float *q, const float *k,
                                   const float *v, const float *out,
                                   const float *lse, const float *dout,
                                   float *dq) {
  __shared__ float ks[kRows][D], vs[kRows][D];
  const int64_t b = blockIdx.y, i = blockIdx.x * kRows + threadIdx.x;
  const bool active = i < pb.T;
  float qi[D], gi[D], acc[D], Di = 0.0f;
  for (int c = 0; c < D; ++c) {
    int64_t at = (b * pb.T + i) * D + c;
    qi[c] = active ? q[at] * pb.scale : 0.0f;
    gi[c] = active ? dout[at] : 0.0f;
    Di += active ? gi[c] * out[at] : 0.0f;
    acc[c] = 0.0f;
  }
  const float li = active ? lse[b * pb.T + i] : 0.0f;
  const int64_t end = keysSeen(pb);
  for (int64_t k0 = 0; k0 < end; k0 += kRows) {
    int n = stageKeys<D>(pb, b, k0, end, k, v, ks, vs);
    if (!active)
      continue;
    for (int r = 0; r < n; ++r) {
      int64_t j = k0 + r;
      if (pb.causal && j > i)
        break;
      float s = 0.0f, dp = 0.0f;
      for (int c = 0; c < D; ++c) {
        s += qi[c] * ks[r][c];
        dp += gi[c] * vs[r][c];
      }
      float p = __expf(s - li);
      float ds = p * (dp * dropFactor(pb, b, i, j) - Di);
      for (int c = 0; c < D; ++c)
        acc[c] += ds * ks[r][c];
    }
  }
  if (!active)
    return;
  for (int c = 0; c < D; ++c)
    dq[(b * pb.T + i) * D + c] = acc[c] * pb.scale;
}

/// dk, dv: grid (ceil(S / kRows), batch / groups), thread = key row;
/// queries staged, those of every query head of the group in turn.
template <int D>
__global__ void attentionBackwardKV(Problem pb, const float *q, const float *k,
                                    const float *v, const float *out,
                                    const float *lse, const float *dout,
                                    float *dk, float *dv) {
  __shared__ float qs[kRows][D], gs[kRows][D], ls[kRows], ds_[kRows];
  const int64_t kv = blockIdx.y, j = blockIdx.x * kRows + threadIdx.x;
  const bool active = j < pb.S;
  float kj[D], vj[D], dkAcc[D], dvAcc[D];
  for (int c = 0; c < D; ++c) {
    kj[c] = active ? k[(kv * pb.S + j) * D + c] : 0.0f;
    vj[c] = active ? v[(kv * pb.S + j) * D + c] : 0.0f;
    dkAcc[c] = dvAcc[c] = 0.0f;
  }
  // Under causal, queries before the block's first key see none of it.
  int64_t first = pb.causal ? blockIdx.x * kRows : 0;
  for (int64_t b = kv * groupsOf(pb); b < (kv + 1) * groupsOf(pb); ++b) {
    for (int64_t q0 = first / kRows * kRows; q0 < pb.T; q0 += kRows) {
      int n = static_cast<int>(minRows(kRows, pb.T - q0));
      __syncthreads();
      for (int r = threadIdx.x; r < n; r += blockDim.x) {
        float Dr = 0.0f;
        for (int c = 0; c < D; ++c) {
          int64_t at = (b * pb.T + q0 + r) * D + c;
          qs[r][c] = q[at];
          gs[r][c] = dout[at];
          Dr += dout[at] * out[at];
        }
        ls[r] = lse[b * pb.T + q0 + r];
        ds_[r] = Dr;
      }
      __syncthreads();
      if (!active)
        continue;
      for (int r = 0; r < n; ++r) {
        int64_t i = q0 + r;
        if (pb.causal && j > i)
          continue;
        float s = 0.0f, dp = 0.0f;
        for (int c = 0; c < D; ++c) {
          s += qs[r][c] * kj[c];
          dp += gs[r][c] * vj[c];
        }
        float p = __expf(s * pb.scale - ls[r]), f = dropFactor(pb, b, i, j);
        float ds = p * (dp * f - ds_[r]) * pb.scale;
        for (int c = 0; c < D; ++c) {
          dvAcc[c] += p * f * gs[r][c];
          dkAcc[c] += ds * qs[r][c];
        }
      }
    }
  }
  if (!active)
    return;
  for (int c = 0; c < D; ++c) {
    dk[(kv * pb.S + j) * D + c] = dkAcc[c];
    dv[(kv * pb.S + j) * D + c] = dvAcc[c];
  }
}

/// cache[bh, p_b + t, :] = entries[bh, t, :]; one thread per float.
/// `positions` [B, T] may be null (slot 0); slots past the cache are
/// skipped (the CPU kernel reports them; here the write is dropped).
template <int D>
__global__ void cacheWrite(int64_t batchHeads, int64_t heads, int64_t T,
                           int64_t S, const float *entries,
                           const int32_t *positions, float *cache) {
  int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e >= batchHeads * T * D)
    return;
  int64_t bh = e / (T * D), t = e / D % T, c = e % D;
  int64_t p0 = positions ? positions[bh / heads * T] : 0;
  if (p0 >= 0 && p0 + t < S)
    cache[(bh * S + p0 + t) * D + c] = entries[e];
}

/// Query t of (sequence, head) bh attends to cache slots 0..positions[b, t]
/// of the caches' head bh's group (kvHeads heads per sequence, each serving
/// heads / kvHeads query heads); one thread per query, scores and weighted
/// sum in one pass (online softmax).
template <int D>
__global__ void
cachedAttention(int64_t batchHeads, int64_t heads, int64_t kvHeads, int64_t T,
                int64_t S, float scale, const float *q, const float *k,
                const float *v, const int32_t *positions, float *out) {
  int64_t task = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (task >= batchHeads * T)
    return;
  int64_t bh = task / T, t = task % T;
  int64_t p = positions[bh / heads * T + t];
  int64_t kv = bh / heads * kvHeads + bh % heads / (heads / kvHeads);
  p = p < 0 ? 0 : (p >= S ? S - 1 : p);
  float qi[D], acc[D];
  for (int c = 0; c < D; ++c) {
    qi[c] = q[task * D + c] * scale;
    acc[c] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t j = 0; j <= p; ++j) {
    const float *kj = k + (kv * S + j) * D, *vj = v + (kv * S + j) * D;
    float s = 0.0f;
    for (int c = 0; c < D; ++c)
      s += qi[c] * kj[c];
    float mNew = fmaxf(m, s), alpha = __expf(m - mNew), e = __expf(s - mNew);
    l = l * alpha + e;
    for (int c = 0; c < D; ++c)
      acc[c] = acc[c] * alpha + e * vj[c];
    m = mNew;
  }
  for (int c = 0; c < D; ++c)
    out[task * D + c] = acc[c] / l;
}

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_ATTENTION_CUH
