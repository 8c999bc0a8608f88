//===- FlashAttention.h - Flash attention on the CPU ------------*- C++ -*-===//
//
// Fused attention for fp32 with an online softmax (Dao et al., FlashAttention
// 1 and 2): the forward keeps a running maximum and sum per query across key
// tiles, the backward recomputes the weights from the forward's log-sum-exp,
// so neither materializes a T x S matrix. Header-only and free of Halide: the
// kernel generator instantiates it per head dim in a translation unit
// compiled for the target ISA (AttentionKernel.cpp), and the unit tests
// compile it for the host.
//
// Vectors and the register-blocked micro-kernel, C[r, :] += A[r, k] *
// B[k, :], come from Simd.h, shared with the matmul (Gemm.h). Each product is
// laid out so that its B operand is a tile already in the right shape, which is
// why the forward works on transposed tiles (keys x queries) and the backward
// on upright ones.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_FLASHATTENTION_H
#define GPTC_BACKENDS_CPU_FLASHATTENTION_H

#include "Simd.h"
#include "gptc/Runtime/Philox.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <utility>
#include <vector>

namespace gptc::flash {

/// Runs task(ctx, i) for i in [0, n), possibly in parallel; the kernels call
/// it once per parallel loop. (The generated kernel adapts Halide's
/// halide_do_par_for to it; tests pass a serial or std::thread version.)
using ParallelFor = void (*)(int n, void (*task)(void *ctx, int i), void *ctx);

/// One attention call: shapes, masking, scale and dropout.
struct Problem {
  int64_t batch; // flattened leading dims (B * heads) of q
  // Query heads per key/value head (grouped-query attention): q's batch
  // element b reads k and v at b / groups. 0 or 1: one each.
  int64_t groups;
  int64_t T, S; // queries, keys (causal requires T == S)
  bool causal;  // key j > query i is masked
  float scale;  // scores = (q . k) * scale
  // Dropout of the attention weights, active when p > 0 && dropout:
  bool dropout;
  double p; // double, as the interpreter compares: the same keep threshold
  uint64_t seed;
  uint64_t step;
  uint32_t id;
  // The flat index of this call's first element in the whole batch's
  // weights (a micro-batch's or rank's rows start past 0; docs/RNG.md).
  uint64_t offset;
  ParallelFor parallelFor;
};

inline namespace GPTC_SIMD_ISA {

namespace detail {

using namespace gptc::simd;

/// Tile sizes. Forward: kFwdQ queries (vector lanes) per task against kFwdK
/// keys per step. Backward: kBwdQ queries per step against kBwdK keys (vector
/// lanes) held while the queries stream past. On a 2-core AVX-512 EPYC
/// (Zen 4; batch 12, D 64, causal T 256 to 2048), 32 or 128 in place of any
/// 64 and micro-kernels of 6 x 4 or 8 x 2 were no faster; 64 x 64 tiles keep
/// a step's operands (16 KiB each at D 64) in L1 and L2.
constexpr int kFwdQ = 64, kFwdK = 64;
constexpr int kBwdQ = 64, kBwdK = 64;
static_assert(kFwdQ % kW == 0 && kBwdK % kW == 0, "tiles hold whole vectors");

/// dst (D x lanes) = scale src^T for `rows` rows of D floats, zero-padded
/// from `rows` to `lanes` columns.
template <int D>
inline void packTransposed(const float *src, int rows, float scale, float *dst,
                           int ldDst, int lanes) {
  for (int d = 0; d < D; ++d)
    std::fill(dst + d * ldDst + rows, dst + d * ldDst + lanes, 0.0f);
  transpose(src, D, rows, D, scale, dst, ldDst);
}

//===----------------------------------------------------------------------===//
// Dropout
//===----------------------------------------------------------------------===//

typedef uint64_t VQ __attribute__((vector_size(kW * sizeof(float))));

/// Lane-wise (a mod 2^32) * m, as 64-bit products.
inline VQ mulLow32(VQ a, uint32_t m) {
#if defined(__AVX512F__)
  // The maskz form: GCC 12 warns about the undefined pass-through of the
  // plain one.
  return (VQ)_mm512_maskz_mul_epu32(0xff, (__m512i)a,
                                    (__m512i)(VQ{} + uint64_t(m)));
#elif defined(__AVX2__)
  return (VQ)_mm256_mul_epu32((__m256i)a, (__m256i)(VQ{} + uint64_t(m)));
#elif defined(__SSE2__) && !defined(__AVX__)
  return (VQ)_mm_mul_epu32((__m128i)a, (__m128i)(VQ{} + uint64_t(m)));
#else
  return (a & 0xffffffffull) * uint64_t(m);
#endif
}

/// gptc::dropoutKeeps' coordinates and its threshold on the 24-bit draw.
struct Dropout {
  bool active;
  uint64_t seed, step, offset;
  uint32_t id;
  /// Keep iff (word >> 8) >= threshold, i.e. (word >> 8) * 2^-24 >= p.
  int32_t threshold;
  /// 1 / (1 - p): the weight of a kept element.
  float keepScale;

  explicit Dropout(const Problem &pb)
      : active(pb.dropout && pb.p > 0), seed(pb.seed), step(pb.step),
        offset(pb.offset), id(pb.id) {
    double t = std::ceil(pb.p * 16777216.0);
    threshold = static_cast<int32_t>(std::min(t, 16777217.0));
    keepScale = static_cast<float>(1.0 / (1.0 - pb.p));
  }

  /// Philox words for flat indices 4 * g0 ... 4 * g0 + 2 kW - 1 into
  /// words[0, 2 kW): kW / 2 counters at once, one per 64-bit lane, where a
  /// 32 x 32 -> 64 product is one instruction. A lane's high half may hold
  /// garbage; only its low 32 bits are ever multiplied or kept.
  void philoxLanes(uint64_t g0, uint32_t *words) const {
    constexpr int n = kW / 2;
    VQ g{};
    for (int l = 0; l < n; ++l)
      g[l] = g0 + l;
    VQ c0 = g, c1 = g >> 32, c2 = VQ{} + uint64_t(id),
       c3 = VQ{} + uint64_t(static_cast<uint32_t>(step));
    uint32_t k0 = static_cast<uint32_t>(seed),
             k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      if (round) {
        k0 += 0x9E3779B9;
        k1 += 0xBB67AE85;
      }
      VQ p0 = mulLow32(c0, 0xD2511F53), p1 = mulLow32(c2, 0xCD9E8D57);
      c0 = (p1 >> 32) ^ c1 ^ uint64_t(k0);
      c1 = p1;
      c2 = (p0 >> 32) ^ c3 ^ uint64_t(k1);
      c3 = p0;
    }
    // Little endian: word pairs (c0, c1) and (c2, c3) as 64-bit values.
    const VQ lo = VQ{} + 0xffffffffull;
    VQ a = (c0 & lo) | (c1 << 32), b = (c2 & lo) | (c3 << 32);
    for (int l = 0; l < n; ++l) {
      uint64_t pair[2] = {a[l], b[l]};
      std::memcpy(words + 4 * l, pair, sizeof pair);
    }
  }

  /// The words of flat indices flat0 ... flat0 + n - 1, returned as a pointer
  /// into `buf`, which holds at least n + 35 words.
  const uint32_t *words(uint64_t flat0, int n, uint32_t *buf) const {
    flat0 += offset;
    uint64_t g0 = flat0 >> 2;
    int off = static_cast<int>(flat0 & 3);
    for (int w = 0; w < off + n; w += 2 * kW)
      philoxLanes(g0 + w / 4, buf + w);
    return buf + off;
  }

  /// The weights (keepScale or 0) of the kW elements whose words start at
  /// `words`.
  V weights(const uint32_t *words) const {
    VU w = *reinterpret_cast<const VUUnaligned *>(words);
    VI keep = bitCast<VI>(w >> 8) >= threshold;
    return bitCast<V>(keep & bitCast<int32_t>(keepScale));
  }
};

//===----------------------------------------------------------------------===//
// Forward
//===----------------------------------------------------------------------===//

/// A call's problem and buffers, shared by its tasks.
struct Args {
  const Problem *pb;
  const float *q, *k, *v, *out, *lse, *dout;
  float *o, *l, *dq, *dk, *dv;
};

/// One task of the forward: kFwdQ queries of one batch element against all
/// the keys they see. Tiles are transposed, keys x queries, so the online
/// softmax's per-query statistics are vector lanes:
///  1. Qt = q^T (D x queries) once.
///  2. Per key tile: St = K Qt, scaled into log2 units and masked; the new
///     maximum per lane; Pt = 2^(St - max); l = l alpha + colsum(Pt).
///  3. Ot = Ot alpha + V^T Pt (dropout applied to Pt after l took its sum).
///  4. out = Ot^T / l; lse = (max + log2 l) ln 2.
template <int D> void forwardTask(const Args &x, int task) {
  const Problem &pb = *x.pb;
  const int64_t T = pb.T, S = pb.S;
  const int64_t blocks = (T + kFwdQ - 1) / kFwdQ;
  // The last query blocks see the most keys under causal; start them first.
  const int64_t b = task % pb.batch;
  const int64_t q0 = (blocks - 1 - task / pb.batch) * kFwdQ;
  const int mq = static_cast<int>(std::min<int64_t>(kFwdQ, T - q0));
  const int nvq = (mq + kW - 1) / kW, lanes = nvq * kW;
  Dropout drop(pb);

  constexpr int tile = kFwdK * kFwdQ;
  float *qt = threadScratch(2 * D * kFwdQ + tile + 3 * kFwdQ +
                            (drop.active ? 2 * tile + kFwdK + 36 : 0));
  float *ot = qt + D * kFwdQ, *st = ot + D * kFwdQ;
  float *mx = st + tile, *lsum = mx + kFwdQ, *alpha = lsum + kFwdQ;
  // Dropout: words per query (queries x keys), transposed to keys x queries.
  uint32_t *wq = reinterpret_cast<uint32_t *>(alpha + kFwdQ), *wt = wq + tile,
           *wordBuf = wt + tile;
  if (drop.active)
    std::fill(wt, wt + tile, 0u);

  // Scores come out of the product in log2 units: the scale and log2(e) are
  // folded into Qt.
  packTransposed<D>(x.q + (b * T + q0) * D, mq, pb.scale * kLog2e, qt, kFwdQ,
                    lanes);
  std::fill(ot, ot + D * kFwdQ, 0.0f);
  std::fill(mx, mx + kFwdQ, -std::numeric_limits<float>::infinity());
  std::fill(lsum, lsum + kFwdQ, 0.0f);

  const V ninf = splat(-std::numeric_limits<float>::infinity());
  const VI iota = laneIota();
  const int64_t kEnd = pb.causal ? std::min(S, q0 + mq) : S;
  for (int64_t k0 = 0; k0 < kEnd; k0 += kFwdK) {
    const int kn = static_cast<int>(std::min<int64_t>(kFwdK, kEnd - k0));
    const int64_t kv = b / std::max<int64_t>(pb.groups, 1);
    const float *kb = x.k + (kv * S + k0) * D, *vb = x.v + (kv * S + k0) * D;
    // Causal: key k0 + j is visible to lanes i >= k0 + j - q0, so lane
    // vector v sees the first rows(v) keys of the tile. Off the diagonal
    // every lane sees every key.
    const bool diag = pb.causal && k0 + kn - 1 > q0;
    auto rows = [&](int v) {
      return diag ? static_cast<int>(clampTo(q0 - k0 + (v + 1) * kW, 0, kn))
                  : kn;
    };

    // St = K Qt, each block of keys from the first lane vector that sees
    // one of them: the diagonal tile costs about half.
    for (int j0 = 0; j0 < kn; j0 += kMR) {
      int vs =
          diag ? static_cast<int>(clampTo(floorDiv(k0 + j0 - q0, kW), 0, nvq))
               : 0;
      gemm(Gemm(std::min(kMR, kn - j0), nvq - vs, D, kb + j0 * D, D, 1,
                qt + vs * kW, kFwdQ, st + j0 * kFwdQ + vs * kW, kFwdQ, false));
    }

    for (int v = 0; v < nvq; ++v) {
      const int n = rows(v);
      V mOld = load(mx + v * kW), m = mOld;
      if (diag)
        for (int j = 0; j < n; ++j) {
          float *p = st + j * kFwdQ + v * kW;
          V s = select(iota + (v * kW) >= int32_t(k0 + j - q0), load(p), ninf);
          store(p, s);
          m = vmax(m, s);
        }
      else
        for (int j = 0; j < n; ++j)
          m = vmax(m, load(st + j * kFwdQ + v * kW));
      // Key 0 is in the first tile and visible to every lane, so m is
      // finite from then on and alpha = 2^(-inf) = 0 the first time.
      V a = exp2v(mOld - m), l = V{};
      for (int j = 0; j < n; ++j) {
        float *p = st + j * kFwdQ + v * kW;
        V e = exp2v(load(p) - m);
        store(p, e);
        l += e;
      }
      store(mx + v * kW, m);
      store(alpha + v * kW, a);
      store(lsum + v * kW, load(lsum + v * kW) * a + l);
    }

    // Dropout after l took the undropped sum. A query's flat indices run
    // along the keys, across the tile's rows: draw them per query, then
    // turn them into lanes.
    if (drop.active) {
      for (int i = 0; i < mq; ++i)
        std::memcpy(wq + i * kFwdK,
                    drop.words(static_cast<uint64_t>((b * T + q0 + i) * S + k0),
                               kn, wordBuf),
                    kn * sizeof(uint32_t));
      transpose<false>(wq, kFwdK, mq, kn, 1.0f, wt, kFwdQ);
      for (int v = 0; v < nvq; ++v)
        for (int j = 0, n = rows(v); j < n; ++j) {
          float *p = st + j * kFwdQ + v * kW;
          store(p, load(p) * drop.weights(wt + j * kFwdQ + v * kW));
        }
    }

    // Ot = Ot alpha + V^T Pt as a staircase: keys [rows(s - 1), rows(s))
    // reach lane vectors s and up. The first step rescales every vector,
    // with no keys if need be.
    for (int s = 0, prev = 0; s < nvq; ++s) {
      const int n = rows(s);
      Gemm pv(D, nvq - s, n - prev, vb + prev * D, 1, D,
              st + prev * kFwdQ + s * kW, kFwdQ, ot + s * kW, kFwdQ, true);
      if (s == 0)
        pv.colScale = alpha;
      if (s == 0 || n > prev)
        gemm(pv);
      prev = n;
    }
  }

  // lse = (max + log2 l) ln 2; padded lanes hold harmless finite values.
  for (int v = 0; v < nvq; ++v) {
    V l = load(lsum + v * kW), inv = 1.0f / l;
    for (int d = 0; d < D; ++d)
      store(ot + d * kFwdQ + v * kW, load(ot + d * kFwdQ + v * kW) * inv);
    store(mx + v * kW, load(mx + v * kW) * float(kLn2) + logv(l));
  }
  transpose(ot, kFwdQ, D, mq, 1.0f, x.o + (b * T + q0) * D, D);
  std::copy(mx, mx + mq, x.l + b * T + q0);
}

//===----------------------------------------------------------------------===//
// Backward
//===----------------------------------------------------------------------===//

/// One task of the backward: batch element `b`, so dq is its own and no
/// task writes another's outputs. FlashAttention-2's loop order:
///  1. Di = rowsum(dout * out) for every query; dq = 0.
///  2. Per key tile (kBwdK keys): Kt, Vt (D x keys); dKt = dVt = 0.
///  3. Per query tile that sees it: S = Q Kt; P = 2^(S log2e - lse log2e);
///     dVt += dO^T P'; dP' = dO Vt; dS = scale P (dP' M/(1-p) - Di);
///     dKt += Q^T dS; dq += dS K.
///  4. dk, dv = dKt^T, dVt^T.
/// dK and dV accumulate transposed (D x keys) so that P and dS, stored
/// queries x keys, are their B operands as they are.
template <int D> void backwardTask(const Args &x, int task) {
  const Problem &pb = *x.pb;
  const int64_t T = pb.T, S = pb.S, b = task;
  constexpr int Dp = static_cast<int>(roundUp(D, kW)), nvd = Dp / kW;
  constexpr bool ragged = D % kW != 0;
  constexpr int tile = kBwdQ * kBwdK, keyTile = D * kBwdK;
  Dropout drop(pb);

  float *di = threadScratch(2 * roundUp(T, kW) + 4 * keyTile +
                            (ragged ? kBwdK * Dp : 0) + 4 * tile +
                            roundUp(kBwdK + 35, kW));
  float *lse2 = di + roundUp(T, kW);
  float *kt = lse2 + roundUp(T, kW), *vt = kt + keyTile;
  float *dkt = vt + keyTile, *dvt = dkt + keyTile;
  float *sp = dvt + keyTile, *pd = sp + tile, *ds = pd + tile, *mk = ds + tile;
  float *kp = mk + tile;
  uint32_t *wordBuf =
      reinterpret_cast<uint32_t *>(kp + (ragged ? kBwdK * Dp : 0));

  const float *qb = x.q + b * T * D, *ob = x.out + b * T * D,
              *gb = x.dout + b * T * D,
              *kb = x.k + b / std::max<int64_t>(pb.groups, 1) * S * D,
              *vb = x.v + b / std::max<int64_t>(pb.groups, 1) * S * D;
  float *dqb = x.dq + b * T * D;
  for (int64_t i = 0; i < T; ++i) {
    di[i] = dot<D>(gb + i * D, ob + i * D) * pb.scale;
    lse2[i] = x.lse[b * T + i] * kLog2e;
  }
  std::fill(dqb, dqb + T * D, 0.0f);

  const VI iota = laneIota();
  for (int64_t k0 = 0; k0 < S; k0 += kBwdK) {
    const int kn = static_cast<int>(std::min<int64_t>(kBwdK, S - k0));
    const int nvk = (kn + kW - 1) / kW, lanes = nvk * kW;
    const float *kr = kb + k0 * D;
    // S = Q Kt comes out in log2 units and dP = dO Vt times the scale, which
    // dS = scale P (dP - Di) needs (di holds scale Di).
    packTransposed<D>(kr, kn, pb.scale * kLog2e, kt, kBwdK, lanes);
    packTransposed<D>(vb + k0 * D, kn, pb.scale, vt, kBwdK, lanes);
    // dq's product reads K rows as whole vectors: pad them if D is ragged.
    const float *kRows = kr;
    ptrdiff_t ldk = D;
    if (ragged) {
      for (int j = 0; j < kn; ++j) {
        std::copy(kr + j * D, kr + j * D + D, kp + j * Dp);
        std::fill(kp + j * Dp + D, kp + j * Dp + Dp, 0.0f);
      }
      kRows = kp;
      ldk = Dp;
    }
    std::fill(dkt, dkt + keyTile, 0.0f);
    std::fill(dvt, dvt + keyTile, 0.0f);

    for (int64_t q0 = pb.causal ? k0 / kBwdQ * kBwdQ : 0; q0 < T; q0 += kBwdQ) {
      const int mq = static_cast<int>(std::min<int64_t>(kBwdQ, T - q0));
      const float *qr = qb + q0 * D, *gr = gb + q0 * D;
      // Causal: query q0 + i sees the first keys(i) keys of the tile. A
      // block of kMR rows is computed over the blockVecs lane vectors its
      // last row sees, the other rows' extra entries masked to 0; products
      // over rows go as a staircase, rows [firstRow(s), firstRow(s + 1))
      // seeing vectors [0, s]. Off the diagonal each is the whole tile.
      const bool diag = pb.causal && k0 + kn - 1 > q0;
      auto keys = [&](int i) {
        return diag ? static_cast<int>(clampTo(q0 + i - k0 + 1, 0, kn)) : kn;
      };
      auto blockVecs = [&](int i) {
        int last = std::min(i - i % kMR + kMR, mq) - 1;
        return (keys(last) + kW - 1) / kW;
      };
      auto firstRow = [&](int s) {
        return s >= nvk ? mq
               : diag   ? static_cast<int>(clampTo(k0 + s * kW - q0, 0, mq))
                        : 0;
      };
      auto rowBlocks = [&](const float *a, const float *bt, float *out) {
        for (int i0 = 0; i0 < mq; i0 += kMR)
          gemm(Gemm(std::min(kMR, mq - i0), blockVecs(i0), D, a + i0 * D, D, 1,
                    bt, kBwdK, out + i0 * kBwdK, kBwdK, false));
      };
      auto staircase = [&](const float *a, const float *bt, float *out) {
        for (int s = 0; s < nvk; ++s) {
          int i0 = firstRow(s), i1 = firstRow(s + 1);
          if (i1 > i0)
            gemm(Gemm(D, s + 1, i1 - i0, a + i0 * D, 1, D, bt + i0 * kBwdK,
                      kBwdK, out, kBwdK, true));
        }
      };

      rowBlocks(qr, kt, sp);
      // P from the forward's lse.
      for (int i = 0; i < mq; ++i) {
        const int lim = keys(i), nv = blockVecs(i);
        float *row = sp + i * kBwdK;
        const float bias = lse2[q0 + i];
        for (int v = 0; v < nv; ++v) {
          V p = exp2v(load(row + v * kW) - bias);
          if (lim < (v + 1) * kW)
            p = select(iota + v * kW < lim, p, V{});
          store(row + v * kW, p);
        }
      }
      const float *pdrop = sp;
      if (drop.active) {
        for (int i = 0; i < mq; ++i) {
          const int nv = blockVecs(i);
          const uint32_t *w =
              drop.words(static_cast<uint64_t>((b * T + q0 + i) * S + k0),
                         nv * kW, wordBuf);
          for (int v = 0; v < nv; ++v) {
            V m = drop.weights(w + v * kW);
            store(mk + i * kBwdK + v * kW, m);
            store(pd + i * kBwdK + v * kW, load(sp + i * kBwdK + v * kW) * m);
          }
        }
        pdrop = pd;
      }
      staircase(gr, pdrop, dvt);
      rowBlocks(gr, vt, ds);
      for (int i = 0; i < mq; ++i) {
        const int nv = blockVecs(i);
        const float dii = di[q0 + i];
        float *row = ds + i * kBwdK;
        const float *prow = sp + i * kBwdK;
        for (int v = 0; v < nv; ++v) {
          V dp = load(row + v * kW);
          if (drop.active)
            dp *= load(mk + i * kBwdK + v * kW);
          store(row + v * kW, load(prow + v * kW) * (dp - dii));
        }
      }
      staircase(qr, ds, dkt);
      for (int i0 = 0; i0 < mq; i0 += kMR) {
        const int mr = std::min(kMR, mq - i0), n = keys(i0 + mr - 1);
        Gemm dq(mr, nvd, n, ds + i0 * kBwdK, kBwdK, 1, kRows, ldk,
                dqb + (q0 + i0) * D, D, true);
        dq.lastCols = D - (nvd - 1) * kW;
        if (n > 0)
          gemm(dq);
      }
    }

    transpose(dkt, kBwdK, D, kn, 1.0f, x.dk + (b * S + k0) * D, D);
    transpose(dvt, kBwdK, D, kn, 1.0f, x.dv + (b * S + k0) * D, D);
  }
}

/// Runs task(args, i) for i in [0, n) through the problem's parallelFor, or
/// serially without one.
template <void (*Task)(const Args &, int)>
void parallel(const Args &args, int64_t n) {
  auto run = [](void *ctx, int i) { Task(*static_cast<const Args *>(ctx), i); };
  if (args.pb->parallelFor)
    args.pb->parallelFor(static_cast<int>(n), run, const_cast<Args *>(&args));
  else
    for (int64_t i = 0; i < n; ++i)
      run(const_cast<Args *>(&args), static_cast<int>(i));
}

} // namespace detail

/// out [batch,T,D] = dropout(softmax(mask(q k^T * scale))) v;
/// lse [batch,T] = log-sum-exp of each row of the masked, scaled scores.
/// q [batch,T,D], k [batch,S,D], v [batch,S,D], all contiguous row-major fp32.
template <int D>
void forward(const Problem &pb, const float *q, const float *k, const float *v,
             float *out, float *lse) {
  static_assert(D > 0, "head dim must be positive");
  detail::Args args{&pb,     q,   k,   v,       nullptr, nullptr,
                    nullptr, out, lse, nullptr, nullptr, nullptr};
  int64_t blocks = (pb.T + detail::kFwdQ - 1) / detail::kFwdQ;
  detail::parallel<detail::forwardTask<D>>(args, pb.batch * blocks);
}

/// Gradients from dout [batch,T,D] given the forward's out and lse; never
/// materializes a T x S matrix; dq, dk, dv fully overwritten. With groups,
/// k, v, dk and dv are [batch / groups, S, D]: each query head's share is
/// computed apart, then each group's shares summed.
template <int D>
void backward(const Problem &pb, const float *q, const float *k, const float *v,
              const float *out, const float *lse, const float *dout, float *dq,
              float *dk, float *dv) {
  static_assert(D > 0, "head dim must be positive");
  const int64_t groups = std::max<int64_t>(pb.groups, 1), n = pb.S * D;
  std::vector<float> shares(groups > 1 ? 2 * pb.batch * n : 0);
  float *dks = groups > 1 ? shares.data() : dk;
  float *dvs = groups > 1 ? shares.data() + pb.batch * n : dv;
  detail::Args args{&pb,  q,       k,       v,  out, lse,
                    dout, nullptr, nullptr, dq, dks, dvs};
  detail::parallel<detail::backwardTask<D>>(args, pb.batch);
  for (int64_t kv = 0; groups > 1 && kv < pb.batch / groups; ++kv)
    for (int64_t i = 0; i < n; ++i) {
      float sk = 0, sv = 0;
      for (int64_t g = 0; g < groups; ++g) {
        sk += dks[(kv * groups + g) * n + i];
        sv += dvs[(kv * groups + g) * n + i];
      }
      dk[kv * n + i] = sk;
      dv[kv * n + i] = sv;
    }
}

} // namespace GPTC_SIMD_ISA

} // namespace gptc::flash

#undef GPTC_SIMD_ISA

#endif // GPTC_BACKENDS_CPU_FLASHATTENTION_H
