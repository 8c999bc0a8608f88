//===- TestUtil.h - Helpers shared by the unit tests -------------*- C++
//-*-===//

#ifndef GPTC_TESTS_TESTUTIL_H
#define GPTC_TESTS_TESTUTIL_H

#include <algorithm>
#include <cmath>
#include <vector>

namespace gptc::test {

/// The error (docs/Architecture.md) of `a` against the reference `b`:
/// max|a - b| / max(max|b|, 1e-6).
inline double relError(const std::vector<double> &a,
                       const std::vector<double> &b) {
  double diff = 0, scale = 1e-6;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return diff / scale;
}

} // namespace gptc::test

#endif // GPTC_TESTS_TESTUTIL_H
