//===- Gemm.h - Matrix products near the FMA peak ---------------*- C++ -*-===//
//
// The matmul family's kernel: out [M, N] = a [M, K] b [K, N] (+ bias, then
// GELU), optionally transposed operands and a batch of independent
// products. Header-only C++, compiled per target by gptc-kernelgen
// (MatmulKernel.cpp) and for the host by the unit tests; products of a few
// rows go to Gemv.h, which streams the weights once.
//
// Algorithm, per batch element:
//  1. Tasks are (block of kRowBlock rows, panel of kNR columns). A task owns
//     its outputs and sums every one over k in the same order, so the result
//     does not depend on the thread count; panels of few columns give skinny
//     products (N = 64) as many tasks as wide ones.
//  2. The task packs its panel of b, K rows of kNR floats, zero past N; the
//     packing absorbs trans_b (block transposes). The panel is read once per
//     row tile, from L2. With at most kInPlaceRows rows (prefill) an upright
//     panel is read in place instead: too few tiles reuse it to repay the
//     copy.
//  3. K is cut into blocks of kKc rows, so the kKc x kNR slice of the panel
//     in use stays in L1 while the row tiles of the block sweep it.
//  3b. A long K is also cut into slices, each one parallel sweep of all
//     tasks, so a row block's share of a stays in L2 while the panels
//     reuse it. With lm_head's input gradient (K = 50257) on a 2-vCPU Zen
//     5, 50-56 ms instead of 60-66 with AVX-512, 100-114 instead of 119-134
//     with AVX2.
//  4. Each tile of kMR rows runs Simd.h's micro-kernel: accumulators in
//     registers, a's rows read in place and broadcast against the panel's
//     vectors.
//  5. After the last K block the epilogue (bias, GELU) runs on the tile
//     while it is in L1.
//  2b. b packed ahead of time (packB: a generator's weights, packed once
//     when loaded, as step 2 packs them, one panel after the other): a
//     task takes a run of panels and reads each where it lies. A panel
//     read from memory (packed, or in place) is fetched by the first tile
//     of each K block, which asks for the lines kPrefetchRows rows ahead
//     as it goes. With 16 rows, one thread, cold caches, GPT-2's products
//     on a 2-vCPU Zen 5 ran at 54-69% of the AVX2 peak against 28-40% for
//     step 2's in-place panels.
//  6. trans_a (weight gradients, a stored [K, M]): read in place, a tile's
//     column of kMR floats per k lies M floats from the next, so for
//     M = 768 or 3072 a K block's column maps to a few L1 sets and misses
//     on every k. A task instead covers kPanelsA panels, packs its rows of
//     a per K block as contiguous kc x kMR tiles, and runs steps 2-5 on
//     each panel's slice of the block with the packed tiles.
//
// Measured on a 2-core AMD EPYC (Zen 4), one thread, GPT-2 124M's W1
// forward and backward shapes (M = 256): 76-95% of the FMA peak with
// AVX-512 and 68-87% forced to AVX2 (gptc-bench-matmul), against 68-81%
// with AVX-512 for the Halide schedule this replaced.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_GEMM_H
#define GPTC_BACKENDS_CPU_GEMM_H

#include "Gemv.h"
#include "Simd.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace gptc::gemm {

using gemv::Epilogue;
using gemv::ParallelFor;

struct Problem {
  int64_t batch; ///< Independent products, each operand's outermost dim.
  int64_t M, K, N;
  bool transA; ///< a stored [K, M].
  bool transB; ///< b stored [N, K].
  Epilogue epilogue;
  /// b as packB wrote it (transB then only says how b was stored); not
  /// with transA or a batch.
  bool packedB = false;
  /// The element type of packB's panels: bf16 (rounded to nearest even)
  /// or int8 (Simd.h's Int8Panel) ones are widened to fp32 as read.
  gemv::Weights weights = gemv::Weights::F32;
};

