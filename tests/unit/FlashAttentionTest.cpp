//===- FlashAttentionTest.cpp - The CPU flash-attention kernels -----------===//
//
// Checks backends/cpu/kernels/FlashAttention.h against a naive double-precision
// attention (the interpreter's formulas, AttentionReference.h), with and
// without causal masking and dropout, and checks that results do not
// depend on threading.
//
//===----------------------------------------------------------------------===//

#include "FlashAttention.h"
#include "AttentionReference.h"

#include "gptc/Runtime/Philox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <vector>

using namespace gptc;
using namespace gptc::test;

namespace {

/// Three threads taking tasks from a shared counter, so the schedule
/// changes from run to run.
void threadedFor(int n, void (*task)(void *, int), void *ctx) {
  std::atomic<int> next{0};
  auto worker = [&] {
    for (int i; (i = next.fetch_add(1)) < n;)
      task(ctx, i);
  };
  std::thread a(worker), b(worker);
  worker();
  a.join();
  b.join();
}

struct Results {
  std::vector<float> out, lse, dq, dk, dv;
};

template <int D>
Results runKernels(const flash::Problem &pb, const Tensors &x) {
  Results r;
  r.out.assign(pb.batch * pb.T * D, NAN);
  r.lse.assign(pb.batch * pb.T, NAN);
  // NaN everywhere, so an element left unwritten cannot pass.
  r.dq.assign(pb.batch * pb.T * D, NAN);
  r.dk.assign(pb.batch * pb.S * D, NAN);
  r.dv.assign(pb.batch * pb.S * D, NAN);
  flash::forward<D>(pb, x.q.data(), x.k.data(), x.v.data(), r.out.data(),
                    r.lse.data());
  flash::backward<D>(pb, x.q.data(), x.k.data(), x.v.data(), r.out.data(),
                     r.lse.data(), x.dout.data(), r.dq.data(), r.dk.data(),
                     r.dv.data());
  return r;
}

/// Grouped-query attention: 8 query heads over 4 key/value heads (groups
/// 2) give the outputs of the same kernels over the key/value heads
/// repeated, and dk, dv summed over each group; with dropout too.
template <int D> void checkGroupedHeads() {
  const int64_t batch = kGroupedBatch, groups = kGroups;
  forGroupedCases(D, [&](Shape s, bool dropout) {
    Tensors full = randomInputs(batch, s.T, s.S, D, 11);
    Tensors grouped = full;
    grouped.k.resize(batch / groups * s.S * D);
    grouped.v.resize(batch / groups * s.S * D);
    // The repeated heads: query head b reads key/value head b / groups.
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < s.S * D; ++i) {
        full.k[b * s.S * D + i] = grouped.k[b / groups * s.S * D + i];
        full.v[b * s.S * D + i] = grouped.v[b / groups * s.S * D + i];
      }
    flash::Problem pb = problem(batch, s, D, dropout);
    Results want = runKernels<D>(pb, full);
    pb.groups = groups;
    Results got = runKernels<D>(pb, grouped);
    got.dk.resize(grouped.k.size());
    got.dv.resize(grouped.v.size());
    std::vector<double> dk(grouped.k.size()), dv(grouped.v.size());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < s.S * D; ++i) {
        dk[b / groups * s.S * D + i] += want.dk[b * s.S * D + i];
        dv[b / groups * s.S * D + i] += want.dv[b * s.S * D + i];
      }
    auto wide = [](const std::vector<float> &x) {
      return std::vector<double>(x.begin(), x.end());
    };
    expectClose(got.out, wide(want.out), 1e-6, "out");
    expectClose(got.lse, wide(want.lse), 1e-6, "lse");
    expectClose(got.dq, wide(want.dq), 1e-6, "dq");
    expectClose(got.dk, dk, 1e-5, "dk");
    expectClose(got.dv, dv, 1e-5, "dv");
  });
}

TEST(FlashAttention, GroupedHeadsD8) { checkGroupedHeads<8>(); }
TEST(FlashAttention, GroupedHeadsD64) { checkGroupedHeads<64>(); }

