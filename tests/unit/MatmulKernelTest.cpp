//===- MatmulKernelTest.cpp - Generated matmul kernels vs a reference
//------===//
//
// The matmul family (gptc-kernelgen, built for this machine's widest ISA and
// for AVX2) against a double-precision reference on shapes that stress the
// tails: one row, odd K, N not a multiple of the vector width or of the
// micro-kernel's panel, M past a task's row block with a partial tile, K
// past a K block. Up to gemv::kMaxRows rows run the few-row path (Gemv.h:
// K split into blocks, or dot products for trans_b), more the packed GEMM
// (Gemm.h); each product also runs with b packed ahead by the kernel's
// `_pack`, as a generator's weights are.
//
//===----------------------------------------------------------------------===//

#include "mm_test_batch.h"
#include "mm_test_batch_avx2.h"
#include "mm_test_batch_tt.h"
#include "mm_test_batch_tt_avx2.h"
#include "mm_test_bias.h"
#include "mm_test_bias_avx2.h"
#include "mm_test_bias_gelu.h"
#include "mm_test_bias_gelu_avx2.h"
#include "mm_test_plain.h"
#include "mm_test_plain_avx2.h"
#include "mm_test_trans_a.h"
#include "mm_test_trans_a_avx2.h"
#include "mm_test_trans_b.h"
#include "mm_test_trans_b_avx2.h"

#include "HalideBuffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>

using Halide::Runtime::Buffer;

namespace {

struct Dims {
  int m, k, n;
};

/// One ISA's build of each kernel variant.
struct Kernels {
  const char *isa;
  int (*plain)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
  int (*transA)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
  int (*transB)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
  int (*bias)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *,
              halide_buffer_t *);
  int (*biasGelu)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *,
                  halide_buffer_t *);
  int (*batch)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
  int (*batchTT)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
  /// The packers (`_pack`) of plain, trans_b, bias, bias_gelu, trans_a and
  /// batch.
  using Pack = int (*)(halide_buffer_t *, halide_buffer_t *);
  Pack packPlain, packTransB, packBias, packBiasGelu, packTransA, packBatch;
};

const Kernels kHost = {"host",
                       mm_test_plain,
                       mm_test_trans_a,
                       mm_test_trans_b,
                       mm_test_bias,
                       mm_test_bias_gelu,
                       mm_test_batch,
                       mm_test_batch_tt,
                       mm_test_plain_pack,
                       mm_test_trans_b_pack,
                       mm_test_bias_pack,
                       mm_test_bias_gelu_pack,
                       mm_test_trans_a_pack,
                       mm_test_batch_pack};
const Kernels kAvx2 = {"avx2",
                       mm_test_plain_avx2,
                       mm_test_trans_a_avx2,
                       mm_test_trans_b_avx2,
                       mm_test_bias_avx2,
                       mm_test_bias_gelu_avx2,
                       mm_test_batch_avx2,
                       mm_test_batch_tt_avx2,
                       mm_test_plain_avx2_pack,
                       mm_test_trans_b_avx2_pack,
                       mm_test_bias_avx2_pack,
                       mm_test_bias_gelu_avx2_pack,
                       mm_test_trans_a_avx2_pack,
                       mm_test_batch_avx2_pack};

/// `pack`'s panels of `b`: the extents its query gives, then the packing.
/// Empty when the kernel reads b as stored.
Buffer<float> packed(Kernels::Pack pack, Buffer<float> &b) {
  halide_dimension_t dims[3];
  halide_buffer_t query{};
  query.dim = dims;
  query.dimensions = 3;
  if (pack(b, &query) != 0 || query.dimensions == 0)
    return Buffer<float>();
  EXPECT_EQ(query.dimensions, 3);
  Buffer<float> out(dims[0].extent, dims[1].extent, dims[2].extent);
  out.fill(NAN); // packing must write every float, padding included
  EXPECT_EQ(pack(b, out), 0);
  return out;
}

/// `pack`'s panels of `b` rounded to bf16, as a generator packs its
/// weights for --weight-format bf16.
Buffer<void> packedBf16(Kernels::Pack pack, Buffer<float> &b) {
  halide_dimension_t dims[3];
  halide_buffer_t query{};
  query.dim = dims;
  query.dimensions = 3;
  if (pack(b, &query) != 0 || query.dimensions != 3)
    return Buffer<void>();
  Buffer<void> out(halide_type_t(halide_type_bfloat, 16),
                   {dims[0].extent, dims[1].extent, dims[2].extent});
  uint16_t *bits = static_cast<uint16_t *>(out.data());
  std::fill(bits, bits + out.number_of_elements(), uint16_t{0x7fc0}); // NaN
  EXPECT_EQ(pack(b, out), 0);
  return out;
}

