//===- Gemv.h - Matrix products with a few rows, at memory speed -*- C++
//-*-===//
//
// Decoding multiplies one row per sequence by each weight matrix: every
// weight is read once per token and used for a handful of FMAs, so the
// product runs at the speed memory streams the weights, not at the FMA
// peak the tiled GEMM (MatmulKernel.cpp) is built for. Its register tiles
// of 8 rows and packed column panels waste most of that stream on one row.
// Header-only C++, compiled per target by gptc-kernelgen (the matmul
// kernel's entry dispatches here when the product has few rows).
//
// Algorithm, out [M, N] = a [M, K] b (+ bias, then GELU):
//  1. b [K, N]: split K into kSplit contiguous row blocks, one task each, so
//     every task streams one contiguous block of b; each accumulates its
//     partial product for all N columns (M x N floats, cache-resident),
//     eight rows of b at a time.
//  2. The caller sums the partials in a fixed order (the result does not
//     depend on the thread count) and applies the epilogue.
//  3. b stored [N, K] (trans_b, the tied LM head): rows of b are
//     contiguous, so tasks split N; each output is a dot product of two
//     contiguous rows, four rows of b at a time. (One at a time, GPT-2's
//     head streamed wte at 28-30 GB/s on a 2-vCPU Zen 5 reading 49; four,
//     at 33-36.)
//  4. b packed into panels (Gemm.h's packB: a generator's weights, packed
//     once when loaded): a task streams a run of whole panels (about
//     kPackedTaskBytes, asking ahead for bf16 and int8 ones), each K rows
//     of kNR contiguous floats; each output is summed over all of K in its
//     task, so there are no partials to add.
//     On the Zen 5 above, one thread, GPT-2's four products took 1.2-1.5x
//     less time than steps 1-2 on the same weights; 2 threads streamed the
//     packed wte at 38.7-39.5 GB/s against 33.4-36.3 for step 3. Panels of
//     bf16 or int8 weights are widened as each row of the panel is loaded,
//     once for all rows of a; int8 ones a block of kQBlock rows at a time,
//     its scales held in registers.
//  5. int8 panels where the ISA has integer dot products (AVX2 and up):
//     a's rows are quantized as the weights are (blocks of 32, an fp32
//     scale each), and each block's products are summed in int32 (four per
//     lane: vpmaddubsw and vpmaddwd, or vpdpbusd with VNNI), then scaled
//     once, as llama.cpp's Q8_0 does. Prefill (the GEMM) keeps fp32
//     activations.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_GEMV_H
#define GPTC_BACKENDS_CPU_GEMV_H

#include "Simd.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace gptc::gemv {

/// Runs task(ctx, i) for i in [0, n): a thread pool's parallel-for.
using ParallelFor = void (*)(int n, void (*task)(void *, int), void *ctx);

enum class Epilogue { None, Bias, BiasGelu };

/// The element type of packed panels (step 4, Gemm.h step 2b): fp32, bf16,
/// or int8 in blocks with scales (Simd.h's Int8Panel).
enum class Weights { F32, BF16, Int8 };

struct Problem {
  int64_t M, K, N;
  bool transB; ///< b stored [N, K].
  Epilogue epilogue;
  /// b as panels (step 4); transB then only says how they were packed.
  bool packedB = false;
  /// The panels' element type: bf16 and int8 ones are widened to fp32 as
  /// they are read.
  Weights weights = Weights::F32;
};

/// The most rows this path takes; more rows reuse each weight enough for
/// the tiled GEMM to win.
constexpr int64_t kMaxRows = 7;
/// K blocks of the untransposed product: enough tasks to balance up to 8
/// threads, few enough that the partial sums stay small.
constexpr int kSplit = 8;
/// Output rows of b per task of the transposed product.
constexpr int64_t kRowsPerTask = 256;
/// Bytes of packed b per task (step 4; Gemm.h's step 2b too), and the
/// fewest tasks a product with as many panels is split into. A task's
/// panels are one contiguous run, and each run restarts the prefetchers:
/// runs of 512 KiB against 128 took GPT-2's decode on a 2-vCPU Zen 5
/// (reading 77 GB/s) from 252 to 276 tokens/s with bf16 weights, 414 to
/// 440 with int8 and 146 to 154 with fp32, and forced AVX2 (16-column
/// panels, a quarter of the bytes) from 203 to 267 with bf16. Eight tasks
/// keep 768 x 768 products balanced over 2, 4 and 8 threads.
constexpr int64_t kPackedTaskBytes = 512 << 10;
constexpr int64_t kMinPackedTasks = 8;
/// How far ahead of its reads a task asks for its stream of int8 panels
/// (step 5): two AVX-512 int8 blocks when their scales were fp32 (2 x 2304
/// bytes; a block is 2176 now). The hardware prefetcher alone left GPT-2's
/// int8 head at 30-36 GB/s where fp32 streamed 37-38 (2-vCPU Zen 5), and
/// decode 8 interleaved runs at median 208 tokens/s against 222 with it.
/// fp32 panels gained nothing either way.
constexpr int64_t kPrefetchBytes = 4608;

