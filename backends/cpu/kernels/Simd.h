//===- Simd.h - Vectors and the register-blocked micro-kernel ----*- C++
//-*-===//
//
// What the C++ kernels (FlashAttention.h, Gemm.h) share: vectors as GCC
// vector extensions, 16 floats with AVX-512 and 8 with AVX, so one source
// serves every ISA; polynomial exp2, log and tanh on them; a block
// transpose; and one register-blocked micro-kernel, C[r, :] += A[r, k] *
// B[k, :], that broadcasts an element of A against vectors of B.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_SIMD_H
#define GPTC_BACKENDS_CPU_SIMD_H

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

// Code differs per ISA while the symbols of inline functions and template
// instances would not; a per-ISA inline namespace keeps translation units
// built for different targets from sharing (and the linker from mixing)
// their copies.
#if defined(__AVX512F__)
#define GPTC_SIMD_ISA avx512
#elif defined(__AVX2__) && defined(__FMA__)
#define GPTC_SIMD_ISA avx2
#elif defined(__AVX__)
#define GPTC_SIMD_ISA avx
#else
#define GPTC_SIMD_ISA generic
#endif

namespace gptc::simd {
inline namespace GPTC_SIMD_ISA {

#if defined(__AVX512F__)
/// Floats per vector.
constexpr int kW = 16;
/// Micro-kernel shape: rows of A per call and vectors of B per call; 4 x 4
/// accumulators leave room in the 32 registers for B and the broadcast.
constexpr int kMR = 4, kNV = 4;
#elif defined(__AVX__)
constexpr int kW = 8;
// 6 x 2 accumulators + 2 of B + 1 broadcast fit the 16 ymm registers (4 x 3
// ran as fast on the EPYC below, 4 x 2 and 2 x 4 5% slower).
constexpr int kMR = 6, kNV = 2;
#else
// SSE (plain -O2): 16-byte vectors keep the platform's vector ABI.
constexpr int kW = 4;
constexpr int kMR = 4, kNV = 2;
#endif

/// Columns per micro-kernel call: the width of Gemm.h's panels of b.
constexpr int kNR = kNV * kW;

typedef float V __attribute__((vector_size(kW * sizeof(float))));
typedef int32_t VI __attribute__((vector_size(kW * sizeof(float))));
typedef uint32_t VU __attribute__((vector_size(kW * sizeof(float))));

constexpr float kLog2e = 1.4426950408889634f;
constexpr double kLn2 = 0.69314718055994530942;

/// The vector types at any element's alignment, allowed to alias it:
/// accesses through them are single unaligned moves. (A memcpy into a
/// 32-byte vector is two 16-byte stores and a stalled reload under GCC's
/// Haswell tuning, the AVX2 target's: 8x slower streams.)
typedef float VUnaligned
    __attribute__((vector_size(kW * sizeof(float)), aligned(4), may_alias));
typedef uint32_t VUUnaligned
    __attribute__((vector_size(kW * sizeof(float)), aligned(4), may_alias));

/// Unaligned vector access and lane-wise helpers.
inline V load(const float *p) {
  return *reinterpret_cast<const VUnaligned *>(p);
}
inline void store(float *p, V v) { *reinterpret_cast<VUnaligned *>(p) = v; }
inline V splat(float s) { return V{} + s; }
template <typename To, typename From> inline To bitCast(From from) {
  static_assert(sizeof(To) == sizeof(From), "bit casts keep the size");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}
inline V vmax(V a, V b) { return a > b ? a : b; }

/// A bfloat16: the high half of an fp32's bits (a generator's weights
/// packed at half the bytes, Gemm.h step 2b).
using Bf16 = uint16_t;
/// kW bf16 values as floats (exact: the low mantissa bits are zero). One
/// widening load and a shift; GCC's __builtin_convertvector of the same
/// split it in halves (AVX-512), and of int8 (below) went through memory.
inline V load(const Bf16 *p) {
#if defined(__AVX512F__)
  return reinterpret_cast<V>(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(
                            reinterpret_cast<const __m256i *>(p))),
                        16));
#elif defined(__AVX2__)
  return reinterpret_cast<V>(
      _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(
                            reinterpret_cast<const __m128i *>(p))),
                        16));
