//===- GemmBf16.h - Matrix products of bf16-rounded operands ----*- C++ -*-===//
//
// Gemm.h's products with both operands rounded to bf16 (nearest even) and
// the sums kept in fp32: the matmuls of bf16 mixed-precision training (a
// training config's `precision: bf16`). With AVX512-BF16 one vdpbf16ps
// multiplies kW pairs of bf16 and adds both products to kW fp32 sums: twice
// an FMA's products per instruction, from half the bytes. Without it (AVX2,
// AVX-512 without BF16) the pairs are widened and summed with two FMAs: the
// same rounded operands, so tests check these numerics on every machine.
// The compiler builds bf16 training only for CPUs with the instruction.
//
// Algorithm, per batch element:
//  1. a is rounded into words of two bf16 along K, even k in the low half
//     (a zero pads an odd K): row-major [M, K/2] words for an upright a; for
//     trans_a, tiles of kMR rows of [K/2, kMR] words, so that a tile's reads
//     are one stream (the fp32 path packs its tiles for the same reason).
//  2. b is rounded into panels of kNR columns, [K/2, kNR] words each (zero
//     past N): rows 2h and 2h + 1 interleaved, column by column; trans_b
//     pairs a row's neighbours, then transposes them into the panel. With
//     one row block each task rounds its own panel's slice of K instead.
//  3. Tasks are (row block, panel), as Gemm.h step 1: each output summed
//     in the same order whatever the threads. K goes in blocks of kKc (the
//     block of the panel stays in L1), and a long K in slices (Gemm.h step
//     3b: a row block's words stay in L2 across the panels).
//  4. Each tile of kMR rows runs pairKernel: per pair of K rows, kNV
//     vectors of the panel's words against one broadcast word of a per row.
//  5. After the last K block the epilogue (bias, GELU) runs on the tile.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_GEMMBF16_H
#define GPTC_BACKENDS_CPU_GEMMBF16_H