inline namespace GPTC_SIMD_ISA {

/// The same for bf16 panels (step 4), which paid only with the long runs
/// above (each alone gained nothing). With 64-column panels (AVX-512) twice
/// as far: GPT-2's decode products (microbenchmark, 2-vCPU Zen 5, three
/// sets of 8 interleaved runs) took 7-10% less time at 9216 bytes than at
/// 4608, where 16-column ones (AVX2) took 5% more.
constexpr int64_t kBf16PrefetchBytes = simd::kW == 16 ? 9216 : 4608;

/// Rows of kNR elements in a packed panel of K rows of `w` weights.
inline int64_t packedRows(int64_t K, Weights w) {
  if (w != Weights::Int8)
    return K;
  return (K + simd::kQBlock - 1) / simd::kQBlock * simd::kQBlockRows;
}

/// Bytes of one element of a packed panel.
inline int64_t packedElementBytes(Weights w) {
  return w == Weights::F32 ? 4 : w == Weights::BF16 ? 2 : 1;
}

namespace detail {

using namespace gptc::simd;

struct Args {
  const Problem *pb;
  const float *a, *b;
  float *partial; ///< kSplit x M x N (untransposed) or the output.
  const float *bias;
  /// With int8 weights (step 5): a's rows in int8 blocks of kQBlock, and
  /// their scales.
  const int8_t *qa = nullptr;
  const float *da = nullptr;
};

/// GELU's tanh form, as the interpreter computes it.
inline V gelu(V x) {
  const float c = 0.7978845608028654f; // sqrt(2 / pi)
  return 0.5f * x * (1.0f + tanhv(c * (x + 0.044715f * x * x * x)));
}

/// The epilogue `e` on `rows` rows of `cols` columns at `c`, rows `ldc`
/// apart; bias[j] goes to column j. The few-row path and the GEMM share it.
inline void epilogue(Epilogue e, float *c, int64_t ldc, int64_t rows,
                     int64_t cols, const float *bias) {
  if (e == Epilogue::None)
    return;
  for (int64_t r = 0; r < rows; ++r, c += ldc)
    for (int64_t v = 0; v < cols; v += kW) {
      const int lanes = static_cast<int>(std::min<int64_t>(kW, cols - v));
      V x{}, bv{};
      if (lanes == kW) {
        x = load(c + v);
        bv = load(bias + v);
      } else {
        for (int l = 0; l < lanes; ++l) {
          x[l] = c[v + l];
          bv[l] = bias[v + l];
        }
      }
      x += bv;
      if (e == Epilogue::BiasGelu)
        x = gelu(x);
      if (lanes == kW)
        store(c + v, x);
      else
        for (int l = 0; l < lanes; ++l)
          c[v + l] = x[l];
    }
}

/// Step 1: task t's rows of b, accumulated into its partial product.
inline void splitKTask(void *ctx, int t) {
  const Args &x = *static_cast<const Args *>(ctx);
  const Problem &p = *x.pb;
  const int64_t M = p.M, N = p.N, rows = (p.K + kSplit - 1) / kSplit;
  const int64_t k0 = std::min(p.K, t * rows), k1 = std::min(p.K, k0 + rows);
  float *__restrict acc = x.partial + t * M * N;
  std::fill(acc, acc + M * N, 0.0f);
  int64_t k = k0;
  // Eight rows of b per pass over the partial row: with N = 768 the pass
  // is short, and its loads and stores of the row cost as much as b's.
  for (; k + 8 <= k1; k += 8) {
    const float *__restrict bk = x.b + k * N;
    for (int64_t m = 0; m < M; ++m) {
      const float *am = x.a + m * p.K + k;
      float *__restrict row = acc + m * N;
      for (int64_t n = 0; n < N; ++n)
        row[n] += (am[0] * bk[n] + am[1] * bk[n + N] + am[2] * bk[n + 2 * N] +
                   am[3] * bk[n + 3 * N]) +
                  (am[4] * bk[n + 4 * N] + am[5] * bk[n + 5 * N] +
                   am[6] * bk[n + 6 * N] + am[7] * bk[n + 7 * N]);
    }
  }
  for (; k < k1; ++k) {
    const float *__restrict bk = x.b + k * N;
    for (int64_t m = 0; m < M; ++m) {
      const float ak = x.a[m * p.K + k];
      float *__restrict row = acc + m * N;
      for (int64_t n = 0; n < N; ++n)
        row[n] += ak * bk[n];
    }
  }
}

/// out[r] = a . (b + r * K) for r < R, each summed in four vector
/// accumulators, then their lanes, then the tail. Four rows at a time keep
/// four streams of b open and load each vector of a once for the four.
template <int R>
inline void dots(const float *a, const float *b, int64_t K, float *out) {
  V s[R][4] = {};
  int64_t k = 0;
  for (; k + 4 * kW <= K; k += 4 * kW)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const V av = load(a + k + j * kW);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        s[r][j] += av * load(b + r * K + k + j * kW);
    }
  for (int r = 0; r < R; ++r) {
    V sum = (s[r][0] + s[r][1]) + (s[r][2] + s[r][3]);
    float v = 0;
    for (int l = 0; l < kW; ++l)
      v += sum[l];
    for (int64_t kk = k; kk < K; ++kk)
      v += a[kk] * b[r * K + kk];
    out[r] = v;
  }
}

/// Step 3: outputs [t * kRowsPerTask, ...) of every row of a.
inline void transposedTask(void *ctx, int t) {
  const Args &x = *static_cast<const Args *>(ctx);
  const Problem &p = *x.pb;
  const int64_t n0 = t * kRowsPerTask, n1 = std::min(p.N, n0 + kRowsPerTask);
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4)
    for (int64_t m = 0; m < p.M; ++m)
      dots<4>(x.a + m * p.K, x.b + n * p.K, p.K, x.partial + m * p.N + n);
  for (; n < n1; ++n)
    for (int64_t m = 0; m < p.M; ++m)
      dots<1>(x.a + m * p.K, x.b + n * p.K, p.K, x.partial + m * p.N + n);
}