#else
  VU wide;
  for (int l = 0; l < kW; ++l)
    wide[l] = static_cast<uint32_t>(p[l]) << 16;
  return bitCast<V>(wide);
#endif
}

/// `f` rounded to the nearest bf16, ties to even; a NaN stays a NaN.
inline Bf16 toBf16(float f) {
  uint32_t u = bitCast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return static_cast<Bf16>((u >> 16) | 0x40);
  return static_cast<Bf16>((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

/// kW int8 values as floats.
inline V load(const int8_t *p) {
#if defined(__AVX512F__)
  return reinterpret_cast<V>(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i *>(p)))));
#elif defined(__AVX2__)
  return reinterpret_cast<V>(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
      _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p)))));
#else
  V r;
  for (int l = 0; l < kW; ++l)
    r[l] = static_cast<float>(p[l]);
  return r;
#endif
}

/// int8 panels: every kQBlock rows of K (zero past K) form a block of kNR
/// bf16 scales, one per column, then kQBlock x kNR int8, weight = scale *
/// q; the block is kQBlockRows rows of kNR bytes, 1.0625 bytes a weight
/// (as llama.cpp's Q8_0, whose blocks of 32 share an fp16 scale; bf16
/// widens with a shift on every ISA and spans fp32's range). The weights
/// go in groups of kQGroup rows, a column's kQGroup weights in consecutive
/// bytes: the operand of integer dot products (vpmaddubsw, vpdpbusd),
/// which sum four byte products into each 32-bit lane. Weight (k, c) of a
/// block is byte (k / 4 * kNR + c) * 4 + k % 4.
constexpr int kQBlock = 32;
constexpr int kQBlockRows = kQBlock + 2;
constexpr int kQGroup = 4;
/// Whether Gemv.h's step 5 (integer dot products) is built for this ISA.
#if defined(__AVX2__)
constexpr bool kIntDot = true;
#else
constexpr bool kIntDot = false;
#endif

/// Reading a packed panel (Gemm.h step 2b) as floats, a chunk of rows at a
/// time: `chunk(k0)` covers rows [k0, k0 + kRows) (all of K for one
/// chunk), and its `row(k, v)` is vector v of row k0 + k.

/// Panels of float or Bf16 elements: one chunk, each element a weight.
template <typename T> struct PlainPanel {
  static constexpr int64_t kRows = INT64_MAX;
  const T *p;
  struct Chunk {
    const T *p;
    V row(int64_t k, int v) const { return load(p + k * kNR + v * kW); }
  };
  Chunk chunk(int64_t k0) const { return {p + k0 * kNR}; }
};
using F32Panel = PlainPanel<float>;
using Bf16Panel = PlainPanel<Bf16>;

/// Chunks are the kQBlock-row blocks, their scales held in registers.
struct Int8Panel {
  static constexpr int64_t kRows = kQBlock;
  const int8_t *p;
  struct Chunk {
    const int8_t *q;
    V scale[kNV];
    /// Byte k % 4 of each column's group, sign-extended, times its scale.
    V row(int64_t k, int v) const {
      VI group = bitCast<VI>(load(reinterpret_cast<const float *>(
          q + (k / kQGroup * kNR + v * kW) * kQGroup)));
      const int shift = 8 * (kQGroup - 1 - static_cast<int>(k % kQGroup));
      return __builtin_convertvector((group << shift) >> 24, V) * scale[v];
    }
  };
  Chunk chunk(int64_t k0) const {
    const int8_t *block = p + k0 / kQBlock * kQBlockRows * kNR;
    Chunk c{block + 2 * kNR, {}};
    for (int v = 0; v < kNV; ++v)
      c.scale[v] = load(reinterpret_cast<const Bf16 *>(block) + v * kW);
    return c;
  }
};

/// The lane indices 0, 1, ..., kW - 1.
inline VI laneIota() {
  VI r{};
  for (int i = 0; i < kW; ++i)
    r[i] = i;
  return r;
}

/// `v` with the lanes where `keep` is false replaced by `fill`.
inline V select(VI keep, V v, V fill) { return keep ? v : fill; }