inline namespace GPTC_SIMD_ISA {

namespace detail {

using namespace gptc::simd;

/// Rows per task: enough row tiles to amortize packing the panel, few
/// enough that a [kRowBlock, K] block of a stays in L2.
constexpr int64_t kRowBlock = 256;
/// Rows of the panel per K block. 256 and the whole K (768) ran within
/// noise of each other on the EPYC above; 128 was slower.
constexpr int64_t kKc = 256;
/// Row blocks of at most this many rows read an upright b in place. On the
/// EPYC above, 16-row products with b in L3 ran at 78-94% of the AVX-512
/// peak instead of 40-60%; with b streamed from memory, one thread, AVX2's
/// 16-float panels took 1.9 ms instead of 3.0 for GPT-2's c_fc (AVX2
/// reading b in L3 in place was 30% slower, but prefill's weights are not
/// there).
constexpr int kInPlaceRows = 32;
/// A second micro-kernel height, for the last tile of row counts that are
/// powers of two when kMR is not (AVX2's 6: 256 rows end in a tile of 4),
/// and kMR itself (no second instance) otherwise. Through edgeTile's
/// scratch that tile cost 5-7% of W1's products on AVX2; an instance per
/// height would make each matmul kernel compile 2-3 s.
constexpr int kShortMR = kMR % 4 == 0 ? kMR : 4;
/// How far ahead of its reads the first tile of a K block fetches the
/// panel from memory: 8 KB. On a 2-vCPU Zen 5, 16-row products over a
/// packed panel took 1.3x (AVX2) and 1.15x (AVX-512) less time than
/// without; 1-4 KB ahead, or a whole K block (16-64 KB), gained less.
constexpr int64_t kPrefetchRows = 8192 / (kNR * sizeof(float));
/// Panels per task of a trans_a product (step 6): 256 columns, so packing
/// a costs one float copied per 512 FLOPs; fewer when that leaves under
/// kMinTasks tasks to balance across threads. (On the EPYC above, one
/// thread, 128 columns ran a few percent slower on the dW shapes, AVX2 and
/// AVX-512 alike, within the machine's noise.)
constexpr int64_t kPanelsA = std::max(1, 256 / kNR);
/// The fewest tasks that several panels per task (trans_a, packed b) may
/// leave.
constexpr int64_t kMinTasks = 16;

struct Args {
  const Problem *pb;
  const float *a, *b, *bias;
  float *out;
  int64_t rowBlocks, panels;
  int64_t panelsPerTask;        ///< trans_a (step 6), packed b (step 2b)
  int64_t kBegin = 0, kEnd = 0; ///< The K slice of step 3b.
};

/// Step 2: rows [k0, k0 + kc) of columns [j0, j0 + cols) of b as a
/// kc x kNR panel.
inline void packPanel(const Problem &p, const float *b, int64_t k0, int64_t kc,
                      int64_t j0, int cols, float *panel) {
  if (cols < kNR)
    for (int64_t k = 0; k < kc; ++k)
      std::fill(panel + k * kNR + cols, panel + (k + 1) * kNR, 0.0f);
  if (p.transB) {
    // b [N, K]: its rows j0.. become the panel's columns.
    for (int64_t k = 0; k < kc; k += kKc)
      transpose<false>(b + j0 * p.K + k0 + k, p.K, cols,
                       static_cast<int>(std::min(kKc, kc - k)), 1.0f,
                       panel + k * kNR, kNR);
    return;
  }
  for (int64_t k = 0; k < kc; ++k)
    std::memcpy(panel + k * kNR, b + (k0 + k) * p.N + j0, cols * sizeof(float));
}

/// Step 2b: rows [i0, i0 + rows) of a stored [K, M], K rows [k0, k0 + kc),
/// as kMR-row tiles of kc x kMR floats (zero past `rows`). K goes in steps
/// of 8 rows, whose lines of a stay in L1 while every tile takes its part:
/// a tile at a time would read each line once per tile.
inline void packTransA(const Problem &p, const float *a, int64_t i0, int rows,
                       int64_t k0, int kc, float *packed) {
  constexpr int kStep = 8;
  for (int ks = 0; ks < kc; ks += kStep) {
    const int steps = std::min(kStep, kc - ks);
    const float *src = a + (k0 + ks) * p.M + i0;
    for (int i = 0; i < rows; i += kMR) {
      const int mr = std::min(kMR, rows - i);
      float *dst = packed + i * kc + ks * kMR;
      if (mr == kMR && steps == kStep) {
        for (int k = 0; k < kStep; ++k)
          std::memcpy(dst + k * kMR, src + k * p.M + i, kMR * sizeof(float));
        continue;
      }
      for (int k = 0; k < steps; ++k)
        for (int r = 0; r < kMR; ++r)
          dst[k * kMR + r] = r < mr ? src[k * p.M + i + r] : 0.0f;
    }
  }
}

/// A tile of `mr` <= kMR rows and `cols` <= kNR columns through the one
/// full-size micro-kernel: its rows of a and its outputs are copied into
/// zero-padded scratch. (An instance per partial shape made each matmul
/// kernel take 2-3 s to compile.)
inline void edgeTile(const Problem &p, int kc, int mr, int cols, const float *a,
                     ptrdiff_t aRow, ptrdiff_t aK, const float *panel,
                     ptrdiff_t ldb, float *c, bool accumulate) {
  alignas(64) float as[kKc * kMR], cs[kMR * kNR];
  std::fill(as, as + kc * kMR, 0.0f);
  for (int k = 0; k < kc; ++k)
    for (int r = 0; r < mr; ++r)
      as[k * kMR + r] = a[r * aRow + k * aK];
  if (accumulate)
    for (int r = 0; r < mr; ++r)
      std::memcpy(cs + r * kNR, c + r * p.N, cols * sizeof(float));
  microKernel<kMR, kNV, false>(
      Gemm(kMR, kNV, kc, as, 1, kMR, panel, ldb, cs, kNR, accumulate), 0, 0);
  for (int r = 0; r < mr; ++r)
    std::memcpy(c + r * p.N, cs + r * kNR, cols * sizeof(float));
}

/// Steps 4-5 for one tile: a micro-kernel instance in place when one has
/// its height and the panel is full, edgeTile otherwise; after the last K
/// block, the epilogue.
inline void tile(const Problem &p, int kc, int mr, int cols, const float *a,
                 ptrdiff_t aRow, ptrdiff_t aK, const float *panel,
                 ptrdiff_t ldb, float *c, bool accumulate, bool last,
                 const float *bias, const float *prefetch = nullptr) {
  Gemm g(mr, kNV, kc, a, aRow, aK, panel, ldb, c, p.N, accumulate);
  g.prefetch = prefetch;
  if (mr == kMR && cols == kNR)
    microKernel<kMR, kNV, false>(g, 0, 0);
  else if (mr == kShortMR && cols == kNR)
    microKernel<kShortMR, kNV, false>(g, 0, 0);
  else
    edgeTile(p, kc, mr, cols, a, aRow, aK, panel, ldb, c, accumulate);
  if (last)
    gemv::detail::epilogue(p.epilogue, c, p.N, mr, cols, bias);
}

/// Steps 4-5 over K rows [k0, k0 + kc) of one panel (rows [i0, i0 + rows)
/// of a, `cols` columns at `out`, the block's panel rows at `block`): the
/// row tiles in turn; the first asks for the rows at `prefetch` (if any).
inline void blockTiles(const Problem &p, const float *a, int64_t i0, int rows,
                       int cols, int64_t k0, int kc, const float *block,
                       ptrdiff_t ldb, float *out, const float *bias,
                       const float *prefetch) {
  // A(r, k) = a[r * aRow + k * aK].
  const ptrdiff_t aRow = p.K, aK = 1;
  const bool last = k0 + kc == p.K;
  for (int i = 0; i < rows; i += kMR) {
    const int mr = std::min(kMR, rows - i);
    tile(p, kc, mr, cols, a + (i0 + i) * aRow + k0 * aK, aRow, aK, block, ldb,
         out + (i0 + i) * p.N, k0 > 0, last, bias, i == 0 ? prefetch : nullptr);
  }
}

/// Steps 3-5 over one panel (rows [i0, i0 + rows) of a, `cols` columns
/// at `out`): K blocks, each swept by the row tiles. When the panel comes
/// from memory (`fromMemory`: read in place, or packed ahead), the first
/// tile of each block, the one that fetches it, asks for the rows
/// kPrefetchRows further on as it goes (step 2b).
inline void panelTiles(const Problem &p, const float *a, int64_t i0, int rows,
                       int cols, int64_t kBegin, int64_t kEnd,
                       const float *panel, ptrdiff_t ldb, float *out,
                       const float *bias, bool fromMemory) {
  panel -= kBegin * ldb; // the panel starts at row kBegin
  for (int64_t k0 = kBegin; k0 < kEnd; k0 += kKc)
    blockTiles(p, a, i0, rows, cols, k0,
               static_cast<int>(std::min(kKc, kEnd - k0)), panel + k0 * ldb,
               ldb, out, bias,
               fromMemory ? panel + (k0 + kPrefetchRows) * ldb : nullptr);
}

/// panelTiles over a packed panel of bf16 or int8 weights (Panel reads
/// it): each K block is widened into an L1 scratch block first.
template <typename Panel>
inline void widenedPanelTiles(const Problem &p, const float *a, int64_t i0,
                              int rows, int cols, const Panel &panel,
                              float *out, const float *bias) {
  static_assert(kKc % kQBlock == 0, "int8 blocks do not straddle K blocks");
  alignas(64) float block[kKc * kNR];
  for (int64_t k0 = 0; k0 < p.K; k0 += kKc) {
    const int kc = static_cast<int>(std::min(kKc, p.K - k0));
    for (int64_t c0 = 0; c0 < kc;) {
      const int64_t c1 = kc - c0 <= Panel::kRows ? kc : c0 + Panel::kRows;
      const auto chunk = panel.chunk(k0 + c0);
      for (int64_t k = c0; k < c1; ++k)
        for (int v = 0; v < kNV; ++v)
          store(block + k * kNR + v * kW, chunk.row(k - c0, v));
      c0 = c1;
    }
    blockTiles(p, a, i0, rows, cols, k0, kc, block, kNR, out, bias, nullptr);
  }
}

/// Step 3b: K rows per slice. A task reads its row block's a over all of
/// its slice once per panel; past L2 every panel re-reads it from L3, or
/// from memory when a is larger than L3 (lm_head's input gradient reads
/// dlogits [256, 50257], 51 MB, once per panel). Slices of K keep a
/// row block's share of a near kSliceBytes, so it stays in L2 across the
/// panels; the outputs then take one more read and write per slice.
/// Products that read b in place (few rows) keep all of K.
constexpr int64_t kSliceBytes = 1 << 20;
inline int64_t sliceRows(const Problem &p) {
  const int64_t rows = std::min(kRowBlock, p.M);
  if (rows <= kInPlaceRows)
    return p.K;
  const int64_t k = kSliceBytes / (rows * int64_t{sizeof(float)});
  return std::max(kKc, k / kKc * kKc);
}

/// Steps 1-5: task t's outputs.
inline void task(void *ctx, int t) {
  const Args &x = *static_cast<const Args *>(ctx);
  const Problem &p = *x.pb;
  const int64_t perBatch = x.rowBlocks * x.panels;
  const int64_t bt = t / perBatch, rest = t % perBatch;
  const int64_t i0 = rest / x.panels * kRowBlock, j0 = rest % x.panels * kNR;
  const int rows = static_cast<int>(std::min(kRowBlock, p.M - i0));
  const int cols = static_cast<int>(std::min<int64_t>(kNR, p.N - j0));
  const float *a = x.a + bt * p.M * p.K, *b = x.b + bt * p.K * p.N;

  // Few rows reuse the panel too little to repay packing it: a whole
  // panel of an upright b is read in place, so its reads from memory (the
  // weights, in prefill) overlap the FMAs instead of preceding them.
  const bool inPlace = !p.transB && cols == kNR && rows <= kInPlaceRows;
  const float *panel = b + x.kBegin * p.N + j0;
  ptrdiff_t ldb = p.N;
  if (!inPlace) {
    float *packed =
        threadScratch(static_cast<size_t>((x.kEnd - x.kBegin) * kNR));
    packPanel(p, b, x.kBegin, x.kEnd - x.kBegin, j0, cols, packed);
    panel = packed;
    ldb = kNR;
  }
  panelTiles(p, a, i0, rows, cols, x.kBegin, x.kEnd, panel, ldb,
             x.out + bt * p.M * p.N + j0, x.bias + j0, inPlace);
}

/// Step 2b: task t's outputs over a packed b, x.panelsPerTask panels.
inline void packedTask(void *ctx, int t) {
  const Args &x = *static_cast<const Args *>(ctx);
  const Problem &p = *x.pb;
  const int64_t groups = (x.panels + x.panelsPerTask - 1) / x.panelsPerTask;
  const int64_t i0 = t / groups * kRowBlock;
  const int64_t first = t % groups * x.panelsPerTask;
  const int64_t end = std::min(x.panels, first + x.panelsPerTask);
  const int rows = static_cast<int>(std::min(kRowBlock, p.M - i0));
  for (int64_t pj = first; pj < end; ++pj) {
    const int64_t j0 = pj * kNR;
    const int cols = static_cast<int>(std::min<int64_t>(kNR, p.N - j0));
    auto widened = [&](auto panel) {
      widenedPanelTiles(p, x.a, i0, rows, cols, panel, x.out + j0, x.bias + j0);
    };
    if (p.weights == gemv::Weights::F32)
      panelTiles(p, x.a, i0, rows, cols, 0, p.K, x.b + j0 * p.K, kNR,
                 x.out + j0, x.bias + j0, true);
    else if (p.weights == gemv::Weights::BF16)
      widened(gemv::detail::panelAt<Bf16Panel>(x.b, p.K, p.weights, pj));
    else
      widened(gemv::detail::panelAt<Int8Panel>(x.b, p.K, p.weights, pj));
  }
}

/// Step 6: task t's outputs of a trans_a product, x.panelsPerTask panels.
inline void transATask(void *ctx, int t) {
  const Args &x = *static_cast<const Args *>(ctx);
  const Problem &p = *x.pb;
  const int64_t groups = (x.panels + x.panelsPerTask - 1) / x.panelsPerTask;
  const int64_t perBatch = x.rowBlocks * groups;
  const int64_t bt = t / perBatch, rest = t % perBatch;
  const int64_t i0 = rest / groups * kRowBlock;
  const int64_t firstPanel = rest % groups * x.panelsPerTask;
  const int64_t endPanel = std::min(x.panels, firstPanel + x.panelsPerTask);
  const int rows = static_cast<int>(std::min(kRowBlock, p.M - i0));
  const int tiles = (rows + kMR - 1) / kMR;
  const float *a = x.a + bt * p.M * p.K, *b = x.b + bt * p.K * p.N;
  float *out = x.out + bt * p.M * p.N + i0 * p.N;

  float *packedA =
      threadScratch(static_cast<size_t>((tiles * kMR + kNR) * kKc));
  float *panel = packedA + tiles * kMR * kKc;
  for (int64_t k0 = 0; k0 < p.K; k0 += kKc) {
    const int kc = static_cast<int>(std::min(kKc, p.K - k0));
    const bool last = k0 + kc == p.K;
    packTransA(p, a, i0, rows, k0, kc, packedA);
    for (int64_t pj = firstPanel; pj < endPanel; ++pj) {
      const int64_t j0 = pj * kNR;
      const int cols = static_cast<int>(std::min<int64_t>(kNR, p.N - j0));
      packPanel(p, b, k0, kc, j0, cols, panel);
      for (int i = 0; i < rows; i += kMR) {
        const int mr = std::min(kMR, rows - i);
        const float *ai = packedA + i * kc;
        float *ci = out + i * p.N + j0;
        tile(p, kc, mr, cols, ai, 1, kMR, panel, kNR, ci, k0 > 0, last,
             x.bias + j0);
      }
    }
  }
}

/// An fp32 panel of K rows as int8 blocks (Simd.h's Int8Panel): per block
/// and column, scale = max |w| / 127 rounded up to a bf16, so that |q| <=
/// 127 and each weight is within half a step, and q = w / scale rounded to
/// nearest even (0 for an all-zero column).
inline void quantizePanel(const float *panel, int64_t K, int8_t *dst) {
  for (int64_t k0 = 0; k0 < K; k0 += kQBlock, dst += kQBlockRows * kNR) {
    const int64_t rows = std::min<int64_t>(kQBlock, K - k0);
    Bf16 *scales = reinterpret_cast<Bf16 *>(dst);
    int8_t *q = dst + 2 * kNR;
    for (int j = 0; j < kNR; ++j) {
      float amax = 0;
      for (int64_t k = 0; k < rows; ++k)
        amax = std::max(amax, std::fabs(panel[(k0 + k) * kNR + j]));
      uint32_t bits = bitCast<uint32_t>(amax / 127);
      bits = (bits + 0xffffu) >> 16; // up: a finite, non-negative scale
      scales[j] = static_cast<Bf16>(bits);
      const float scale = bitCast<float>(bits << 16),
                  inv = scale > 0 ? 1 / scale : 0;
      for (int64_t k = 0; k < kQBlock; ++k)
        q[(k / kQGroup * kNR + j) * kQGroup + k % kQGroup] =
            k < rows ? static_cast<int8_t>(std::nearbyint(std::clamp(
                           panel[(k0 + k) * kNR + j] * inv, -127.0f, 127.0f)))
                     : 0;
    }
  }
}

/// Panel t of packB: step 2's packing of its columns over all of K, then
/// encoded as p.weights says.
inline void packTask(void *ctx, int t) {
  const Args &x = *static_cast<const Args *>(ctx);
  const Problem &p = *x.pb;
  const int64_t j0 = t * kNR;
  const int cols = static_cast<int>(std::min<int64_t>(kNR, p.N - j0));
  char *dst = reinterpret_cast<char *>(x.out) +
              t * gemv::packedRows(p.K, p.weights) * kNR *
                  gemv::packedElementBytes(p.weights);
  if (p.weights == gemv::Weights::F32) {
    packPanel(p, x.b, 0, p.K, j0, cols, reinterpret_cast<float *>(dst));
    return;
  }
  float *panel = threadScratch(static_cast<size_t>(p.K * kNR));
  packPanel(p, x.b, 0, p.K, j0, cols, panel);
  if (p.weights == gemv::Weights::Int8) {
    quantizePanel(panel, p.K, reinterpret_cast<int8_t *>(dst));
    return;
  }
  Bf16 *bf16 = reinterpret_cast<Bf16 *>(dst);
  for (int64_t e = 0; e < p.K * kNR; ++e)
    bf16[e] = toBf16(panel[e]);
}

/// Runs a product without outputs (nothing) or without terms (the
/// epilogue of zeros); false for any other.
inline bool runTrivial(const Problem &p, const float *bias, float *out) {
  if (p.batch * p.M * p.N == 0)
    return true;
  if (p.K > 0)
    return false;
  std::fill(out, out + p.batch * p.M * p.N, 0.0f);
  gemv::detail::epilogue(p.epilogue, out, p.N, p.batch * p.M, p.N, bias);
  return true;
}

} // namespace detail

/// b, stored as p.transB says, as the panels a product with packedB reads:
/// ceil(N / kNR) panels of gemv::packedRows rows of kNR p.weights, zero
/// past N, at `packed`.
inline void packB(const Problem &p, const float *b, void *packed,
                  ParallelFor pf) {
  detail::Args args{&p, nullptr, b, nullptr, static_cast<float *>(packed),
                    0,  0,       0};
  gemv::detail::parallel(pf,
                         static_cast<int>((p.N + simd::kNR - 1) / simd::kNR),
                         detail::packTask, &args);
}

/// out = a b (+ bias, then GELU) for every batch element; dense row-major
/// fp32. Products of one matrix with at most gemv::kMaxRows rows take the
/// few-row path.
inline void run(const Problem &p, const float *a, const float *b,
                const float *bias, float *out, ParallelFor pf) {
  if (p.batch == 1 && !p.transA && p.M <= gemv::kMaxRows) {
    gemv::run({p.M, p.K, p.N, p.transB, p.epilogue, p.packedB, p.weights}, a, b,
              bias, out, pf);
    return;
  }
  if (detail::runTrivial(p, bias, out))
    return;
  detail::Args args{&p,
                    a,
                    b,
                    bias,
                    out,
                    (p.M + detail::kRowBlock - 1) / detail::kRowBlock,
                    (p.N + detail::kNR - 1) / detail::kNR,
                    detail::kPanelsA};
  auto tasks = [&] {
    return p.batch * args.rowBlocks *
           ((args.panels + args.panelsPerTask - 1) / args.panelsPerTask);
  };
  if (p.transA || p.packedB) {
    if (p.packedB)
      args.panelsPerTask =
          gemv::detail::packedPanelsPerTask(p.K, p.N, p.weights);
    while (args.panelsPerTask > 1 && tasks() < detail::kMinTasks)
      args.panelsPerTask /= 2;
    gemv::detail::parallel(pf, static_cast<int>(tasks()),
                           p.transA ? detail::transATask : detail::packedTask,
                           &args);
    return;
  }
  // Step 3b: K in slices, each a parallel sweep over all the tasks.
  const int64_t slice = detail::sliceRows(p);
  for (args.kBegin = 0; args.kBegin < p.K; args.kBegin += slice) {
    args.kEnd = std::min(p.K, args.kBegin + slice);
    gemv::detail::parallel(
        pf, static_cast<int>(p.batch * args.rowBlocks * args.panels),
        detail::task, &args);
  }
}

} // namespace GPTC_SIMD_ISA
} // namespace gptc::gemm

#endif // GPTC_BACKENDS_CPU_GEMM_H