/// Asks for the `bytes` at `p` + `distance`, a line at a time.
inline void prefetchAhead(const void *p, int64_t bytes,
                          int64_t distance = kPrefetchBytes) {
  const char *ahead = static_cast<const char *>(p) + distance;
  for (int64_t line = 0; line < bytes; line += 64)
    __builtin_prefetch(ahead + line, 0, 3);
}

/// Step 4 for rows [m0, m0 + R) and columns [j0, j0 + kNR) of the
/// panel: R x kNV accumulators, and for one row a second set for odd k, so
/// that enough independent FMA chains hide the FMA latency.
template <int R, typename Panel>
inline void panelRows(const Args &x, const Panel &panel, int64_t m0,
                      int64_t j0) {
  const Problem &p = *x.pb;
  constexpr int U = R == 1 ? 2 : 1;
  V acc[U][R][kNV] = {};
  const float *a = x.a + m0 * p.K;
  for (int64_t c0 = 0; c0 < p.K;) {
    const int64_t c1 = p.K - c0 <= Panel::kRows ? p.K : c0 + Panel::kRows;
    const auto chunk = panel.chunk(c0);
    int64_t k = c0;
    for (; k + U <= c1; k += U)
#pragma GCC unroll 2
      for (int u = 0; u < U; ++u) {
        if constexpr (std::is_same_v<Panel, Bf16Panel>)
          prefetchAhead(chunk.p + (k - c0 + u) * kNR, kNR * sizeof(Bf16),
                        kBf16PrefetchBytes);
        // The row's vectors once for all R rows (widened once).
        V bv[kNV];
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v)
          bv[v] = chunk.row(k - c0 + u, v);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const float av = a[r * p.K + k + u];
#pragma GCC unroll 4
          for (int v = 0; v < kNV; ++v)
            acc[u][r][v] += av * bv[v];
        }
      }
    for (; k < c1; ++k)
      for (int r = 0; r < R; ++r) {
        const float av = a[r * p.K + k];
        for (int v = 0; v < kNV; ++v)
          acc[0][r][v] += av * chunk.row(k - c0, v);
      }
    c0 = c1;
  }
  const int64_t cols = std::min<int64_t>(kNR, p.N - j0);
  for (int r = 0; r < R; ++r) {
    float *out = x.partial + (m0 + r) * p.N + j0;
    for (int v = 0; v < kNV; ++v) {
      V sum = acc[0][r][v];
      if constexpr (U == 2)
        sum += acc[1][r][v];
      if (v * kW + kW <= cols) {
        store(out + v * kW, sum);
      } else {
        for (int64_t l = 0; l < cols - v * kW; ++l)
          out[v * kW + l] = sum[l];
      }
    }
  }
}

