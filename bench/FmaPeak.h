//===- FmaPeak.h - The machine's measured fp32 FMA peak and bandwidth -*- C++
//-*-===//
//
// Performance is reported as a fraction of what this machine can do, so the
// peak is measured in the same run rather than taken from a data sheet:
// independent FMA chains, enough to hide latency, on every thread. Each ISA
// has its own probe (compiled for it with a target attribute), so a run
// forced to AVX2 on an AVX-512 machine is compared with the AVX2 peak.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BENCH_FMAPEAK_H
#define GPTC_BENCH_FMAPEAK_H

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace gptc::bench {

enum class Isa { Avx2, Avx512 };

inline const char *isaName(Isa isa) {
  return isa == Isa::Avx512 ? "AVX-512" : "AVX2";
}

/// The widest of the two this CPU runs.
inline Isa nativeIsa() {
  return __builtin_cpu_supports("avx512f") ? Isa::Avx512 : Isa::Avx2;
}

constexpr long kPeakIters = 20'000'000;
constexpr int kChains = 12;

__attribute__((target("avx2,fma"))) inline float fmaChainsAvx2() {
  __m256 acc[kChains];
  for (auto &a : acc)
    a = _mm256_set1_ps(1.0f);
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < kPeakIters; ++i)
    for (auto &a : acc)
      a = _mm256_fmadd_ps(a, x, y);
  float s = 0;
  for (auto &a : acc)
    s += _mm256_cvtss_f32(a);
  return s;
}

__attribute__((target("avx512f"))) inline float fmaChainsAvx512() {
  __m512 acc[kChains];
  for (auto &a : acc)
    a = _mm512_set1_ps(1.0f);
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < kPeakIters; ++i)
    for (auto &a : acc)
      a = _mm512_fmadd_ps(a, x, y);
  float s = 0;
  for (auto &a : acc)
    s += _mm512_cvtss_f32(a);
  return s;
}

/// vdpbf16ps chains: each lane adds two bf16 products a step.
__attribute__((target("avx512f,avx512bf16"))) inline float bf16DotChains() {
  __m512 acc[kChains];
  for (auto &a : acc)
    a = _mm512_set1_ps(1.0f);
  const __m512bh x =
      _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-7f), _mm512_set1_ps(1e-7f));
  for (long i = 0; i < kPeakIters; ++i)
    for (auto &a : acc)
      a = _mm512_dpbf16_ps(a, x, x);
  float s = 0;
  for (auto &a : acc)
    s += _mm512_cvtss_f32(a);
  return s;
}

/// Runs `work(thread)` on `threads` threads; the wall time in seconds.
template <typename F> double timeThreads(int threads, F work) {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back(work, t);
  for (auto &t : pool)
    t.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// fp32 GFLOP/s of `threads` threads doing nothing but `isa` FMAs: the
/// best of 7 runs, since a shared (virtual) machine only ever slows one.
inline double fmaPeak(int threads, Isa isa = nativeIsa()) {
  std::vector<float> sinks(threads);
  int lanes = isa == Isa::Avx512 ? 16 : 8;
  double best = 0;
  for (int run = 0; run < 7; ++run) {
    double secs = timeThreads(threads, [&](int t) {
      sinks[t] = isa == Isa::Avx512 ? fmaChainsAvx512() : fmaChainsAvx2();
    });
    best = std::max(best, threads * double(kPeakIters) * kChains * lanes * 2 /
                              secs / 1e9);
  }
  return best;
}

/// Whether this CPU has AVX512-BF16's dot products (bf16 training).
inline bool hasBf16Dot() { return __builtin_cpu_supports("avx512bf16"); }

/// GFLOP/s (a product and its add are two) of `threads` threads doing
/// nothing but vdpbf16ps, best of 7 runs: the peak of bf16 mixed-precision
/// products. 0 without AVX512-BF16.
inline double bf16DotPeak(int threads) {
  if (!hasBf16Dot())
    return 0;
  std::vector<float> sinks(threads);
  double best = 0;
  for (int run = 0; run < 7; ++run) {
    double secs =
        timeThreads(threads, [&](int t) { sinks[t] = bf16DotChains(); });
    best = std::max(best, threads * double(kPeakIters) * kChains * 16 * 4 /
                              secs / 1e9);
  }
  return best;
}

/// Copy bandwidth in GB/s (bytes read + written) of `threads` threads each
/// copying its share of a 1 GiB buffer, best of 5 passes: the bound for
/// work that streams tensors in and out (elementwise kernels).
inline double copyBandwidth(int threads) {
  constexpr size_t kBytes = size_t(1) << 30;
  std::vector<char> src(kBytes, 1), dst(kBytes, 0);
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    double secs = timeThreads(threads, [&](int t) {
      size_t share = kBytes / threads, begin = t * share;
      std::memcpy(dst.data() + begin, src.data() + begin, share);
    });
    best = std::max(best, 2.0 * kBytes / secs / 1e9);
  }
  return best;
}

/// Sums `n` floats from `p` with 8-wide vector adds.
__attribute__((target("avx2"))) inline float sumAvx2(const float *p, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(p + i));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(p + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_loadu_ps(p + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_loadu_ps(p + i + 24));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  return _mm256_cvtss_f32(s);
}

/// Read bandwidth in GB/s of `threads` threads each summing its share of a
/// 1 GiB buffer, best of 5 passes: the bound for work that reads every
/// weight once and writes little (decoding reads the model per token).
inline double readBandwidth(int threads) {
  constexpr size_t kFloats = (size_t(1) << 30) / sizeof(float);
  std::vector<float> src(kFloats, 1.0f);
  std::vector<float> sinks(threads);
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    double secs = timeThreads(threads, [&](int t) {
      size_t share = kFloats / threads;
      sinks[t] = sumAvx2(src.data() + t * share, share);
    });
    best = std::max(best, kFloats * sizeof(float) / secs / 1e9);
  }
  return best;
}

} // namespace gptc::bench

#endif // GPTC_BENCH_FMAPEAK_H