/// 2^x for x <= 127, 0 below -127 and for -inf. x = k + f with k the nearest
/// integer and |f| <= 1/2; 2^f is a degree-6 polynomial fitted for relative
/// error (1.6e-8 in exact arithmetic, below fp32 rounding), 2^k goes straight
/// into the exponent field. Reducing in base 2 is exact, so the Cody-Waite
/// split that e^x needs happens once, in the caller's log2(e) scale factor.
inline V exp2v(V x) {
  x = vmax(x, splat(-127.0f));
  // Truncation of a positive number is floor, hence round-half-up of x.
  VI biased = __builtin_convertvector(x + 127.5f, VI); // k + 127 in [0, 254]
  V f = x - (__builtin_convertvector(biased, V) - 127.0f);
  V p = splat(1.53458124e-4f);
  p = p * f + 1.33999309e-3f;
  p = p * f + 9.61848907e-3f;
  p = p * f + 5.55032864e-2f;
  p = p * f + 2.40226462e-1f;
  p = p * f + 6.93147182e-1f;
  p = p * f + 1.0f;
  // k = -127 gives a zero exponent field, a scale of 0: exp2(-inf) = 0.
  return p * bitCast<V>(biased << 23);
}

/// A grow-only, 64-byte aligned buffer per thread, so tasks allocate nothing
/// once a thread has seen the largest problem.
inline float *threadScratch(size_t floats) {
  struct Buffer {
    float *data = nullptr;
    size_t size = 0;
    ~Buffer() { ::operator delete(data, std::align_val_t(64)); }
  };
  static thread_local Buffer buf;
  if (buf.size < floats) {
    ::operator delete(buf.data, std::align_val_t(64));
    buf.data = static_cast<float *>(
        ::operator new(floats * sizeof(float), std::align_val_t(64)));
    buf.size = floats;
  }
  return buf.data;
}

/// `x` limited to [lo, hi].
constexpr int64_t clampTo(int64_t x, int64_t lo, int64_t hi) {
  return x < lo ? lo : x > hi ? hi : x;
}

