//===- Sampling.cpp - Choosing the next token from logits -----------------===//

#include "gptc/Runtime/Sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace gptc {

uint32_t sampleToken(const float *logits, int64_t vocab,
                     const SamplingOptions &options, std::mt19937_64 &rng) {
  std::vector<double> l(logits, logits + vocab);
  const double ninf = -std::numeric_limits<double>::infinity();
  if (options.topK > 0 && options.topK < vocab) {
    std::vector<double> sorted = l;
    std::nth_element(sorted.begin(), sorted.begin() + (options.topK - 1),
                     sorted.end(), std::greater<double>());
    double kth = sorted[options.topK - 1];
    for (double &x : l)
      if (x < kth)
        x = ninf;
  }
  if (options.temperature <= 0)
    return static_cast<uint32_t>(std::max_element(l.begin(), l.end()) -
                                 l.begin());
  double top = *std::max_element(l.begin(), l.end());
  std::vector<double> p(vocab);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    sum += p[i] = std::exp((l[i] - top) / options.temperature);
  for (double &x : p)
    x /= sum;
  if (options.topP < 1.0) {
    std::vector<int64_t> order(vocab);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return p[a] > p[b]; });
    double mass = 0;
    size_t keep = 0;
    while (keep < order.size() && mass < options.topP)
      mass += p[order[keep++]];
    for (size_t i = keep; i < order.size(); ++i)
      p[order[i]] = 0;
  }
  // Inverse CDF of a uniform from the top 53 bits: the same tokens for a
  // seed on every platform (std distributions are implementation-defined).
  double total = std::accumulate(p.begin(), p.end(), 0.0);
  double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * total;
  int64_t last = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (p[i] <= 0)
      continue;
    last = i;
    if (u < p[i])
      return static_cast<uint32_t>(i);
    u -= p[i];
  }
  return static_cast<uint32_t>(last);
}

} // namespace gptc