/// Panels of a packed b per task: runs of about kPackedTaskBytes, so that a
/// thread streams long stretches of contiguous memory, but at least
/// kMinPackedTasks tasks where there are as many panels.
inline int64_t packedPanelsPerTask(int64_t K, int64_t N,
                                   Weights w = Weights::F32) {
  const int64_t bytes =
      std::max<int64_t>(packedRows(K, w), 1) * kNR * packedElementBytes(w);
  const int64_t panels = (N + kNR - 1) / kNR;
  return std::max<int64_t>(
      1, std::min(kPackedTaskBytes / bytes,
                  (panels + kMinPackedTasks - 1) / kMinPackedTasks));
}

/// Panel pj of a packed b of `w` weights with K rows, read through Panel.
template <typename Panel>
inline Panel panelAt(const float *b, int64_t K, Weights w, int64_t pj) {
  const char *base = reinterpret_cast<const char *>(b);
  return {reinterpret_cast<decltype(Panel::p)>(
      base + pj * packedRows(K, w) * kNR * packedElementBytes(w))};
}

/// Blocks of kQBlock along K.
inline int64_t quantBlocks(int64_t K) {
  return (K + simd::kQBlock - 1) / simd::kQBlock;
}

/// Step 5: a's M rows as the int8 weights are held, blocks of kQBlock with
/// scale max |a| / 127 and a / scale rounded to nearest even, zero past K.
inline void quantizeRows(const float *a, int64_t M, int64_t K, int8_t *qa,
                         float *da) {
  const int64_t blocks = quantBlocks(K);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t b = 0; b < blocks; ++b) {
      const float *row = a + m * K + b * kQBlock;
      const int64_t n = std::min<int64_t>(kQBlock, K - b * kQBlock);
      float amax = 0;
      for (int64_t k = 0; k < n; ++k)
        amax = std::max(amax, std::fabs(row[k]));
      const float scale = amax / 127, inv = scale > 0 ? 1 / scale : 0;
      da[m * blocks + b] = scale;
      int8_t *q = qa + (m * blocks + b) * kQBlock;
      for (int64_t k = 0; k < kQBlock; ++k)
        q[k] = k < n ? static_cast<int8_t>(std::nearbyint(
                           std::clamp(row[k] * inv, -127.0f, 127.0f)))
                     : 0;
    }
}