/// `x` rounded to the nearest bf16 (ties to even), as a float.
float roundToBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  uint32_t lsb = (u >> 16) & 1;
  u = (u + 0x7fff + lsb) & 0xffff0000u;
  std::memcpy(&x, &u, 4);
  return x;
}

class MatmulKernel
    : public testing::TestWithParam<std::tuple<Dims, const Kernels *>> {};

/// |want - got|, infinite for a NaN (which std::max would drop).
double error(double want, float got) {
  return std::isnan(got) ? INFINITY : std::fabs(want - got);
}

double gelu(double x) {
  return 0.5 * x *
         (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

TEST_P(MatmulKernel, MatchesReference) {
  auto [m, k, n] = std::get<0>(GetParam());
  const Kernels &kn = *std::get<1>(GetParam());
  std::mt19937 rng(m * 131 + k * 7 + n);
  std::uniform_real_distribution<float> dist(-1, 1);
  // Logical a[m][k], b[k][n], bias[n].
  std::vector<float> av(m * k), bv(k * n), biasv(n);
  for (auto *v : {&av, &bv, &biasv})
    for (float &x : *v)
      x = dist(rng);
  std::vector<float> bq(bv.size()); // b as bf16 weights
  for (size_t e = 0; e < bv.size(); ++e)
    bq[e] = roundToBf16(bv[e]);
  auto ref = [&](int i, int j, bool withBias, bool withGelu, bool bf16) {
    double s = 0;
    for (int p = 0; p < k; ++p)
      s += double(av[i * k + p]) * (bf16 ? bq : bv)[p * n + j];
    if (withBias)
      s += biasv[j];
    return withGelu ? gelu(s) : s;
  };

  Buffer<float> a(k, m), aT(m, k), b(n, k), bT(k, n), bias(n);
  for (int i = 0; i < m; ++i)
    for (int p = 0; p < k; ++p)
      a(p, i) = aT(i, p) = av[i * k + p];
  for (int p = 0; p < k; ++p)
    for (int j = 0; j < n; ++j)
      b(j, p) = bT(p, j) = bv[p * n + j];
  for (int j = 0; j < n; ++j)
    bias(j) = biasv[j];

  struct Variant {
    const char *name;
    std::function<int(Buffer<float> &)> run;
    bool bias, gelu, bf16 = false;
  };
  // The same products with b packed once (a generator's weights).
  Buffer<float> pPlain = packed(kn.packPlain, b),
                pTransB = packed(kn.packTransB, bT),
                pBias = packed(kn.packBias, b),
                pBiasGelu = packed(kn.packBiasGelu, b);
  for (Buffer<float> *pk : {&pPlain, &pTransB, &pBias, &pBiasGelu})
    ASSERT_EQ(pk->dimensions(), 3);
  Buffer<void> hPlain = packedBf16(kn.packPlain, b),
               hTransB = packedBf16(kn.packTransB, bT),
               hBiasGelu = packedBf16(kn.packBiasGelu, b);
  for (Buffer<void> *pk : {&hPlain, &hTransB, &hBiasGelu})
    ASSERT_EQ(pk->dimensions(), 3);
  // A kernel that reads b as stored says so, and refuses panels.
  EXPECT_EQ(packed(kn.packTransA, b).dimensions(), 0);
  EXPECT_EQ(packed(kn.packBatch, b).dimensions(), 0);
  {
    Buffer<float> c(m, n);
    EXPECT_NE(kn.transA(aT, pPlain, c), 0);
  }
  std::vector<Variant> variants = {
      {"plain", [&](Buffer<float> &c) { return kn.plain(a, b, c); }, false,
       false},
      {"trans_a", [&](Buffer<float> &c) { return kn.transA(aT, b, c); }, false,
       false},
      {"trans_b", [&](Buffer<float> &c) { return kn.transB(a, bT, c); }, false,
       false},
      {"bias", [&](Buffer<float> &c) { return kn.bias(a, b, bias, c); }, true,
       false},
      {"bias_gelu",
       [&](Buffer<float> &c) { return kn.biasGelu(a, b, bias, c); }, true,
       true},
      {"plain packed", [&](Buffer<float> &c) { return kn.plain(a, pPlain, c); },
       false, false},
      {"trans_b packed",
       [&](Buffer<float> &c) { return kn.transB(a, pTransB, c); }, false,
       false},
      {"bias packed",
       [&](Buffer<float> &c) { return kn.bias(a, pBias, bias, c); }, true,
       false},
      {"bias_gelu packed",
       [&](Buffer<float> &c) { return kn.biasGelu(a, pBiasGelu, bias, c); },
       true, true},
      {"plain bf16", [&](Buffer<float> &c) { return kn.plain(a, hPlain, c); },
       false, false, true},
      {"trans_b bf16",
       [&](Buffer<float> &c) { return kn.transB(a, hTransB, c); }, false, false,
       true},
      {"bias_gelu bf16",
       [&](Buffer<float> &c) { return kn.biasGelu(a, hBiasGelu, bias, c); },
       true, true, true},
  };
  for (auto &v : variants) {
    Buffer<float> c(n, m);
    c.fill(NAN); // an output left unwritten must not pass
    ASSERT_EQ(v.run(c), 0) << v.name;
    double diff = 0, scale = 1e-6;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double want = ref(i, j, v.bias, v.gelu, v.bf16);
        diff = std::max(diff, error(want, c(j, i)));
        scale = std::max(scale, std::fabs(want));
      }
    EXPECT_LT(diff / scale, 1e-5)
        << v.name << " " << kn.isa << " " << m << "x" << k << "x" << n;
  }
}

// A batch of three products, batch i of b scaled by i + 1, as attention's
// per-head products (plain, and with both operands transposed).
TEST_P(MatmulKernel, BatchedMatchesReference) {
  auto [m, k, n] = std::get<0>(GetParam());
  const Kernels &kn = *std::get<1>(GetParam());
  const int batch = 3;
  std::mt19937 rng(m * 17 + k * 5 + n);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> av(m * k), bv(k * n);
  for (auto *v : {&av, &bv})
    for (float &x : *v)
      x = dist(rng);
  Buffer<float> a(k, m, batch), aT(m, k, batch), b(n, k, batch),
      bT(k, n, batch);
  for (int t = 0; t < batch; ++t) {
    for (int i = 0; i < m; ++i)
      for (int p = 0; p < k; ++p)
        a(p, i, t) = aT(i, p, t) = av[i * k + p];
    for (int p = 0; p < k; ++p)
      for (int j = 0; j < n; ++j)
        b(j, p, t) = bT(p, j, t) = bv[p * n + j] * (t + 1);
  }
  Buffer<float> c(n, m, batch), cT(n, m, batch);
  c.fill(NAN);
  cT.fill(NAN);
  ASSERT_EQ(kn.batch(a, b, c), 0);
  ASSERT_EQ(kn.batchTT(aT, bT, cT), 0);
  double diff = 0, scale = 1e-6;
  for (int t = 0; t < batch; ++t)
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double want = 0;
        for (int p = 0; p < k; ++p)
          want += double(av[i * k + p]) * bv[p * n + j] * (t + 1);
        diff =
            std::max({diff, error(want, c(j, i, t)), error(want, cT(j, i, t))});
        scale = std::max(scale, std::fabs(want));
      }
  EXPECT_LT(diff / scale, 1e-5) << kn.isa << " " << m << "x" << k << "x" << n;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MatmulKernel,
    testing::Combine(testing::Values(Dims{1, 1, 1}, Dims{7, 13, 5},
                                     Dims{3, 1001, 37}, Dims{8, 40, 20},
                                     Dims{1, 768, 100}, Dims{33, 64, 48},
                                     Dims{9, 17, 97}, Dims{64, 96, 192},
                                     Dims{300, 530, 130},
                                     // few rows, b^T: tasks of 256 rows of
                                     // b in fours, the last one short
                                     Dims{2, 100, 517},
                                     // trans_a tasks of several panels, the
                                     // last group partial (Gemm.h step 6)
                                     Dims{2100, 20, 330}, Dims{600, 300, 200},
                                     // K in two slices, the second short,
                                     // and a last row block of 4 rows that
                                     // reads b in place (Gemm.h step 3b)
                                     Dims{260, 1100, 70}),
                     testing::Values(&kHost, &kAvx2)),
    [](const auto &info) {
      const Dims &d = std::get<0>(info.param);
      return std::string(std::get<1>(info.param)->isa) + "_" +
             std::to_string(d.m) + "x" + std::to_string(d.k) + "x" +
             std::to_string(d.n);
    });

} // namespace
