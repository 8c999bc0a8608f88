//===- SamplingTest.cpp - The book's generate sampling --------------------===//

#include "gptc/Runtime/Sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

using namespace gptc;

namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, -1.0f, 2.5f, 0.0f};

std::map<uint32_t, int> histogram(const SamplingOptions &o, int draws) {
  std::mt19937_64 rng(42);
  std::map<uint32_t, int> h;
  for (int i = 0; i < draws; ++i)
    ++h[sampleToken(kLogits.data(), kLogits.size(), o, rng)];
  return h;
}

TEST(Sampling, TemperatureZeroIsTheArgmax) {
  std::mt19937_64 rng(1);
  EXPECT_EQ(sampleToken(kLogits.data(), kLogits.size(), {}, rng), 1u);
  // Top-k before temperature: with k = 1 any temperature is greedy.
  SamplingOptions o;
  o.temperature = 5;
  o.topK = 1;
  EXPECT_EQ(histogram(o, 200), (std::map<uint32_t, int>{{1, 200}}));
}

TEST(Sampling, DrawsFollowTheSoftmaxOfLogitsOverTemperature) {
  SamplingOptions o;
  o.temperature = 2;
  const int draws = 40000;
  std::map<uint32_t, int> h = histogram(o, draws);
  double z = 0;
  for (float l : kLogits)
    z += std::exp(l / 2.0);
  for (size_t i = 0; i < kLogits.size(); ++i) {
    double p = std::exp(kLogits[i] / 2.0) / z;
    double sd = std::sqrt(p * (1 - p) / draws);
    EXPECT_NEAR(h[i] / double(draws), p, 5 * sd) << "token " << i;
  }
}

TEST(Sampling, TopKAndTopPLimitTheCandidates) {
  SamplingOptions o;
  o.temperature = 1;
  o.topK = 3; // tokens 1 (3.0), 4 (2.5), 2 (2.0)
  for (auto &[token, n] : histogram(o, 3000))
    EXPECT_TRUE(token == 1 || token == 4 || token == 2) << token;
  // Probabilities at T=1: 0.48, 0.29, 0.18, ... : p = 0.7 keeps two.
  o.topK = 0;
  o.topP = 0.7;
  std::map<uint32_t, int> h = histogram(o, 3000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_TRUE(h.count(1) && h.count(4));
}

TEST(Sampling, ASeedGivesTheSameTokens) {
  SamplingOptions o;
  o.temperature = 1.3;
  EXPECT_EQ(histogram(o, 500), histogram(o, 500));
}

} // namespace