template <int D> void checkAgainstReference() {
  const Shape shapes[] = {{1, 1, true},     {7, 7, true},  {70, 70, true},
                          {130, 130, true}, {5, 9, false}, {64, 200, false}};
  for (bool dropout : {false, true})
    for (Shape s : shapes) {
      SCOPED_TRACE(testing::Message() << "D=" << D << " T=" << s.T << " S="
                                      << s.S << (s.causal ? " causal" : "")
                                      << (dropout ? " dropout" : ""));
      flash::Problem pb = problem(3, s, D, dropout);
      Tensors x = randomInputs(pb.batch, s.T, s.S, D, unsigned(s.T * 31 + D));
      Results got = runKernels<D>(pb, x);
      Reference want(pb, D, x);
      expectClose(got.out, want.out, 2e-5, "out");
      expectClose(got.lse, want.lse, 1e-5, "lse");
      expectClose(got.dq, want.dq, 2e-5, "dq");
      expectClose(got.dk, want.dk, 2e-5, "dk");
      expectClose(got.dv, want.dv, 2e-5, "dv");
    }
}

} // namespace

TEST(FlashAttention, MatchesReferenceD6) { checkAgainstReference<6>(); }
TEST(FlashAttention, MatchesReferenceD8) { checkAgainstReference<8>(); }
TEST(FlashAttention, MatchesReferenceD64) { checkAgainstReference<64>(); }

// The first query sees only the first key, so its log-sum-exp is that score.
TEST(FlashAttention, CausalFirstRowLseIsItsScore) {
  constexpr int D = 64;
  flash::Problem pb = problem(3, {70, 70, true}, D, false);
  Tensors x = randomInputs(pb.batch, pb.T, pb.S, D, 7);
  Results r = runKernels<D>(pb, x);
  for (int64_t b = 0; b < pb.batch; ++b) {
    double s = 0;
    for (int d = 0; d < D; ++d)
      s += double(x.q[b * pb.T * D + d]) * x.k[b * pb.S * D + d];
    s *= pb.scale;
    EXPECT_NEAR(r.lse[b * pb.T], s, 1e-6 * (1 + std::abs(s))) << "b=" << b;
  }
}

// Every output element is written by one task in a fixed order, so the
// thread count and schedule cannot change a bit.
TEST(FlashAttention, ThreadingIsBitwiseDeterministic) {
  constexpr int D = 64;
  for (bool dropout : {false, true}) {
    flash::Problem serial = problem(5, {130, 130, true}, D, dropout);
    flash::Problem threaded = serial;
    threaded.parallelFor = threadedFor;
    Tensors x = randomInputs(serial.batch, serial.T, serial.S, D, 11);
    Results a = runKernels<D>(serial, x), b = runKernels<D>(threaded, x);
    auto same = [](const std::vector<float> &u, const std::vector<float> &v) {
      return u.size() == v.size() &&
             std::memcmp(u.data(), v.data(), u.size() * sizeof(float)) == 0;
    };
    EXPECT_TRUE(same(a.out, b.out)) << "dropout " << dropout;
    EXPECT_TRUE(same(a.lse, b.lse)) << "dropout " << dropout;
    EXPECT_TRUE(same(a.dq, b.dq)) << "dropout " << dropout;
    EXPECT_TRUE(same(a.dk, b.dk)) << "dropout " << dropout;
    EXPECT_TRUE(same(a.dv, b.dv)) << "dropout " << dropout;
  }
}

// The vectorized exp2 behind the softmax: close to 2^x relative, and 0 (not
// NaN) at -inf.
TEST(FlashAttention, Exp2Accuracy) {
  using namespace flash::detail;
  double worst = 0;
  for (float x0 = -126.0f; x0 <= 10.0f; x0 += 0.37f * kW) {
    V x{};
    for (int l = 0; l < kW; ++l)
      x[l] = x0 + 0.37f * l;
    V e = exp2v(x);
    for (int l = 0; l < kW; ++l) {
      double want = std::exp2(double(x[l]));
      worst = std::max(worst, std::abs(e[l] - want) / want);
    }
  }
  EXPECT_LE(worst, 2e-7);
  V e = exp2v(splat(-std::numeric_limits<float>::infinity()));
  for (int l = 0; l < kW; ++l)
    EXPECT_EQ(e[l], 0.0f);
}
