//===- FmaPeak.h - The machine's measured fp32 FMA peak ---------*- C++ -*-===//
//
// Performance is reported as a fraction of what this machine can do, so the
// peak is measured in the same run rather than taken from a data sheet:
// independent FMA chains, enough to hide latency, on every thread. Built
// with -march=native: AVX-512 where the machine has it, else AVX2.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BENCH_FMAPEAK_H
#define GPTC_BENCH_FMAPEAK_H

#include <immintrin.h>

#include <chrono>
#include <thread>
#include <vector>

namespace gptc::bench {

#ifdef __AVX512F__
using Vec = __m512;
constexpr int kLanes = 16;
inline Vec splat(float x) { return _mm512_set1_ps(x); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float first(Vec v) { return _mm512_cvtss_f32(v); }
constexpr const char *kIsa = "AVX-512";
#else
using Vec = __m256;
constexpr int kLanes = 8;
inline Vec splat(float x) { return _mm256_set1_ps(x); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float first(Vec v) { return _mm256_cvtss_f32(v); }
constexpr const char *kIsa = "AVX2";
#endif

/// fp32 GFLOP/s of `threads` threads doing nothing but FMAs.
inline double fmaPeak(int threads) {
  constexpr long kIters = 20'000'000;
  constexpr int kChains = 12;
  auto work = [](float *sink) {
    Vec acc[kChains];
    for (auto &a : acc)
      a = splat(1.0f);
    const Vec x = splat(0.999999f), y = splat(1e-7f);
    for (long i = 0; i < kIters; ++i)
      for (auto &a : acc)
        a = fma(a, x, y);
    float s = 0;
    for (auto &a : acc)
      s += first(a);
    *sink = s;
  };
  std::vector<float> sinks(threads);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back(work, &sinks[t]);
  for (auto &t : pool)
    t.join();
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return threads * double(kIters) * kChains * kLanes * 2 / secs / 1e9;
}

} // namespace gptc::bench

#endif // GPTC_BENCH_FMAPEAK_H
