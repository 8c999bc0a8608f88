//===- MatmulBench.cpp - Generated matmul kernels vs the FMA peak ---------===//
//
// Times the Halide matmul kernels on GPT-2 124M's shapes (M = B*T = 256, as
// in workload W1) and prints GFLOP/s and the fraction of the machine's fp32
// FMA peak measured in the same run. Every result is checked against a
// double-precision reference on sampled entries before it is timed.
//
//   build/release/bench/gptc-bench-matmul [THREADS]
//
//===----------------------------------------------------------------------===//

#include "FmaPeak.h"

#include "mm_bench_plain.h"
#include "mm_bench_trans_b.h"

#include "HalideBuffer.h"
#include "HalideRuntime.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

using Halide::Runtime::Buffer;

namespace {

struct Shape {
  const char *what;
  int m, k, n;
  bool transB;
};

double checkSample(const Buffer<float> &a, const Buffer<float> &b,
                   const Buffer<float> &c, const Shape &s) {
  std::mt19937 rng(7);
  double worst = 0;
  for (int t = 0; t < 64; ++t) {
    int i = rng() % s.m, j = rng() % s.n;
    double ref = 0;
    for (int p = 0; p < s.k; ++p)
      ref += double(a(p, i)) * (s.transB ? b(p, j) : b(j, p));
    worst = std::max(worst, std::fabs(ref - c(j, i)) / (std::fabs(ref) + 1));
  }
  return worst;
}

} // namespace

int main(int argc, char **argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  halide_set_num_threads(threads);
  // The kernels are built for this machine: its widest ISA.
  gptc::bench::Isa isa = gptc::bench::nativeIsa();
  double peak = gptc::bench::fmaPeak(threads, isa);
  std::printf("fp32 FMA peak (%s, %d threads): %.1f GFLOP/s\n\n",
              gptc::bench::isaName(isa), threads, peak);
  std::printf("%-34s %6s %6s %6s %10s %9s %8s\n", "matmul", "M", "K", "N", "ms",
              "GFLOP/s", "of peak");
  const Shape shapes[] = {
      {"attn c_attn  x[256,768] W[768,2304]", 256, 768, 2304, false},
      {"mlp c_fc     x[256,768] W[768,3072]", 256, 768, 3072, false},
      {"mlp c_proj   x[256,3072] W[3072,768]", 256, 3072, 768, false},
      {"attn c_proj  x[256,768] W[768,768]", 256, 768, 768, false},
      {"lm_head      x[256,768] wte^T", 256, 768, 50257, true},
      {"c_attn at T=1024", 1024, 768, 2304, false},
      {"odd: T=7 rows, N=100", 7, 768, 100, false},
  };
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (const Shape &s : shapes) {
    Buffer<float> a(s.k, s.m), b(s.transB ? s.k : s.n, s.transB ? s.n : s.k),
        c(s.n, s.m);
    a.for_each_value([&](float &v) { v = dist(rng); });
    b.for_each_value([&](float &v) { v = dist(rng); });
    auto run = [&] {
      return s.transB ? mm_bench_trans_b(a, b, c) : mm_bench_plain(a, b, c);
    };
    if (run() != 0) {
      std::printf("kernel failed\n");
      return 1;
    }
    double err = checkSample(a, b, c, s);
    if (err > 1e-4) {
      std::printf("%s: WRONG RESULT (relative error %.2e)\n", s.what, err);
      return 1;
    }
    int reps = std::max(3, int(2e9 / (2.0 * s.m * s.n * s.k)));
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      run();
      best = std::min(best, std::chrono::duration<double>(
                                std::chrono::steady_clock::now() - t0)
                                .count());
    }
    double gflops = 2.0 * s.m * s.n * s.k / best / 1e9;
    std::printf("%-34s %6d %6d %6d %10.3f %9.1f %7.0f%%\n", s.what, s.m, s.k,
                s.n, best * 1e3, gflops, 100 * gflops / peak);
  }
  return 0;
}
