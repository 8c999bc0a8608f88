//===- FastMath.h - exp and tanh that vectorize, for Halide kernels -*- C++
//-*-===//
//
// Halide's exp and tanh on floats call libm once per element, which keeps
// GELU and softmax scalar. These are polynomial versions that vectorize,
// accurate to about 1e-7 relative (exp) and 1e-7 absolute (tanh).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_FASTMATH_H
#define GPTC_BACKENDS_CPU_FASTMATH_H

#include "Halide.h"

namespace gptc {

/// 2^k * p(r) with k = round(x / ln 2), r = x - k ln 2 in two parts
/// (Cody-Waite) and p the degree-7 Taylor polynomial, whose error on
/// |r| <= ln(2)/2 is below 1e-8; 0 below -87 (so exp(-inf) is 0).
inline Halide::Expr fastExp(Halide::Expr x) {
  using namespace Halide;
  Expr xc = clamp(x, -87.0f, 88.0f);
  Expr k = floor(xc * 1.44269504089f + 0.5f);
  Expr r = xc - k * 0.693359375f + k * 2.12194440e-4f;
  Expr p = 1.0f / 5040;
  for (float c :
       {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f})
    p = p * r + c;
  Expr scale = reinterpret(Float(32), cast<int32_t>(k + 127.0f) << 23);
  return select(x < -87.0f, 0.0f, p * scale);
}

/// tanh(x) = (e^2x - 1) / (e^2x + 1), with its odd series near 0 where that
/// quotient cancels.
inline Halide::Expr fastTanh(Halide::Expr x) {
  using namespace Halide;
  Expr e = fastExp(2.0f * clamp(x, -9.0f, 9.0f));
  Expr x2 = x * x;
  Expr series =
      x * (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315))));
  return select(abs(x) < 0.125f, series, (e - 1.0f) / (e + 1.0f));
}

} // namespace gptc

#endif // GPTC_BACKENDS_CPU_FASTMATH_H