/// a / b rounded down, for b > 0.
constexpr int64_t floorDiv(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/// `n` rounded up to a multiple of `m`.
constexpr int64_t roundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

#if defined(__GNUC__) && !defined(__clang__)
/// Lane l of the low (`High` false) or high half of the butterfly step that
/// swaps bit H of the row index with bit H of the column index.
template <int H, bool High, size_t... L>
inline VI butterflyMask(std::index_sequence<L...>) {
  return VI{(High ? ((L & H) ? int(kW + L) : int(L + H))
                  : ((L & H) ? int(kW + L - H) : int(L)))...};
}

/// Transposes the kW x kW block held as rows in `r`, one butterfly step per
/// bit of the index: log2(kW) * kW two-source shuffles.
template <int H = kW / 2> inline void transposeBlock(V (&r)[kW]) {
  const VI lo = butterflyMask<H, false>(std::make_index_sequence<kW>()),
           hi = butterflyMask<H, true>(std::make_index_sequence<kW>());
  for (int i = 0; i < kW; ++i)
    if (!(i & H)) {
      V a = r[i], b = r[i + H];
      r[i] = __builtin_shuffle(a, b, lo);
      r[i + H] = __builtin_shuffle(a, b, hi);
    }
  if constexpr (H > 1)
    transposeBlock<H / 2>(r);
}
#define GPTC_SIMD_SHUFFLE 1
#endif

/// dst[c * ldd + r] = scale * src[r * lds + c] for r < rows, c < cols;
/// without `Scaled`, a bit-exact copy of 32-bit elements of any type, in
/// whole kW x kW blocks of shuffles where it can: element by element, the
/// attention kernels' tile transposes and the GEMM's packing of a
/// transposed B would cost a fair share of their time.
template <bool Scaled = true>
inline void transpose(const void *srcBytes, ptrdiff_t lds, int rows, int cols,
                      float scale, void *dstBytes, ptrdiff_t ldd) {
  const float *src = static_cast<const float *>(srcBytes);
  float *dst = static_cast<float *>(dstBytes);
  auto one = [&](ptrdiff_t r, ptrdiff_t c) {
    if constexpr (Scaled)
      dst[c * ldd + r] = scale * src[r * lds + c];
    else
      std::memcpy(dst + c * ldd + r, src + r * lds + c, sizeof(float));
  };
  int fullRows = 0;
#ifdef GPTC_SIMD_SHUFFLE
  fullRows = rows / kW * kW;
  const int fullCols = cols / kW * kW;
  for (ptrdiff_t r0 = 0; r0 < fullRows; r0 += kW) {
    for (ptrdiff_t c0 = 0; c0 < fullCols; c0 += kW) {
      V blk[kW];
      for (int i = 0; i < kW; ++i) {
        blk[i] = load(src + (r0 + i) * lds + c0);
        if constexpr (Scaled)
          blk[i] *= scale;
      }
      transposeBlock(blk);
      for (int i = 0; i < kW; ++i)
        store(dst + (c0 + i) * ldd + r0, blk[i]);
    }
    for (ptrdiff_t r = r0; r < r0 + kW; ++r)
      for (ptrdiff_t c = fullCols; c < cols; ++c)
        one(r, c);
  }
#endif
  for (ptrdiff_t r = fullRows; r < rows; ++r)
    for (ptrdiff_t c = 0; c < cols; ++c)
      one(r, c);
}

/// The dot product of two rows of D floats, in vectors, in a fixed order.
template <int D> inline float dot(const float *a, const float *b) {
  constexpr int full = D / kW * kW;
  V acc{};
  for (int d = 0; d < full; d += kW)
    acc += load(a + d) * load(b + d);
  float s = 0;
  for (int l = 0; l < kW; ++l)
    s += acc[l];
  for (int d = full; d < D; ++d)
    s += a[d] * b[d];
  return s;
}

/// ln x for positive normal x: x = 2^e m with m in [0.75, 1.5), and
/// ln m = 2 atanh(t), t = (m - 1) / (m + 1), by its odd series to t^9.
inline V logv(V x) {
  VI bits = bitCast<VI>(x);
  VI e = (bits - 0x3f400000) >> 23;
  V m = bitCast<V>(bits - (e << 23));
  V t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  V p = splat(2.0f / 9);
  p = p * t2 + 2.0f / 7;
  p = p * t2 + 2.0f / 5;
  p = p * t2 + 2.0f / 3;
  p = p * t2 + 2.0f;
  return __builtin_convertvector(e, V) * float(kLn2) + t * p;
}

/// tanh x = 1 - 2 / (e^2x + 1), with its odd series near 0 where that
/// difference cancels; about 1e-7 absolute error. Saturates to +-1 beyond
/// |x| = 9 (tanh 9 rounds to 1 in fp32), so infinities give +-1.
inline V tanhv(V x) {
  V xc = x > 9.0f ? splat(9.0f) : x;
  xc = xc < -9.0f ? splat(-9.0f) : xc;
  V e = exp2v(xc * (2.0f * kLog2e));
  V x2 = x * x;
  V series =
      x * (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315))));
  V big = 1.0f - 2.0f / (e + 1.0f);
  V ax = x < 0.0f ? -x : x;
  return ax < 0.125f ? series : big;
}

//===----------------------------------------------------------------------===//
// The micro-kernel
//===----------------------------------------------------------------------===//

/// C (m x nv vectors) = or += A (m x k) B (k x nv vectors).
struct Gemm {
  Gemm(int m, int nv, int k, const float *a, ptrdiff_t aRow, ptrdiff_t aK,
       const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, bool accumulate)
      : m(m), nv(nv), k(k), a(a), aRow(aRow), aK(aK), b(b), ldb(ldb), c(c),
        ldc(ldc), accumulate(accumulate) {}

  int m, nv, k;
  /// A(r, i) = a[r * aRow + i * aK]; the strides make A^T free.
  const float *a;
  ptrdiff_t aRow, aK;
  /// Row i of B starts at b + i * ldb; all nv vectors must be readable.
  const float *b;
  ptrdiff_t ldb;
  float *c;
  ptrdiff_t ldc;
  bool accumulate;
  /// With accumulate, C is first multiplied column-wise by this row (the
  /// online softmax's rescale); null for none.
  const float *colScale = nullptr;
  /// Floats of C's last vector that exist; the rest is neither read nor
  /// written (a head dim that is not a multiple of kW).
  int lastCols = kW;
  /// Row i's lines at prefetch + i * ldb are asked for as row i of B is
  /// read, so a first sweep over B from memory hides the latency of those
  /// further on; null for none.
  const float *prefetch = nullptr;
};

