//===- Shape.h - Symbolic dimensions and tensor types ------------*- C++
//-*-===//
//
// A dimension is a monomial `coeff * B^i * T^j ...` over the symbols bound by
// an entry point's arguments (B, T). Monomials are closed under the products
// and exact quotients that reshapes, splits and head sizes need, and equality
// is structural, so shape checks stay exact without a solver. A sum of two
// different monomials is rejected with a clear error rather than approximated.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_FRONTEND_SHAPE_H
#define GPTC_FRONTEND_SHAPE_H

#include "gptc/Frontend/AST.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gptc {

/// A symbolic integer: coeff * prod(sym ^ exponent).
struct Dim {
  int64_t coeff = 0;
  std::map<std::string, int> syms;

  Dim() = default;
  Dim(int64_t c) : coeff(c) {}
  static Dim symbol(const std::string &name) {
    Dim d(1);
    d.syms[name] = 1;
    return d;
  }

  bool isConstant() const { return syms.empty(); }
  bool operator==(const Dim &o) const {
    return coeff == o.coeff && (coeff == 0 || syms == o.syms);
  }
  bool operator!=(const Dim &o) const { return !(*this == o); }
  /// `768`, `B`, `3*T`, `B*T`.
  std::string str() const;
};

Dim operator*(const Dim &a, const Dim &b);
/// Exact quotient, or nullopt when `a` is not a multiple of `b`.
std::optional<Dim> exactDiv(const Dim &a, const Dim &b);
/// Sum of like monomials (or constants), nullopt otherwise.
std::optional<Dim> addDims(const Dim &a, const Dim &b);

/// Element type and (possibly symbolic) shape of a tensor value.
struct TensorType {
  ast::ElemType elem = ast::ElemType::F32;
  std::vector<Dim> shape;

  size_t rank() const { return shape.size(); }
  bool operator==(const TensorType &o) const {
    return elem == o.elem && shape == o.shape;
  }
  /// `f32[B, T, 768]`.
  std::string str() const;
  /// Product of all dims.
  Dim numElements() const;
};

/// NumPy broadcasting of two shapes, or nullopt when they do not broadcast.
std::optional<std::vector<Dim>> broadcastShapes(const std::vector<Dim> &a,
                                                const std::vector<Dim> &b);

/// `[B, T, 768]`.
std::string shapeStr(const std::vector<Dim> &shape);

} // namespace gptc

#endif // GPTC_FRONTEND_SHAPE_H
