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
#include "mm_test_bf16_batch_tt.h"
#include "mm_test_bf16_batch_tt_avx2.h"
#include "mm_test_bf16_bias_gelu.h"
#include "mm_test_bf16_bias_gelu_avx2.h"
#include "mm_test_bf16_plain.h"
#include "mm_test_bf16_plain_avx2.h"
#include "mm_test_bf16_trans_a.h"
#include "mm_test_bf16_trans_a_avx2.h"
#include "mm_test_bf16_trans_b.h"
#include "mm_test_bf16_trans_b_avx2.h"
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
  /// `precision = bf16` (mixed-precision training): plain, trans_a,
  /// trans_b, bias_gelu and a batch with both operands transposed.
  using Mm = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
  Mm bf16Plain, bf16TransA, bf16TransB;
  int (*bf16BiasGelu)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *,
                      halide_buffer_t *);
  Mm bf16BatchTT;
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
                       mm_test_batch_pack,
                       mm_test_bf16_plain,
                       mm_test_bf16_trans_a,
                       mm_test_bf16_trans_b,
                       mm_test_bf16_bias_gelu,
                       mm_test_bf16_batch_tt};
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
                       mm_test_batch_avx2_pack,
                       mm_test_bf16_plain_avx2,
                       mm_test_bf16_trans_a_avx2,
                       mm_test_bf16_trans_b_avx2,
                       mm_test_bf16_bias_gelu_avx2,
                       mm_test_bf16_batch_tt_avx2};

