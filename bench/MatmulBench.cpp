//===- MatmulBench.cpp - Generated matmul kernels vs the FMA peak ---------===//
//
// Times the generated matmul kernels on GPT-2 124M's shapes (M = B*T = 256,
// as in workload W1: the forward's products, the backward's weight (x^T dy)
// and input (dy W^T) gradients) and prints GFLOP/s and the fraction of the
// fp32 FMA peak measured in the same run, for this machine's widest ISA and
// for AVX2 (the kernels built for cpu-avx2, against the AVX2 peak). Every
// result is checked against a double-precision reference on sampled
// entries before it is timed. "hot" is the best run with the operands left
// in cache by the previous one; "cold" the best after evicting them, as in
// a training step, where every product's operands come from memory.
// Rows marked "pk" read b as a generator does, packed once by the
// kernel's `_pack` (bf16, int8: as --weight-format packs them); "b GB/s" is
// b's bytes (as read) over the cold time, the figure that bounds products
// of a few rows. Then, where the CPU has AVX512-BF16, the training shapes
// again with bf16 operands (`precision = bf16`, mixed-precision training)
// against the vdpbf16ps peak.
//
//   build/release/bench/gptc-bench-matmul [THREADS]
//
//===----------------------------------------------------------------------===//

#include "FmaPeak.h"

#include "mm_bench_bf16_plain.h"
#include "mm_bench_bf16_trans_a.h"
#include "mm_bench_bf16_trans_b.h"
#include "mm_bench_plain.h"
#include "mm_bench_plain_avx2.h"
#include "mm_bench_trans_a.h"
#include "mm_bench_trans_a_avx2.h"
#include "mm_bench_trans_b.h"
#include "mm_bench_trans_b_avx2.h"

#include "HalideBuffer.h"
#include "HalideRuntime.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

using Halide::Runtime::Buffer;

namespace {

struct Shape {
  const char *what;
  int m, k, n;
  bool transA, transB;
  /// b packed ahead by `_pack` as these weights: "f32", "bf16", "int8".
  const char *packed = nullptr;
};

using Kernel = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
using Packer = int (*)(halide_buffer_t *, halide_buffer_t *);

/// One ISA's kernels.
struct Build {
  gptc::bench::Isa isa;
  Kernel plain, transA, transB;
  Packer packPlain, packTransB;
  /// Operands rounded to bf16 (training shapes only, no packed b).
  bool bf16 = false;
};

/// b as `pack` lays it out for its kernel, as `weights` ("f32", "bf16" or
/// "int8").
Buffer<void> packed(Packer pack, Buffer<float> &b, const std::string &weights) {
  halide_dimension_t dims[3];
  halide_buffer_t query{};
  query.type = weights == "bf16"   ? halide_type_t(halide_type_bfloat, 16)
               : weights == "int8" ? halide_type_t(halide_type_int, 8)
                                   : halide_type_t(halide_type_float, 32);
  query.dim = dims;
  query.dimensions = 3;
  if (pack(b, &query) != 0 || query.dimensions != 3)
    return Buffer<void>();
  Buffer<void> out(query.type,
                   {dims[0].extent, dims[1].extent, dims[2].extent});
  if (pack(b, out) != 0)
    return Buffer<void>();
  return out;
}

/// The largest error of 64 sampled outputs against the double-precision
/// product, relative to |product| + 1.
double checkSample(const Buffer<float> &a, const Buffer<float> &b,
                   const Buffer<float> &c, const Shape &s) {
  std::mt19937 rng(7);
  double worst = 0;
  for (int t = 0; t < 64; ++t) {
    int i = rng() % s.m, j = rng() % s.n;
    double ref = 0;
    for (int p = 0; p < s.k; ++p)
      ref +=
          double(s.transA ? a(i, p) : a(p, i)) * (s.transB ? b(p, j) : b(j, p));
    worst = std::max(worst, std::fabs(ref - c(j, i)) / (std::fabs(ref) + 1));
  }
  return worst;
}

/// Writes then reads a buffer larger than any last-level cache, so the next
/// product's operands come from memory.
volatile float evictSink;
void evictCaches() {
  static std::vector<float> junk(64 << 20);
  float sum = 0;
  for (float &v : junk)
    sum += v += 1.0f;
  evictSink = sum;
}

} // namespace