#if defined(__AVX2__)
/// Step 5 for row m against one int8 panel: per group of 4 rows of a block,
/// |a| (u8) times the weights with a's signs (vpsignb) sums four products
/// into each 32-bit lane (vpdpbusd with VNNI; else vpmaddubsw, exact as
/// 2 x 127 x 127 < 2^15, then vpmaddwd); per block the integer sums times
/// both scales.
inline void intDotRow(const Args &x, const Int8Panel &panel, int64_t m,
                      int64_t j0) {
  const Problem &p = *x.pb;
  const int64_t blocks = quantBlocks(p.K);
  const int8_t *qa = x.qa + m * blocks * kQBlock;
  const float *da = x.da + m * blocks;
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
  // 512 bits: AVX-512 has no vpsignb, so the weights where a < 0 are
  // negated under a mask instead; half the instructions of 256 bits.
  constexpr int kZ = kNR / 16;
  __m512 acc[kZ];
  for (int z = 0; z < kZ; ++z)
    acc[z] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const int8_t *block = panel.p + b * kQBlockRows * kNR;
    const int8_t *q = block + 2 * kNR;
    prefetchAhead(block, kQBlockRows * kNR);
    __m512i sum[kZ];
    for (int z = 0; z < kZ; ++z)
      sum[z] = _mm512_setzero_si512();
    for (int g = 0; g < kQBlock / kQGroup; ++g) {
      int32_t four;
      std::memcpy(&four, qa + b * kQBlock + g * kQGroup, sizeof four);
      const __m512i av = _mm512_set1_epi32(four);
      const __m512i absA = _mm512_abs_epi8(av);
      const __mmask64 negative = _mm512_movepi8_mask(av);
#pragma GCC unroll 4
      for (int z = 0; z < kZ; ++z) {
        const __m512i w = _mm512_loadu_si512(q + (g * kNR + z * 16) * kQGroup);
        sum[z] = _mm512_dpbusd_epi32(
            sum[z], absA,
            _mm512_mask_sub_epi8(w, negative, _mm512_setzero_si512(), w));
      }
    }
    const __m512 d = _mm512_set1_ps(da[b]);
    const Bf16 *scale = reinterpret_cast<const Bf16 *>(block);
    for (int z = 0; z < kZ; ++z) // kW is 16 here: Simd.h's bf16 load fits
      acc[z] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[z]),
                               _mm512_mul_ps(d, load(scale + z * 16)), acc[z]);
  }
  const int64_t cols = std::min<int64_t>(kNR, p.N - j0);
  float *out = x.partial + m * p.N + j0;
  for (int z = 0; z < kZ && z * 16 < cols; ++z) {
    const int64_t n = std::min<int64_t>(16, cols - z * 16);
    _mm512_mask_storeu_ps(out + z * 16, static_cast<__mmask16>((1u << n) - 1),
                          acc[z]);
  }
#else
  constexpr int kL = kNR / 8; // 8 columns per 256-bit vector
  __m256 acc[kL];
  for (int l = 0; l < kL; ++l)
    acc[l] = _mm256_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const int8_t *block = panel.p + b * kQBlockRows * kNR;
    const int8_t *q = block + 2 * kNR;
    prefetchAhead(block, kQBlockRows * kNR);
    __m256i sum[kL];
    for (int l = 0; l < kL; ++l)
      sum[l] = _mm256_setzero_si256();
    for (int g = 0; g < kQBlock / kQGroup; ++g) {
      int32_t four;
      std::memcpy(&four, qa + b * kQBlock + g * kQGroup, sizeof four);
      const __m256i av = _mm256_set1_epi32(four);
      const __m256i absA = _mm256_sign_epi8(av, av);
#pragma GCC unroll 8
      for (int l = 0; l < kL; ++l) {
        const __m256i w = _mm256_loadu_si256(
            reinterpret_cast<const __m256i *>(q + (g * kNR + l * 8) * kQGroup));
        const __m256i signedW = _mm256_sign_epi8(w, av);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
        sum[l] = _mm256_dpbusd_epi32(sum[l], absA, signedW);
#else
        sum[l] = _mm256_add_epi32(
            sum[l], _mm256_madd_epi16(_mm256_maddubs_epi16(absA, signedW),
                                      _mm256_set1_epi16(1)));
#endif
      }
    }
    const __m256 d = _mm256_set1_ps(da[b]);
    for (int l = 0; l < kL; ++l) {
      const __m256 scale = _mm256_castsi256_ps(
          _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(
                                reinterpret_cast<const __m128i *>(block) + l)),
                            16));
      acc[l] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[l]),
                               _mm256_mul_ps(d, scale), acc[l]);
    }
  }
  const int64_t cols = std::min<int64_t>(kNR, p.N - j0);
  float *out = x.partial + m * p.N + j0;
  for (int l = 0; l < kL; ++l) {
    if (l * 8 + 8 <= cols) {
      _mm256_storeu_ps(out + l * 8, acc[l]);
    } else {
      alignas(32) float lanes[8];
      _mm256_store_ps(lanes, acc[l]);
      for (int64_t c = l * 8; c < cols; ++c)
        out[c] = lanes[c - l * 8];
    }
  }
#endif
}
#endif

