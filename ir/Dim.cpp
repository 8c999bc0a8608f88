//===- Dim.cpp - Symbolic dimensions
//---------------------------------------===//

#include "gptc/IR/Dim.h"

#include <algorithm>

namespace gptc {

std::string Dim::str() const {
  if (isUnknown())
    return "?";
  if (syms.empty() || coeff == 0)
    return std::to_string(coeff);
  std::string s = coeff == 1 ? "" : std::to_string(coeff);
  for (auto &[name, exp] : syms)
    for (int i = 0; i < exp; ++i)
      s += (s.empty() ? "" : "*") + name;
  return s;
}

Dim operator*(const Dim &a, const Dim &b) {
  Dim r(a.coeff * b.coeff);
  if (r.coeff == 0)
    return r;
  r.syms = a.syms;
  for (auto &[n, e] : b.syms)
    r.syms[n] += e;
  return r;
}

std::optional<Dim> exactDiv(const Dim &a, const Dim &b) {
  if (b.coeff == 0 || a.coeff % b.coeff != 0)
    return std::nullopt;
  Dim r(a.coeff / b.coeff);
  r.syms = a.syms;
  for (auto &[n, e] : b.syms) {
    auto it = r.syms.find(n);
    if (it == r.syms.end() || it->second < e)
      return std::nullopt;
    if ((it->second -= e) == 0)
      r.syms.erase(it);
  }
  return r;
}

std::optional<Dim> addDims(const Dim &a, const Dim &b) {
  if (a.coeff == 0)
    return b;
  if (b.coeff == 0)
    return a;
  if (a.syms != b.syms)
    return std::nullopt;
  Dim r(a.coeff + b.coeff);
  if (r.coeff != 0)
    r.syms = a.syms;
  return r;
}

std::string shapeStr(const std::vector<Dim> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + shape[i].str();
  return s + "]";
}

Dim numElements(const std::vector<Dim> &shape) {
  Dim n(1);
  for (const Dim &d : shape)
    n = n * d;
  return n;
}

std::optional<std::vector<Dim>> broadcastShapes(const std::vector<Dim> &a,
                                                const std::vector<Dim> &b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<Dim> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the right, as NumPy does.
    const Dim *da = i < a.size() ? &a[a.size() - 1 - i] : nullptr;
    const Dim *db = i < b.size() ? &b[b.size() - 1 - i] : nullptr;
    Dim &o = out[rank - 1 - i];
    if (!da)
      o = *db;
    else if (!db)
      o = *da;
    else if (*da == *db || *db == Dim(1))
      o = *da;
    else if (*da == Dim(1))
      o = *db;
    else if (da->isUnknown())
      o = *db;
    else if (db->isUnknown())
      o = *da;
    else
      return std::nullopt;
  }
  return out;
}

} // namespace gptc