int main(int argc, char **argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  halide_set_num_threads(threads);
  const Shape shapes[] = {
      {"attn c_attn  x[256,768] W[768,2304]", 256, 768, 2304, false, false},
      {"mlp c_fc     x[256,768] W[768,3072]", 256, 768, 3072, false, false},
      {"mlp c_proj   x[256,3072] W[3072,768]", 256, 3072, 768, false, false},
      {"attn c_proj  x[256,768] W[768,768]", 256, 768, 768, false, false},
      {"lm_head      x[256,768] wte^T", 256, 768, 50257, false, true},
      {"c_attn at T=1024", 1024, 768, 2304, false, false},
      {"dW c_fc      x^T dy[256,3072]", 768, 256, 3072, true, false},
      {"dW mlp c_proj h^T dy[256,768]", 3072, 256, 768, true, false},
      {"dx c_fc      dy[256,3072] W^T", 256, 3072, 768, false, true},
      {"dwte         dlogits^T x[256,768]", 50257, 256, 768, true, false},
      {"dx lm_head   dlogits[256,50257] wte", 256, 50257, 768, false, false},
      {"prefill: 16 rows x c_fc W", 16, 768, 3072, false, false},
      {"prefill: 16 rows x mlp c_proj W", 16, 3072, 768, false, false},
      {"prefill: 16 rows x wte^T", 16, 768, 50257, false, true},
      {"prefill: 16 rows x c_fc W", 16, 768, 3072, false, false, "f32"},
      {"prefill: 16 rows x mlp c_proj W", 16, 3072, 768, false, false, "f32"},
      {"prefill: 16 rows x wte^T", 16, 768, 50257, false, true, "f32"},
      {"prefill: 16 rows x wte^T bf16", 16, 768, 50257, false, true, "bf16"},
      {"prefill: 16 rows x wte^T int8", 16, 768, 50257, false, true, "int8"},
      {"decode: 1 row x c_fc W", 1, 768, 3072, false, false},
      {"decode: 1 row x wte^T", 1, 768, 50257, false, true},
      {"decode: 1 row x c_fc W", 1, 768, 3072, false, false, "f32"},
      {"decode: 1 row x wte^T", 1, 768, 50257, false, true, "f32"},
      {"decode: 1 row x wte^T bf16", 1, 768, 50257, false, true, "bf16"},
      {"decode: 1 row x wte^T int8", 1, 768, 50257, false, true, "int8"},
      {"odd: T=7 rows, N=100", 7, 768, 100, false, false},
  };
  // The widest ISA first; AVX2 again only where the widest is more.
  std::vector<Build> builds = {{gptc::bench::nativeIsa(), mm_bench_plain,
                                mm_bench_trans_a, mm_bench_trans_b,
                                mm_bench_plain_pack, mm_bench_trans_b_pack}};
  if (builds[0].isa != gptc::bench::Isa::Avx2)
    builds.push_back({gptc::bench::Isa::Avx2, mm_bench_plain_avx2,
                      mm_bench_trans_a_avx2, mm_bench_trans_b_avx2,
                      mm_bench_plain_avx2_pack, mm_bench_trans_b_avx2_pack});
  if (gptc::bench::hasBf16Dot())
    builds.push_back({gptc::bench::Isa::Avx512, mm_bench_bf16_plain,
                      mm_bench_bf16_trans_a, mm_bench_bf16_trans_b, nullptr,
                      nullptr, true});
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (const Build &build : builds) {
    double peak = build.bf16 ? gptc::bench::bf16DotPeak(threads)
                             : gptc::bench::fmaPeak(threads, build.isa);
    std::printf("%s%s peak (%s, %d threads): %.1f GFLOP/s\n\n",
                &build == &builds[0] ? "" : "\n",
                build.bf16 ? "bf16 dot" : "fp32 FMA",
                build.bf16 ? "AVX512-BF16" : gptc::bench::isaName(build.isa),
                threads, peak);
    std::printf("%-34s %-8s %6s %6s %6s %9s %8s %9s %8s %8s\n", "matmul", "op",
                "M", "K", "N", "hot ms", "of peak", "cold ms", "of peak",
                "b GB/s");
    for (const Shape &s : shapes) {
      if (build.bf16 && (s.packed || s.m <= 32))
        continue;
      Buffer<float> a(s.transA ? s.m : s.k, s.transA ? s.k : s.m),
          b(s.transB ? s.k : s.n, s.transB ? s.n : s.k), c(s.n, s.m);
      a.for_each_value([&](float &v) { v = dist(rng); });
      b.for_each_value([&](float &v) { v = dist(rng); });
      Kernel kernel = s.transA   ? build.transA
                      : s.transB ? build.transB
                                 : build.plain;
      Buffer<void> panels;
      if (s.packed) {
        panels =
            packed(s.transB ? build.packTransB : build.packPlain, b, s.packed);
        if (!panels.data()) {
          std::printf("%s: packing failed\n", s.what);
          return 1;
        }
      }
      auto run = [&] {
        return kernel(a, s.packed ? panels.raw_buffer() : b.raw_buffer(), c);
      };
      if (run() != 0) {
        std::printf("kernel failed\n");
        return 1;
      }
      // fp32 rounding grows with the square root of K; rounded weights
      // and bf16 operands are checked against fp32 ones, loosely (their
      // exact results are MatmulKernelTest's).
      const std::string weights = s.packed ? s.packed : "f32";
      double err = checkSample(a, b, c, s);
      if (err > (weights == "f32" && !build.bf16
                     ? 1e-4 * std::sqrt(std::max(1.0, s.k / 768.0))
                     : 0.2)) {
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
      double cold = 1e30;
      for (int r = 0; r < 3; ++r) {
        evictCaches();
        auto t0 = std::chrono::steady_clock::now();
        run();
        cold = std::min(cold, std::chrono::duration<double>(
                                  std::chrono::steady_clock::now() - t0)
                                  .count());
      }
      double flop = 2.0 * s.m * s.n * s.k;
      std::string op = s.transA ? "a^T b" : s.transB ? "a b^T" : "a b";
      if (build.bf16)
        op += " bf";
      if (s.packed)
        op += weights == "f32" ? " pk" : " " + weights;
      std::printf(
          "%-34s %-8s %6d %6d %6d %9.3f %7.0f%% %9.3f %7.0f%% %8.1f\n", s.what,
          op.c_str(), s.m, s.k, s.n, best * 1e3, 100 * flop / best / 1e9 / peak,
          cold * 1e3, 100 * flop / cold / 1e9 / peak,
          (s.packed ? double(panels.size_in_bytes()) : 4.0 * s.k * s.n) / cold /
              1e9);
    }
  }
  return 0;
}
