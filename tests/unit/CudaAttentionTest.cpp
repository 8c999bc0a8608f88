//===- CudaAttentionTest.cpp - The CUDA attention kernels, emulated -------===//
//
// backends/cuda/kernels/Attention.cuh run on the CPU (CudaEmulation.h: a thread
// per CUDA thread, barriers, blocks in turn) against the double-precision
// reference the CPU kernels are tested with: forward, both backward
// kernels, causal and not, with and without dropout (the same Philox masks);
// and the KV-cache kernels against the CPU's (CachedAttention.h). Machines
// without a GPU can so check the kernels' arithmetic and indexing; timing,
// occupancy and races between blocks need the GPU tier.
//
//===----------------------------------------------------------------------===//

#include "AttentionReference.h"
#include "CachedAttention.h"
#include "CudaEmulation.h"

#include "Attention.cuh"

#include <gtest/gtest.h>

using namespace gptc;
using namespace gptc::test;
using cuda_emulation::launch;

namespace {

template <int D> void checkAgainstReference() {
  const Shape shapes[] = {{1, 1, true},
                          {7, 7, true},
                          {70, 70, true},
                          {5, 9, false},
                          {64, 130, false}};
  for (bool dropout : {false, true})
    for (Shape s : shapes) {
      SCOPED_TRACE(testing::Message() << "D=" << D << " T=" << s.T << " S="
                                      << s.S << (s.causal ? " causal" : "")
                                      << (dropout ? " dropout" : ""));
      flash::Problem pb = problem(2, s, D, dropout);
      Tensors x = randomInputs(pb.batch, s.T, s.S, D, unsigned(s.T * 7 + D));
      cuda::Problem cp{pb.batch, pb.T,    pb.S, pb.causal,
                       pb.scale, dropout, pb.p, pb.seed,
                       pb.step,  pb.id,   1,    pb.offset};
      // NaN everywhere, so an element left unwritten cannot pass.
      std::vector<float> out(pb.batch * s.T * D, NAN), lse(pb.batch * s.T, NAN),
          dq(pb.batch * s.T * D, NAN), dk(pb.batch * s.S * D, NAN),
          dv(pb.batch * s.S * D, NAN);
      unsigned qBlocks = unsigned((s.T + cuda::kRows - 1) / cuda::kRows);
      unsigned kBlocks = unsigned((s.S + cuda::kRows - 1) / cuda::kRows);
      dim3 queries(qBlocks, unsigned(pb.batch)),
          keys(kBlocks, unsigned(pb.batch));
      launch(queries, dim3(cuda::kRows), cuda::attentionForward<D>, cp,
             x.q.data(), x.k.data(), x.v.data(), out.data(), lse.data());
      launch(queries, dim3(cuda::kRows), cuda::attentionBackwardQ<D>, cp,
             x.q.data(), x.k.data(), x.v.data(), out.data(), lse.data(),
             x.dout.data(), dq.data());
      launch(keys, dim3(cuda::kRows), cuda::attentionBackwardKV<D>, cp,
             x.q.data(), x.k.data(), x.v.data(), out.data(), lse.data(),
             x.dout.data(), dk.data(), dv.data());
      Reference want(pb, D, x);
      expectClose(out, want.out, 2e-5, "out");
      expectClose(lse, want.lse, 1e-5, "lse");
      expectClose(dq, want.dq, 2e-5, "dq");
      expectClose(dk, want.dk, 2e-5, "dk");
      expectClose(dv, want.dv, 2e-5, "dv");
    }
}

} // namespace

