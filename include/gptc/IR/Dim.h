//===- Dim.h - Symbolic dimensions --------------------------------*- C++
//-*-===//
//
// A dimension is a monomial `coeff * B^i * T^j ...` over the symbols bound by
// an entry point's arguments (B, T). Monomials are closed under the products
// and exact quotients that reshapes, splits and head sizes need, and equality
// is structural, so shape checks stay exact without a solver. A sum of two
// different monomials is rejected with a clear error rather than approximated.
//
// The IR's types keep static sizes and `?`; the verifier's shape rules see a
// `?` as the unknown dim, compatible with every dim. The symbols themselves
// are named on the entry's arguments and derived for every other value by
// the same rules (SymbolicShapes.h).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_DIM_H
#define GPTC_IR_DIM_H

#include <cstdint>
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
  /// The IR's `?`: a size known only at run time. Products with it stay
  /// unknown.
  static Dim unknown() { return symbol("?"); }

  bool isConstant() const { return syms.empty(); }
  bool isUnknown() const { return syms.count("?") != 0; }
  bool operator==(const Dim &o) const {
    return coeff == o.coeff && (coeff == 0 || syms == o.syms);
  }
  bool operator!=(const Dim &o) const { return !(*this == o); }
  /// `768`, `B`, `3*T`, `B*T`, `?`.
  std::string str() const;
};

/// Equal, or one of them unknown.
inline bool compatible(const Dim &a, const Dim &b) {
  return a == b || a.isUnknown() || b.isUnknown();
}

Dim operator*(const Dim &a, const Dim &b);
/// Exact quotient, or nullopt when `a` is not a multiple of `b`.
std::optional<Dim> exactDiv(const Dim &a, const Dim &b);
/// Sum of like monomials (or constants), nullopt otherwise.
std::optional<Dim> addDims(const Dim &a, const Dim &b);

/// NumPy broadcasting of two shapes, or nullopt when they do not broadcast.
/// An unknown dim takes the other side's size.
std::optional<std::vector<Dim>> broadcastShapes(const std::vector<Dim> &a,
                                                const std::vector<Dim> &b);

/// `[B, T, 768]`.
std::string shapeStr(const std::vector<Dim> &shape);

/// The product of all dims.
Dim numElements(const std::vector<Dim> &shape);

} // namespace gptc

#endif // GPTC_IR_DIM_H