/// `pack`'s panels of `b`: the extents its query gives, then the packing.
/// Empty when the kernel reads b as stored.
Buffer<float> packed(Kernels::Pack pack, Buffer<float> &b) {
  halide_dimension_t dims[3];
  halide_buffer_t query{};
  query.type = halide_type_t(halide_type_float, 32);
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

/// `pack`'s panels of `b` as `type` (bf16, int8), as a generator packs
/// its weights for --weight-format bf16 or int8. Every byte is first 0xff
/// (a bf16 NaN; int8 scales that are NaN), so unwritten ones fail.
Buffer<void> packedAs(halide_type_t type, Kernels::Pack pack,
                      Buffer<float> &b) {
  halide_dimension_t dims[3];
  halide_buffer_t query{};
  query.type = type;
  query.dim = dims;
  query.dimensions = 3;
  if (pack(b, &query) != 0 || query.dimensions != 3)
    return Buffer<void>();
  Buffer<void> out(type, {dims[0].extent, dims[1].extent, dims[2].extent});
  std::memset(out.data(), 0xff, out.size_in_bytes());
  EXPECT_EQ(pack(b, out), 0);
  return out;
}

/// Column j of [k, n] values `w` as int8 blocks give them back: per 32
/// rows of K, scale = max |w| / 127 (for weights, rounded up to a bf16 as
/// --weight-format int8 stores it), q = w / scale rounded to nearest even,
/// value = q * scale.
std::vector<float> roundToInt8Blocks(const std::vector<float> &w, int k, int n,
                                     bool bf16Scale) {
  std::vector<float> out(w.size());
  for (int j = 0; j < n; ++j)
    for (int k0 = 0; k0 < k; k0 += 32) {
      const int k1 = std::min(k, k0 + 32);
      float amax = 0;
      for (int p = k0; p < k1; ++p)
        amax = std::max(amax, std::fabs(w[p * n + j]));
      float scale = amax / 127;
      if (bf16Scale) {
        uint32_t u;
        std::memcpy(&u, &scale, 4);
        u = (u + 0xffffu) & 0xffff0000u;
        std::memcpy(&scale, &u, 4);
      }
      const float inv = scale > 0 ? 1 / scale : 0;
      for (int p = k0; p < k1; ++p) {
        float q = std::nearbyint(std::clamp(w[p * n + j] * inv, -127.f, 127.f));
        out[p * n + j] = q * scale;
      }
    }
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
  // b as the packed weights of each format give it back.
  enum Format { F32, BF16, Int8 };
  std::vector<float> bq[3] = {bv, bv, roundToInt8Blocks(bv, k, n, true)};
  for (float &x : bq[BF16])
    x = roundToBf16(x);
  // Products of a few rows (decoding) with int8 weights quantize a's rows
  // the same way and sum in integers (Gemv.h step 5); aq[p * m + i] is a's
  // element (i, p) so.
  std::vector<float> at(k * m);
  for (int i = 0; i < m; ++i)
    for (int p = 0; p < k; ++p)
      at[p * m + i] = av[i * k + p];
  const std::vector<float> aq = roundToInt8Blocks(at, k, m, false);
  const bool intDot = m <= 7; // gemv::kMaxRows, both ISAs tested have AVX2
  auto ref = [&](int i, int j, bool withBias, bool withGelu, Format f) {
    double s = 0;
    for (int p = 0; p < k; ++p)
      s += double(f == Int8 && intDot ? aq[p * m + i] : av[i * k + p]) *
           bq[f][p * n + j];
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
    bool bias, gelu;
    Format format = F32;
  };
  // The same products with b packed once (a generator's weights).
  Buffer<float> pPlain = packed(kn.packPlain, b),
                pTransB = packed(kn.packTransB, bT),
                pBias = packed(kn.packBias, b),
                pBiasGelu = packed(kn.packBiasGelu, b);
  for (Buffer<float> *pk : {&pPlain, &pTransB, &pBias, &pBiasGelu})
    ASSERT_EQ(pk->dimensions(), 3);
  const halide_type_t bf16(halide_type_bfloat, 16), int8(halide_type_int, 8);
  Buffer<void> hPlain = packedAs(bf16, kn.packPlain, b),
               hTransB = packedAs(bf16, kn.packTransB, bT),
               hBiasGelu = packedAs(bf16, kn.packBiasGelu, b),
               qPlain = packedAs(int8, kn.packPlain, b),
               qTransB = packedAs(int8, kn.packTransB, bT),
               qBiasGelu = packedAs(int8, kn.packBiasGelu, b);
  for (Buffer<void> *pk :
       {&hPlain, &hTransB, &hBiasGelu, &qPlain, &qTransB, &qBiasGelu})
    ASSERT_EQ(pk->dimensions(), 3);
  // Panels of the wrong type for their extents are refused.
  {
    Buffer<void> wrong(int8, {hPlain.dim(0).extent(), hPlain.dim(1).extent(),
                              hPlain.dim(2).extent()});
    Buffer<float> c(n, m);
    if (qPlain.dim(1).extent() != wrong.dim(1).extent()) {
      EXPECT_NE(kn.plain(a, wrong, c), 0);
    }
  }
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
       false, false, BF16},
      {"trans_b bf16",
       [&](Buffer<float> &c) { return kn.transB(a, hTransB, c); }, false, false,
       BF16},
      {"bias_gelu bf16",
       [&](Buffer<float> &c) { return kn.biasGelu(a, hBiasGelu, bias, c); },
       true, true, BF16},
      {"plain int8", [&](Buffer<float> &c) { return kn.plain(a, qPlain, c); },
       false, false, Int8},
      {"trans_b int8",
       [&](Buffer<float> &c) { return kn.transB(a, qTransB, c); }, false, false,
       Int8},
      {"bias_gelu int8",
       [&](Buffer<float> &c) { return kn.biasGelu(a, qBiasGelu, bias, c); },
       true, true, Int8},
  };
  for (auto &v : variants) {
    Buffer<float> c(n, m);
    c.fill(NAN); // an output left unwritten must not pass
    ASSERT_EQ(v.run(c), 0) << v.name;
    double diff = 0, scale = 1e-6;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double want = ref(i, j, v.bias, v.gelu, v.format);
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

// Mixed precision (`precision = bf16`): both operands rounded to the
// nearest bf16, sums in fp32, against the double-precision product of the
// rounded operands. Truncating instead of rounding, or leaving either
// operand in fp32, is off by about 2^-9 of the scale.
TEST_P(MatmulKernel, Bf16MatchesRoundedReference) {
  auto [m, k, n] = std::get<0>(GetParam());
  const Kernels &kn = *std::get<1>(GetParam());
  const int batch = 2;
  std::mt19937 rng(m * 29 + k * 3 + n);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> av(batch * m * k), bv(batch * k * n), biasv(n);
  for (auto *v : {&av, &bv, &biasv})
    for (float &x : *v)
      x = dist(rng);
  Buffer<float> a(k, m, batch), aT(m, k, batch), b(n, k, batch),
      bT(k, n, batch), bias(n);
  for (int t = 0; t < batch; ++t) {
    for (int i = 0; i < m; ++i)
      for (int p = 0; p < k; ++p)
        a(p, i, t) = aT(i, p, t) = av[(t * m + i) * k + p];
    for (int p = 0; p < k; ++p)
      for (int j = 0; j < n; ++j)
        b(j, p, t) = bT(p, j, t) = bv[(t * k + p) * n + j];
  }
  for (int j = 0; j < n; ++j)
    bias(j) = biasv[j];
  auto ref = [&](int t, int i, int j) {
    double s = 0;
    for (int p = 0; p < k; ++p)
      s += double(roundToBf16(av[(t * m + i) * k + p])) *
           roundToBf16(bv[(t * k + p) * n + j]);
    return s;
  };
  // The first batch element of each as a matrix.
  Buffer<float> a0 = a.sliced(2, 0), aT0 = aT.sliced(2, 0), b0 = b.sliced(2, 0),
                bT0 = bT.sliced(2, 0);
  struct Variant {
    const char *name;
    std::function<int(Buffer<float> &)> run;
    bool gelu = false, batched = false;
  };
  std::vector<Variant> variants = {
      {"plain", [&](Buffer<float> &c) { return kn.bf16Plain(a0, b0, c); }},
      {"trans_a", [&](Buffer<float> &c) { return kn.bf16TransA(aT0, b0, c); }},
      {"trans_b", [&](Buffer<float> &c) { return kn.bf16TransB(a0, bT0, c); }},
      {"bias_gelu",
       [&](Buffer<float> &c) { return kn.bf16BiasGelu(a0, b0, bias, c); },
       true},
      {"batch_tt", [&](Buffer<float> &c) { return kn.bf16BatchTT(aT, bT, c); },
       false, true},
  };
  for (auto &v : variants) {
    Buffer<float> c =
        v.batched ? Buffer<float>(n, m, batch) : Buffer<float>(n, m);
    c.fill(NAN);
    ASSERT_EQ(v.run(c), 0) << v.name;
    double diff = 0, scale = 1e-6;
    for (int t = 0; t < (v.batched ? batch : 1); ++t)
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          double want = ref(t, i, j);
          if (v.gelu)
            want = gelu(want + biasv[j]);
          float got = v.batched ? c(j, i, t) : c(j, i);
          diff = std::max(diff, error(want, got));
          scale = std::max(scale, std::fabs(want));
        }
    EXPECT_LT(diff / scale, 1e-5)
        << v.name << " " << kn.isa << " " << m << "x" << k << "x" << n;
  }
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
                                     Dims{260, 1100, 70},
                                     // one row block, K in slices: bf16
                                     // tasks round their panel's slice
                                     Dims{200, 2600, 70}),
                     testing::Values(&kHost, &kAvx2)),
    [](const auto &info) {
      const Dims &d = std::get<0>(info.param);
      return std::string(std::get<1>(info.param)->isa) + "_" +
             std::to_string(d.m) + "x" + std::to_string(d.k) + "x" +
             std::to_string(d.n);
    });

} // namespace