/// Makes `v` live in a register at this point, which compilers cannot see
/// through.
inline void pinToRegister(V &v) {
#if defined(__x86_64__) || defined(__i386__)
  asm("" : "+v"(v));
#elif defined(__aarch64__)
  asm("" : "+w"(v));
#else
  (void)v;
#endif
}

/// One MR x NV block of C at row `i0`, vector `v0`. `Ragged`: the block's
/// last vector is C's last, and partial.
/// Kept out of line: inlined into a task, it competes with the task's own
/// values for registers and spills accumulators (flash attention's backward
/// ran 30% slower on a 2-core AVX-512 EPYC).
template <int MR, int NV, bool Ragged>
__attribute__((noinline)) void microKernel(const Gemm &g, int i0, int v0) {
  V acc[MR][NV];
  float *c = g.c + i0 * g.ldc + v0 * kW;
  if (g.accumulate) {
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        if (Ragged && v == NV - 1) {
          acc[r][v] = V{};
          for (int l = 0; l < g.lastCols; ++l)
            acc[r][v][l] = c[r * g.ldc + v * kW + l];
        } else {
          acc[r][v] = load(c + r * g.ldc + v * kW);
        }
        if (g.colScale)
          acc[r][v] *= load(g.colScale + (v0 + v) * kW);
      }
  } else {
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        acc[r][v] = V{};
  }
  const float *a = g.a + i0 * g.aRow;
  const float *b = g.b + v0 * kW;
  const float *ahead = g.prefetch ? g.prefetch + v0 * kW : nullptr;
  for (int k = 0; k < g.k; ++k, a += g.aK, b += g.ldb) {
    if (ahead) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; v += std::max(1, 16 / kW)) // a line each
        __builtin_prefetch(ahead + v * kW, 0, 3);
      ahead += g.ldb;
    }
    V bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      bv[v] = load(b + v * kW);
      // Without this GCC folds the load into each of the MR FMAs using it,
      // which makes the kernel load-bound (16 vector loads per 16 FMAs).
      pinToRegister(bv[v]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      float s = a[r * g.aRow];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        acc[r][v] += s * bv[v];
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      if (Ragged && v == NV - 1) {
        for (int l = 0; l < g.lastCols; ++l)
          c[r * g.ldc + v * kW + l] = acc[r][v][l];
      } else {
        store(c + r * g.ldc + v * kW, acc[r][v]);
      }
    }
}

/// Picks the micro-kernel for a block of `mr` <= MR rows, `nv` <= NV vectors.
template <int MR, int NV>
inline void dispatchKernel(int mr, int nv, bool ragged, const Gemm &g, int i,
                           int v) {
  if constexpr (MR > 1)
    if (mr < MR)
      return dispatchKernel<MR - 1, NV>(mr, nv, ragged, g, i, v);
  if constexpr (NV > 1)
    if (nv < NV)
      return dispatchKernel<MR, NV - 1>(mr, nv, ragged, g, i, v);
  if (ragged)
    microKernel<MR, NV, true>(g, i, v);
  else
    microKernel<MR, NV, false>(g, i, v);
}

/// Runs `g` block by block; the summation order over k is the same for every
/// element, whatever the block shape.
inline void gemm(const Gemm &g) {
  for (int i = 0; i < g.m; i += kMR)
    for (int v = 0; v < g.nv; v += kNV) {
      int nv = std::min(kNV, g.nv - v);
      dispatchKernel<kMR, kNV>(std::min(kMR, g.m - i), nv,
                               g.lastCols < kW && v + nv == g.nv, g, i, v);
    }
}

} // namespace GPTC_SIMD_ISA
} // namespace gptc::simd

#endif // GPTC_BACKENDS_CPU_SIMD_H
