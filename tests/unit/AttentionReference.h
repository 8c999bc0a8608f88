//===- AttentionReference.h - Attention in double, for kernel tests ------===//
//
// The naive double-precision attention and gradients the kernel tests
// compare with (the interpreter's formulas), their random inputs, and the
// problem descriptions: shared by the CPU flash-attention tests and the
// emulated CUDA kernels' tests.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_TESTS_ATTENTIONREFERENCE_H
#define GPTC_TESTS_ATTENTIONREFERENCE_H

#include "FlashAttention.h"

#include "gptc/Runtime/Philox.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace gptc::test {

inline void serialFor(int n, void (*task)(void *, int), void *ctx) {
  for (int i = 0; i < n; ++i)
    task(ctx, i);
}

struct Shape {
  int64_t T, S;
  bool causal;
};

struct Tensors {
  std::vector<float> q, k, v, dout;
};

inline Tensors randomInputs(int64_t batch, int64_t T, int64_t S, int D,
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
inline void expectClose(const std::vector<float> &got,
                        const std::vector<double> &want, double tol,
                        const char *what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double err = 0, mag = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    err = std::max(err, std::abs(got[i] - want[i]));
    mag = std::max(mag, std::abs(want[i]));
  }
  EXPECT_LE(err, tol * (1 + mag)) << what << " (max |ref| " << mag << ")";
}

/// The grouped-query cases of the kernel tests: 8 query heads over 4
/// key/value heads, causal and not, with and without dropout; `check(s,
/// dropout)` runs one.
constexpr int64_t kGroupedBatch = 8, kGroups = 2;
template <typename Check> void forGroupedCases(int D, Check check) {
  for (bool dropout : {false, true})
    for (Shape s :
         {Shape{7, 7, true}, Shape{70, 70, true}, Shape{5, 9, false}}) {
      SCOPED_TRACE(testing::Message()
                   << "D=" << D << " T=" << s.T << " dropout=" << dropout);
      check(s, dropout);
    }
}

inline flash::Problem problem(int64_t batch, Shape s, int D, bool dropout,
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

} // namespace gptc::test

#endif // GPTC_TESTS_ATTENTIONREFERENCE_H
