//===- FlashAttentionTest.cpp - The CPU flash-attention kernels -----------===//
//
// Checks backends/cpu/FlashAttention.h against a naive double-precision
// attention (the interpreter's formulas), with and without causal masking
// and dropout, and checks that results do not depend on threading.
//
//===----------------------------------------------------------------------===//

#include "FlashAttention.h"

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

namespace {

void serialFor(int n, void (*task)(void *, int), void *ctx) {
  for (int i = 0; i < n; ++i)
    task(ctx, i);
}

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

struct Shape {
  int64_t T, S;
  bool causal;
};

struct Tensors {
  std::vector<float> q, k, v, dout;
};

Tensors randomInputs(int64_t batch, int64_t T, int64_t S, int D,
                     unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  Tensors t;
  auto fill = [&](std::vector<float> &x, size_t n, float scale) {
    x.resize(n);
    for (float &e : x)
      e = scale * u(rng);
  };
  // Scores of spread about 2 around 0 under scale 1/sqrt(D), so softmax
  // rows are neither flat nor one-hot.
  fill(t.q, batch * T * D, 6);
  fill(t.k, batch * S * D, 1);
  fill(t.v, batch * S * D, 1);
  fill(t.dout, batch * T * D, 1);
  return t;
}

/// Attention and its gradients in double, the interpreter's way: weights
/// from the scores, dropout as P M / (1 - p), Di as rowsum(dP P).
struct Reference {
  std::vector<double> out, lse, dq, dk, dv;

  Reference(const flash::Problem &pb, int D, const Tensors &x) {
    const int64_t B = pb.batch, T = pb.T, S = pb.S;
    const double p = pb.p;
    bool drop = pb.dropout && pb.p > 0;
    out.assign(B * T * D, 0);
    lse.assign(B * T, 0);
    dq.assign(B * T * D, 0);
    dk.assign(B * S * D, 0);
    dv.assign(B * S * D, 0);
    std::vector<double> P(S), Pd(S), dS(S);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < T; ++i) {
        const float *qi = &x.q[(b * T + i) * D];
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < S; ++j) {
          double s = 0;
          for (int d = 0; d < D; ++d)
            s += double(qi[d]) * x.k[(b * S + j) * D + d];
          P[j] = pb.causal && j > i ? -std::numeric_limits<double>::infinity()
                                    : s * pb.scale;
          m = std::max(m, P[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < S; ++j)
          sum += std::exp(P[j] - m);
        double l = m + std::log(sum);
        lse[b * T + i] = l;
        for (int64_t j = 0; j < S; ++j) {
          P[j] = std::exp(P[j] - l);
          uint64_t flat = (b * T + i) * S + j;
          Pd[j] = !drop ? P[j]
                  : dropoutKeeps(p, pb.seed, pb.step, pb.id, flat)
                      ? P[j] / (1 - p)
                      : 0.0;
        }
        const float *gi = &x.dout[(b * T + i) * D];
        double dot = 0;
        for (int64_t j = 0; j < S; ++j) {
          const float *vj = &x.v[(b * S + j) * D];
          double dPd = 0;
          for (int d = 0; d < D; ++d) {
            out[(b * T + i) * D + d] += Pd[j] * vj[d];
            dv[(b * S + j) * D + d] += Pd[j] * gi[d];
            dPd += double(gi[d]) * vj[d];
          }
          dS[j] = P[j] > 0 ? dPd * Pd[j] / P[j] : 0.0;
          dot += dS[j] * P[j];
        }
        for (int64_t j = 0; j < S; ++j) {
          double g = pb.scale * P[j] * (dS[j] - dot);
          for (int d = 0; d < D; ++d) {
            dq[(b * T + i) * D + d] += g * x.k[(b * S + j) * D + d];
            dk[(b * S + j) * D + d] += g * qi[d];
          }
        }
      }
  }
};

/// Max |got - want| against tol * (1 + max |want|).
void expectClose(const std::vector<float> &got, const std::vector<double> &want,
                 double tol, const char *what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double err = 0, mag = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    err = std::max(err, std::abs(got[i] - want[i]));
    mag = std::max(mag, std::abs(want[i]));
  }
  EXPECT_LE(err, tol * (1 + mag)) << what << " (max |ref| " << mag << ")";
}

flash::Problem problem(int64_t batch, Shape s, int D, bool dropout,
                       flash::ParallelFor pf = serialFor) {
  flash::Problem pb{};
  pb.batch = batch;
  pb.T = s.T;
  pb.S = s.S;
  pb.causal = s.causal;
  pb.scale = 1.0f / std::sqrt(float(D));
  pb.dropout = dropout;
  pb.p = 0.2;
  pb.seed = 0x1234567890abcdefull;
  pb.step = 17;
  pb.id = 3;
  pb.parallelFor = pf;
  return pb;
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