/// Grouped-query attention (8 query heads over 4 key/value heads): the
/// emulated CUDA kernels give the CPU kernels' results (which
/// FlashAttentionTest checks against repeated heads).
template <int D> void checkGroupedHeads() {
  const int64_t batch = kGroupedBatch, groups = kGroups;
  forGroupedCases(D, [&](Shape s, bool dropout) {
    flash::Problem pb = problem(batch, s, D, dropout);
    pb.groups = groups;
    Tensors x = randomInputs(batch, s.T, s.S, D, 23);
    x.k.resize(batch / groups * s.S * D);
    x.v.resize(batch / groups * s.S * D);
    std::vector<float> out(batch * s.T * D), lse(batch * s.T),
        dq(batch * s.T * D), dk(x.k.size()), dv(x.v.size());
    flash::forward<D>(pb, x.q.data(), x.k.data(), x.v.data(), out.data(),
                      lse.data());
    flash::backward<D>(pb, x.q.data(), x.k.data(), x.v.data(), out.data(),
                       lse.data(), x.dout.data(), dq.data(), dk.data(),
                       dv.data());
    cuda::Problem cp{pb.batch, pb.T,    pb.S,   pb.causal,
                     pb.scale, dropout, pb.p,   pb.seed,
                     pb.step,  pb.id,   groups, pb.offset};
    std::vector<float> gOut(out.size(), NAN), gLse(lse.size(), NAN),
        gDq(dq.size(), NAN), gDk(dk.size(), NAN), gDv(dv.size(), NAN);
    unsigned qBlocks = unsigned((s.T + cuda::kRows - 1) / cuda::kRows);
    unsigned kBlocks = unsigned((s.S + cuda::kRows - 1) / cuda::kRows);
    dim3 queries(qBlocks, unsigned(batch)),
        keys(kBlocks, unsigned(batch / groups));
    launch(queries, dim3(cuda::kRows), cuda::attentionForward<D>, cp,
           x.q.data(), x.k.data(), x.v.data(), gOut.data(), gLse.data());
    launch(queries, dim3(cuda::kRows), cuda::attentionBackwardQ<D>, cp,
           x.q.data(), x.k.data(), x.v.data(), gOut.data(), gLse.data(),
           x.dout.data(), gDq.data());
    launch(keys, dim3(cuda::kRows), cuda::attentionBackwardKV<D>, cp,
           x.q.data(), x.k.data(), x.v.data(), gOut.data(), gLse.data(),
           x.dout.data(), gDk.data(), gDv.data());
    auto wide = [](const std::vector<float> &v) {
      return std::vector<double>(v.begin(), v.end());
    };
    expectClose(gOut, wide(out), 2e-5, "out");
    expectClose(gLse, wide(lse), 1e-5, "lse");
    expectClose(gDq, wide(dq), 5e-5, "dq");
    expectClose(gDk, wide(dk), 5e-5, "dk");
    expectClose(gDv, wide(dv), 5e-5, "dv");
  });
}

TEST(CudaAttention, GroupedHeadsMatchTheCpuD8) { checkGroupedHeads<8>(); }
TEST(CudaAttention, GroupedHeadsMatchTheCpuD64) { checkGroupedHeads<64>(); }

TEST(CudaAttention, MatchesReferenceD8) { checkAgainstReference<8>(); }
TEST(CudaAttention, MatchesReferenceD64) { checkAgainstReference<64>(); }

// Two new tokens per sequence at different positions (one sequence from
// slot 0), written then attended, as the CPU's KV-cache kernels do it.
/// `n` floats uniform in [-1, 1).
std::vector<float> randomFloats(std::mt19937 &rng, size_t n) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (float &x : v)
    x = u(rng);
  return v;
}