#include "Gemm.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace gptc::gemm::bf16 {
inline namespace GPTC_SIMD_ISA {

using namespace gptc::simd;

/// Two bf16 of consecutive K rows: row 2h in the low half, 2h + 1 high.
using Word = uint32_t;

/// Rows of K per block, as the fp32 path's (kKc): a block of the panel is
/// 32 KB with AVX-512's 64 columns.
constexpr int64_t kBlockWords = detail::kKc / 2;
using detail::kRowBlock;
using detail::kSliceBytes;
/// Row tiles per row block (trans_a's tiles start at each block).
constexpr int64_t kTilesPerBlock = (kRowBlock + kMR - 1) / kMR;

inline void store(Word *p, VU v) { *reinterpret_cast<VUUnaligned *>(p) = v; }

/// Each lane rounded to the nearest bf16 (ties to even; a NaN stays one), in
/// the high half of its word.
inline VU roundHigh(V x) {
  const VU u = bitCast<VU>(x);
  const VU rounded = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  return (u & 0x7fffffffu) > 0x7f800000u ? (u | 0x400000u) & 0xffff0000u
                                         : rounded;
}

/// The word of x (low) and y (high), rounded.
inline Word word(float x, float y) {
  return Word{toBf16(x)} | Word{toBf16(y)} << 16;
}

/// The words of lanes x[l] (low) and y[l] (high).
inline VU interleave(V x, V y) { return roundHigh(x) >> 16 | roundHigh(y); }

#ifdef GPTC_SIMD_SHUFFLE
template <size_t... L>
inline VU laneIndices(int first, std::index_sequence<L...>) {
  return VU{static_cast<uint32_t>(first + 2 * int(L))...};
}
#endif

/// The kW words of the 2 kW floats at x, pair by pair.
inline VU pairs(const float *x) {
  const VU lo = roundHigh(load(x)), hi = roundHigh(load(x + kW));
#ifdef GPTC_SIMD_SHUFFLE
  const VU even = __builtin_shuffle(
               lo, hi, laneIndices(0, std::make_index_sequence<kW>())),
           odd = __builtin_shuffle(
               lo, hi, laneIndices(1, std::make_index_sequence<kW>()));
  return even >> 16 | odd;
#else
  VU w;
  for (int l = 0; l < kW; ++l) {
    const uint32_t e = 2 * l < kW ? lo[2 * l] : hi[2 * l - kW],
                   o = 2 * l + 1 < kW ? lo[2 * l + 1] : hi[2 * l + 1 - kW];
    w[l] = e >> 16 | o;
  }
  return w;
#endif
}

/// acc + (low halves a * b) + (high halves a * b), lane by lane; b's
/// words held as floats (pinned in registers).
inline V dot2(V acc, VU a, V bWords) {
#if defined(__AVX512BF16__) && defined(__AVX512F__)
  return reinterpret_cast<V>(_mm512_dpbf16_ps(
      reinterpret_cast<__m512>(acc), reinterpret_cast<__m512bh>(a),
      reinterpret_cast<__m512bh>(bWords)));
#else
  const VU b = bitCast<VU>(bWords);
  return acc + bitCast<V>(a << 16) * bitCast<V>(b << 16) +
         bitCast<V>(a & 0xffff0000u) * bitCast<V>(b & 0xffff0000u);
#endif
}

/// One tile: C (MR x kNR) = or += A (MR x 2 kh) B (2 kh x kNR), in words.
struct Tile {
  int64_t kh;
  /// Word h of row r at a[r * aRow + h * aK].
  const Word *a;
  ptrdiff_t aRow, aK;
  const Word *b; ///< kh rows of kNR words.
  float *c;
  ptrdiff_t ldc;
  bool accumulate;
};

/// Out of line for the reason Simd.h's microKernel is.
template <int MR> __attribute__((noinline)) void pairKernel(const Tile &t) {
  V acc[MR][kNV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < kNV; ++v)
      acc[r][v] = t.accumulate ? load(t.c + r * t.ldc + v * kW) : V{};
  const Word *a = t.a, *b = t.b;
  for (int64_t h = 0; h < t.kh; ++h, a += t.aK, b += kNR) {
    V bv[kNV];
#pragma GCC unroll 8
    for (int v = 0; v < kNV; ++v) {
      bv[v] = load(reinterpret_cast<const float *>(b + v * kW));
      pinToRegister(bv[v]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const VU s = VU{} + a[r * t.aRow];
#pragma GCC unroll 8
      for (int v = 0; v < kNV; ++v)
        acc[r][v] = dot2(acc[r][v], s, bv[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < kNV; ++v)
      gptc::simd::store(t.c + r * t.ldc + v * kW, acc[r][v]);
}

struct Args {
  const Problem *pb;
  const float *a, *b, *bias;
  float *out;
  Word *wa, *wb;            ///< Steps 1 and 2's words.
  int64_t kh;               ///< Words per row: ceil(K / 2).
  int64_t aWords, bWords;   ///< Per batch element.
  int64_t aTasks, aPerTask; ///< Step 1's tasks, and rows (pairs) per task.
  int64_t rowBlocks, panels;
  int64_t hBegin = 0, hEnd = 0; ///< The K slice, in words.
};

/// Step 1 for an upright a: rows [m0, m1) of batch element bt.
inline void roundRows(const Args &x, int64_t bt, int64_t m0, int64_t m1) {
  const Problem &p = *x.pb;
  const int64_t full = p.K / (2 * kW) * kW; // words from whole vectors
  for (int64_t m = m0; m < m1; ++m) {
    const float *src = x.a + (bt * p.M + m) * p.K;
    Word *dst = x.wa + bt * x.aWords + m * x.kh;
    for (int64_t h = 0; h < full; h += kW)
      store(dst + h, pairs(src + 2 * h));
    for (int64_t h = full; h < x.kh; ++h)
      dst[h] = word(src[2 * h], 2 * h + 1 < p.K ? src[2 * h + 1] : 0.0f);
  }
}

/// Step 1 for trans_a (a stored [K, M]): words [h0, h1) of every row.
inline void roundColumns(const Args &x, int64_t bt, int64_t h0, int64_t h1) {
  const Problem &p = *x.pb;
  Word *tiles = x.wa + bt * x.aWords;
  auto at = [&](int64_t m, int64_t h) -> Word & {
    const int64_t block = m / kRowBlock, in = m % kRowBlock;
    const int64_t t = block * kTilesPerBlock + in / kMR;
    return tiles[(t * x.kh + h) * kMR + in % kMR];
  };
  const float *a = x.a + bt * p.K * p.M;
  const int64_t full = p.M / kW * kW;
  for (int64_t h = h0; h < h1; ++h) {
    const float *even = a + 2 * h * p.M;
    const bool odd = 2 * h + 1 < p.K;
    for (int64_t m = 0; m < full; m += kW) {
      const VU w = interleave(load(even + m), odd ? load(even + p.M + m) : V{});
      for (int l = 0; l < kW; ++l)
        at(m + l, h) = w[l];
    }
    for (int64_t m = full; m < p.M; ++m)
      at(m, h) = word(even[m], odd ? even[p.M + m] : 0.0f);
  }
}

/// Step 2: words [h0, h1) of panel pj of batch element bt, at `panel`
/// (kNR words a row).
inline void roundPanel(const Args &x, int64_t bt, int64_t pj, int64_t h0,
                       int64_t h1, Word *panel) {
  const Problem &p = *x.pb;
  const int64_t j0 = pj * kNR;
  const int cols = static_cast<int>(std::min<int64_t>(kNR, p.N - j0));
  const float *b = x.b + bt * p.K * p.N;
  if (p.transB) {
    // b [N, K]: each column's words as a row, then transposed.
    const int64_t kh = h1 - h0;
    Word *rows =
        reinterpret_cast<Word *>(threadScratch(static_cast<size_t>(kNR * kh)));
    const int64_t full = h0 + (std::min(p.K / 2, h1) - h0) / kW * kW;
    for (int c = 0; c < cols; ++c) {
      const float *src = b + (j0 + c) * p.K;
      Word *dst = rows + c * kh - h0;
      for (int64_t h = h0; h < full; h += kW)
        store(dst + h, pairs(src + 2 * h));
      for (int64_t h = full; h < h1; ++h)
        dst[h] = word(src[2 * h], 2 * h + 1 < p.K ? src[2 * h + 1] : 0.0f);
    }
    transpose<false>(rows, kh, cols, static_cast<int>(kh), 1.0f, panel, kNR);
    if (cols < kNR)
      for (int64_t h = 0; h < kh; ++h)
        std::fill(panel + h * kNR + cols, panel + (h + 1) * kNR, Word{0});
    return;
  }
  for (int64_t h = h0; h < h1; ++h) {
    const float *even = b + 2 * h * p.N + j0;
    const bool odd = 2 * h + 1 < p.K;
    Word *dst = panel + (h - h0) * kNR;
    if (cols == kNR) {
      for (int v = 0; v < kNV; ++v)
        store(dst + v * kW, interleave(load(even + v * kW),
                                       odd ? load(even + p.N + v * kW) : V{}));
      continue;
    }
    for (int c = 0; c < kNR; ++c)
      dst[c] = c < cols ? word(even[c], odd ? even[p.N + c] : 0.0f) : 0;
  }
}

/// A grow-only buffer of words per thread and slot, apart from
/// threadScratch (step 2's transposes): slot 0 holds a call's operands
/// (its caller's), slot 1 a task's panel.
template <int Slot> inline Word *wordScratch(size_t words) {
  static thread_local std::vector<Word> buf;
  if (buf.size() < words)
    buf.resize(words);
  return buf.data();
}

/// Steps 1-2, task t: a's rows (or words) first, then b's panels.
inline void roundTask(void *ctx, int t) {
  const Args &x = *static_cast<const Args *>(ctx);
  const Problem &p = *x.pb;
  if (t < p.batch * x.aTasks) {
    const int64_t bt = t / x.aTasks, first = t % x.aTasks * x.aPerTask;
    if (p.transA)
      roundColumns(x, bt, first, std::min(x.kh, first + x.aPerTask));
    else
      roundRows(x, bt, first, std::min(p.M, first + x.aPerTask));
    return;
  }
  t -= static_cast<int>(p.batch * x.aTasks);
  const int64_t bt = t / x.panels, pj = t % x.panels;
  roundPanel(x, bt, pj, 0, x.kh, x.wb + bt * x.bWords + pj * x.kh * kNR);
}

/// Steps 4-5 for a tile of `mr` rows and `cols` columns: in place when it
/// is whole, else through copies of its rows of a (zero-padded; a partial
/// tile's missing rows are never written) and of its outputs.
inline void tile(const Problem &p, const Tile &t, int mr, int cols, bool last,
                 const float *bias) {
  if (mr == kMR && cols == kNR) {
    pairKernel<kMR>(t);
  } else {
    alignas(64) Word as[kBlockWords * kMR];
    alignas(64) float cs[kMR * kNR];
    for (int64_t h = 0; h < t.kh; ++h)
      for (int r = 0; r < kMR; ++r)
        as[h * kMR + r] = r < mr ? t.a[r * t.aRow + h * t.aK] : 0;
    if (t.accumulate)
      for (int r = 0; r < mr; ++r)
        std::copy(t.c + r * t.ldc, t.c + r * t.ldc + cols, cs + r * kNR);
    pairKernel<kMR>({t.kh, as, 1, kMR, t.b, cs, kNR, t.accumulate});
    for (int r = 0; r < mr; ++r)
      std::copy(cs + r * kNR, cs + r * kNR + cols, t.c + r * t.ldc);
  }
  if (last)
    gemv::detail::epilogue(p.epilogue, t.c, t.ldc, mr, cols, bias);
}

/// Steps 3-5: task t's outputs over the slice [hBegin, hEnd).
inline void task(void *ctx, int t) {
  const Args &x = *static_cast<const Args *>(ctx);
  const Problem &p = *x.pb;
  const int64_t perBatch = x.rowBlocks * x.panels;
  const int64_t bt = t / perBatch, rest = t % perBatch;
  const int64_t block = rest / x.panels, pj = rest % x.panels;
  const int64_t i0 = block * kRowBlock, j0 = pj * kNR;
  const int rows = static_cast<int>(std::min(kRowBlock, p.M - i0));
  const int cols = static_cast<int>(std::min<int64_t>(kNR, p.N - j0));
  // Row h of the panel at panel + h * kNR: rounded ahead (several row
  // blocks read it), or here, the slice's rows only.
  const Word *panel = nullptr;
  if (x.wb) {
    panel = x.wb + bt * x.bWords + pj * x.kh * kNR;
  } else {
    Word *mine = wordScratch<1>(static_cast<size_t>((x.hEnd - x.hBegin) * kNR));
    roundPanel(x, bt, pj, x.hBegin, x.hEnd, mine);
    panel = mine - x.hBegin * kNR;
  }
  const Word *wa = x.wa + bt * x.aWords;
  float *out = x.out + bt * p.M * p.N + j0;
  for (int64_t h0 = x.hBegin; h0 < x.hEnd; h0 += kBlockWords) {
    const int64_t kh = std::min(kBlockWords, x.hEnd - h0);
    const bool last = h0 + kh == x.kh;
    for (int i = 0; i < rows; i += kMR) {
      const int mr = std::min(kMR, rows - i);
      Tile tl{kh,  nullptr, 0, 0, panel + h0 * kNR, out + (i0 + i) * p.N,
              p.N, h0 > 0};
      if (p.transA) {
        tl.a = wa + ((block * kTilesPerBlock + i / kMR) * x.kh + h0) * kMR;
        tl.aRow = 1;
        tl.aK = kMR;
      } else {
        tl.a = wa + (i0 + i) * x.kh + h0;
        tl.aRow = x.kh;
        tl.aK = 1;
      }
      tile(p, tl, mr, cols, last, x.bias ? x.bias + j0 : nullptr);
    }
  }
}

/// out = a b (+ bias, then GELU) with a and b rounded to bf16, for every
/// batch element (Gemm.h's run, but for packed b, which it does not take).
inline void run(const Problem &p, const float *a, const float *b,
                const float *bias, float *out, ParallelFor pf) {
  if (detail::runTrivial(p, bias, out))
    return;
  Args x{&p, a, b, bias, out, nullptr, nullptr, (p.K + 1) / 2};
  x.rowBlocks = (p.M + kRowBlock - 1) / kRowBlock;
  x.panels = (p.N + kNR - 1) / kNR;
  x.aWords = p.transA ? x.rowBlocks * kTilesPerBlock * x.kh * kMR : p.M * x.kh;
  // A panel that one row block reads is rounded by the task that reads it,
  // into that thread's cache, rather than written out and read back: W1's
  // bf16 step took 437-515 ms (median of medians 468) against 457-549
  // (499) in 5 interleaved rounds on a 2-vCPU Zen 5.
  const bool panelsAhead = x.rowBlocks > 1;
  x.bWords = panelsAhead ? x.panels * x.kh * kNR : 0;
  Word *words =
      wordScratch<0>(static_cast<size_t>(p.batch * (x.aWords + x.bWords)));
  x.wa = words;
  x.wb = panelsAhead ? words + p.batch * x.aWords : nullptr;
  // Steps 1-2: a in runs of about 64 KB of floats, then b panel by panel.
  const int64_t lines = p.transA ? x.kh : p.M;
  const int64_t lineFloats = p.transA ? 2 * p.M : p.K;
  x.aPerTask =
      std::max<int64_t>(1, (16 << 10) / std::max<int64_t>(1, lineFloats));
  x.aTasks = (lines + x.aPerTask - 1) / x.aPerTask;
  gemv::detail::parallel(
      pf, static_cast<int>(p.batch * (x.aTasks + (panelsAhead ? x.panels : 0))),
      roundTask, &x);
  // Steps 3-5, a slice of K at a time.
  const int64_t rows = std::min(kRowBlock, p.M);
  const int64_t slice =
      std::max(kBlockWords, kSliceBytes / (rows * int64_t{sizeof(Word)}) /
                                kBlockWords * kBlockWords);
  for (x.hBegin = 0; x.hBegin < x.kh; x.hBegin += slice) {
    x.hEnd = std::min(x.kh, x.hBegin + slice);
    gemv::detail::parallel(
        pf, static_cast<int>(p.batch * x.rowBlocks * x.panels), task, &x);
  }
}

} // namespace GPTC_SIMD_ISA
} // namespace gptc::gemm::bf16

#endif // GPTC_BACKENDS_CPU_GEMMBF16_H
