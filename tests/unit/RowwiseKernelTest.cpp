//===- RowwiseKernelTest.cpp - Layer norm and softmax kernels vs reference
//-===//

#include "ln_test.h"
#include "softmax_causal_test.h"
#include "softmax_test.h"

#include "HalideBuffer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using Halide::Runtime::Buffer;

namespace {

struct Rows {
  int r, c;
};

class RowwiseKernel : public testing::TestWithParam<Rows> {};

TEST_P(RowwiseKernel, LayerNormMatchesReference) {
  auto [R, C] = GetParam();
  std::mt19937 rng(R * 31 + C);
  std::uniform_real_distribution<float> dist(-2, 2);
  Buffer<float> x(C, R), w(C), b(C), y(C, R);
  x.for_each_value([&](float &v) { v = dist(rng); });
  w.for_each_value([&](float &v) { v = dist(rng); });
  b.for_each_value([&](float &v) { v = dist(rng); });
  ASSERT_EQ(ln_test(x, w, b, y), 0);
  double worst = 0;
  for (int i = 0; i < R; ++i) {
    double mean = 0, var = 0;
    for (int j = 0; j < C; ++j)
      mean += x(j, i);
    mean /= C;
    for (int j = 0; j < C; ++j)
      var += (x(j, i) - mean) * (x(j, i) - mean);
    var /= C;
    for (int j = 0; j < C; ++j) {
      double want = (x(j, i) - mean) / std::sqrt(var + 1e-5) * w(j) + b(j);
      worst =
          std::max(worst, std::fabs(want - y(j, i)) / (1 + std::fabs(want)));
    }
  }
  EXPECT_LT(worst, 1e-5);
}

TEST_P(RowwiseKernel, SoftmaxMatchesReference) {
  auto [R, C] = GetParam();
  std::mt19937 rng(R * 17 + C);
  std::uniform_real_distribution<float> dist(-4, 4);
  Buffer<float> x(C, R);
  x.for_each_value([&](float &v) { v = dist(rng); });
  for (bool causal : {false, true}) {
    Buffer<float> y(C, R);
    ASSERT_EQ(causal ? softmax_causal_test(x, y) : softmax_test(x, y), 0);
    double worst = 0;
    for (int i = 0; i < R; ++i) {
      int visible = causal ? i % C + 1 : C;
      double mx = -1e30, total = 0;
      for (int j = 0; j < visible; ++j)
        mx = std::max(mx, 0.125 * x(j, i));
      for (int j = 0; j < visible; ++j)
        total += std::exp(0.125 * x(j, i) - mx);
      for (int j = 0; j < C; ++j) {
        double want = j < visible ? std::exp(0.125 * x(j, i) - mx) / total : 0;
        worst = std::max(worst, std::fabs(want - y(j, i)));
      }
    }
    EXPECT_LT(worst, 1e-6) << (causal ? "causal" : "plain");
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, RowwiseKernel,
                         testing::Values(Rows{1, 1}, Rows{3, 7}, Rows{5, 768},
                                         Rows{17, 100}, Rows{24, 8},
                                         Rows{64, 64}),
                         [](const auto &info) {
                           return std::to_string(info.param.r) + "x" +
                                  std::to_string(info.param.c);
                         });

} // namespace