TEST(CudaAttention, CacheKernelsMatchTheCpu) {
  constexpr int D = 8;
  const int64_t B = 2, H = 3, T = 2, S = 10;
  std::mt19937 rng(5);
  auto random = [&](size_t n) { return randomFloats(rng, n); };
  std::vector<float> q = random(B * H * T * D), k = random(B * H * T * D),
                     v = random(B * H * T * D);
  std::vector<float> kc = random(B * H * S * D), vc = random(B * H * S * D);
  std::vector<int32_t> positions = {4, 5, 0, 1};
  kvcache::Shape shape{B, H, T, S, D};
  // The CPU kernels.
  std::vector<float> kcCpu = kc, vcCpu = vc, outCpu(q.size(), NAN);
  kvcache::write(shape, k.data(), positions.data(), kcCpu.data());
  kvcache::write(shape, v.data(), positions.data(), vcCpu.data());
  kvcache::attend<D>(shape, 0.35f, q.data(), kcCpu.data(), vcCpu.data(),
                     positions.data(), outCpu.data(), nullptr);
  // The CUDA kernels.
  std::vector<float> outGpu(q.size(), NAN);
  unsigned writes = unsigned((B * H * T * D + 255) / 256);
  launch(dim3(writes), dim3(256), cuda::cacheWrite<D>, B * H, H, T, S,
         static_cast<const float *>(k.data()),
         static_cast<const int32_t *>(positions.data()), kc.data());
  launch(dim3(writes), dim3(256), cuda::cacheWrite<D>, B * H, H, T, S,
         static_cast<const float *>(v.data()),
         static_cast<const int32_t *>(positions.data()), vc.data());
  EXPECT_EQ(kc, kcCpu);
  EXPECT_EQ(vc, vcCpu);
  launch(dim3(unsigned((B * H * T + 63) / 64)), dim3(64),
         cuda::cachedAttention<D>, B * H, H, H, T, S, 0.35f,
         static_cast<const float *>(q.data()),
         static_cast<const float *>(kc.data()),
         static_cast<const float *>(vc.data()),
         static_cast<const int32_t *>(positions.data()), outGpu.data());
  for (size_t i = 0; i < q.size(); ++i)
    EXPECT_NEAR(outGpu[i], outCpu[i], 1e-5) << "element " << i;
}

// Grouped-query attention over caches of fewer heads: 4 query heads share
// 2 cache heads (query head h reads cache head h / 2). Both kernels equal
// the CPU kernel over caches with each head repeated.
TEST(CudaAttention, GroupedCacheAttentionReadsSharedHeads) {
  constexpr int D = 8;
  const int64_t B = 2, H = 4, Hk = 2, T = 2, S = 6;
  std::mt19937 rng(9);
  auto random = [&](size_t n) { return randomFloats(rng, n); };
  std::vector<float> q = random(B * H * T * D), kc = random(B * Hk * S * D),
                     vc = random(B * Hk * S * D);
  std::vector<int32_t> positions = {3, 4, 0, 1};
  // The caches with every head repeated for its two query heads.
  std::vector<float> kWide, vWide;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      int64_t from = (b * Hk + h / (H / Hk)) * S * D;
      kWide.insert(kWide.end(), kc.begin() + from, kc.begin() + from + S * D);
      vWide.insert(vWide.end(), vc.begin() + from, vc.begin() + from + S * D);
    }
  std::vector<float> want(q.size()), cpu(q.size(), NAN), gpu(q.size(), NAN);
  kvcache::attend<D>(kvcache::Shape{B, H, T, S, D}, 0.5f, q.data(),
                     kWide.data(), vWide.data(), positions.data(), want.data(),
                     nullptr);
  kvcache::attend<D>(kvcache::Shape{B, H, T, S, D, Hk}, 0.5f, q.data(),
                     kc.data(), vc.data(), positions.data(), cpu.data(),
                     nullptr);
  launch(dim3(unsigned((B * H * T + 63) / 64)), dim3(64),
         cuda::cachedAttention<D>, B * H, H, Hk, T, S, 0.5f,
         static_cast<const float *>(q.data()),
         static_cast<const float *>(kc.data()),
         static_cast<const float *>(vc.data()),
         static_cast<const int32_t *>(positions.data()), gpu.data());
  EXPECT_EQ(cpu, want);
  for (size_t i = 0; i < q.size(); ++i)
    EXPECT_NEAR(gpu[i], want[i], 1e-5) << "element " << i;
}