/// Step 4 for one panel: its outputs in every row of a, then the epilogue
/// while they are in L1.
template <typename Panel> inline void packedPanel(const Args &x, int64_t pj) {
  const Problem &p = *x.pb;
  const Panel panel = panelAt<Panel>(x.b, p.K, p.weights, pj);
  const int64_t j0 = pj * kNR;
#if defined(__AVX2__)
  if constexpr (std::is_same_v<Panel, Int8Panel>) {
    for (int64_t m = 0; m < p.M; ++m)
      intDotRow(x, panel, m, j0);
    epilogue(p.epilogue, x.partial + j0, p.N, p.M,
             std::min<int64_t>(kNR, p.N - j0), x.bias + j0);
    return;
  }
#endif
  int64_t m = 0;
  for (; m + 4 <= p.M; m += 4)
    panelRows<4>(x, panel, m, j0);
  switch (p.M - m) {
  case 3:
    panelRows<3>(x, panel, m, j0);
    break;
  case 2:
    panelRows<2>(x, panel, m, j0);
    break;
  case 1:
    panelRows<1>(x, panel, m, j0);
    break;
  }
  epilogue(p.epilogue, x.partial + j0, p.N, p.M,
           std::min<int64_t>(kNR, p.N - j0), x.bias + j0);
}

/// Tasks of step 4: as many as runs of packedPanelsPerTask panels.
inline int64_t packedTasks(const Problem &p) {
  const int64_t panels = (p.N + kNR - 1) / kNR,
                per = packedPanelsPerTask(p.K, p.N, p.weights);
  return (panels + per - 1) / per;
}

/// Step 4: task t's run of panels, the panels spread evenly over the
/// tasks (36 panels in 8 tasks: 5 or 4 each, not seven of 5 and one of 1,
/// which left one of 2 threads 20 panels to the other's 16).
inline void packedTask(void *ctx, int t) {
  const Args &x = *static_cast<const Args *>(ctx);
  const int64_t panels = (x.pb->N + kNR - 1) / kNR, tasks = packedTasks(*x.pb);
  for (int64_t pj = t * panels / tasks; pj < (t + 1) * panels / tasks; ++pj)
    switch (x.pb->weights) {
    case Weights::F32:
      packedPanel<F32Panel>(x, pj);
      break;
    case Weights::BF16:
      packedPanel<Bf16Panel>(x, pj);
      break;
    case Weights::Int8:
      packedPanel<Int8Panel>(x, pj);
      break;
    }
}

/// task(ctx, i) for i in [0, n), on `pf` when there is one.
inline void parallel(ParallelFor pf, int n, void (*task)(void *, int),
                     void *ctx) {
  if (pf)
    pf(n, task, ctx);
  else
    for (int i = 0; i < n; ++i)
      task(ctx, i);
}

} // namespace detail

/// out [M, N] = a [M, K] b [K, N] (b [N, K] when transB, panels when
/// packedB), then the epilogue with bias [N]. For M <= kMaxRows; dense
/// row-major fp32.
inline void run(const Problem &p, const float *a, const float *b,
                const float *bias, float *out, ParallelFor pf) {
  detail::Args args{&p, a, b, out, bias};
  if (p.packedB) {
    thread_local std::vector<int8_t> qa;
    thread_local std::vector<float> da;
    if (p.weights == Weights::Int8 && simd::kIntDot) {
      const int64_t blocks = detail::quantBlocks(p.K);
      qa.resize(static_cast<size_t>(p.M * blocks * simd::kQBlock));
      da.resize(static_cast<size_t>(p.M * blocks));
      detail::quantizeRows(a, p.M, p.K, qa.data(), da.data());
      args.qa = qa.data();
      args.da = da.data();
    }
    detail::parallel(pf, static_cast<int>(detail::packedTasks(p)),
                     detail::packedTask, &args);
    return;
  }
  if (p.transB) {
    detail::parallel(pf,
                     static_cast<int>((p.N + kRowsPerTask - 1) / kRowsPerTask),
                     detail::transposedTask, &args);
    detail::epilogue(p.epilogue, out, p.N, p.M, p.N, bias);
    return;
  }
  const int64_t MN = p.M * p.N;
  thread_local std::vector<float> partial;
  partial.resize(static_cast<size_t>(kSplit * MN));
  args.partial = partial.data();
  detail::parallel(pf, kSplit, detail::splitKTask, &args);
  for (int64_t i = 0; i < MN; ++i) {
    float s = 0;
    for (int t = 0; t < kSplit; ++t)
      s += partial[t * MN + i];
    out[i] = s;
  }
  detail::epilogue(p.epilogue, out, p.N, p.M, p.N, bias);
}

} // namespace GPTC_SIMD_ISA
} // namespace gptc::gemv

#endif // GPTC_BACKENDS_CPU_GEMV_H
