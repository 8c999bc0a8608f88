//===- ShapeRules.cpp - Each op's shape rule, once, without MLIR ----------===//

#include "gptc/IR/ShapeRules.h"

#include <algorithm>

namespace gptc::shapes {

namespace {

std::string str(const Shape &s) { return shapeStr(s); }

bool fits(const Shape &a, const Shape &b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!compatible(a[i], b[i]))
      return false;
  return true;
}

/// Null when `axis` is a dim of a rank-`rank` shape, else the error.
std::optional<Result> badAxis(int64_t axis, size_t rank) {
  if (axis >= 0 && axis < static_cast<int64_t>(rank))
    return std::nullopt;
  return Result::fail("axis " + std::to_string(axis) +
                      " is out of range for a rank-" + std::to_string(rank) +
                      " tensor");
}

/// Whether `from` broadcasts to `to`: aligned from the right, each dim of
/// `from` is 1 or fits the dim of `to`.
bool broadcastsTo(const Shape &from, const Shape &to) {
  if (from.size() > to.size())
    return false;
  for (size_t i = 0; i < from.size(); ++i) {
    const Dim &f = from[from.size() - 1 - i], &t = to[to.size() - 1 - i];
    if (!(f == Dim(1) || compatible(f, t)))
      return false;
  }
  return true;
}

/// x [B, H, T, D] against a cache [B, H, S, D] and positions [B, T].
std::optional<Result> badCache(const std::string &what, const Shape &x,
                               const Shape &cache, const Shape *positions) {
  if (x.size() != 4 || cache.size() != 4)
    return Result::fail("needs " + what +
                        " [B, H, T, D] and a cache "
                        "[B, H, S, D], got " +
                        str(x) + " and " + str(cache));
  if (!compatible(x[0], cache[0]) || !compatible(x[1], cache[1]) ||
      !compatible(x[3], cache[3]))
    return Result::fail(what + " " + str(x) + " does not fit the cache " +
                        str(cache));
  if (positions &&
      (positions->size() != 2 || !compatible((*positions)[0], x[0]) ||
       !compatible((*positions)[1], x[2])))
    return Result::fail("positions " + str(*positions) +
                        " must be [B, T] for " + str(x));
  return std::nullopt;
}

} // namespace

Result broadcast(const Shape &a, const Shape &b) {
  if (auto s = broadcastShapes(a, b))
    return Result::ok(*s);
  return Result::fail("cannot broadcast " + str(a) + " and " + str(b) +
                      ": aligned from the right, each pair of dims must be "
                      "equal or one of them 1");
}

Result where(const Shape &cond, const Shape &a, const Shape &b) {
  auto values = broadcastShapes(a, b);
  auto all = values ? broadcastShapes(cond, *values) : std::nullopt;
  if (!all)
    return Result::fail("cannot broadcast the mask " + str(cond) +
                        " and the values " + str(a) + " and " + str(b) +
                        " together: aligned from the right, each dim must be "
                        "equal or 1");
  return Result::ok(*all);
}

Result full(const Shape &shape) {
  for (const Dim &d : shape)
    if (!d.isUnknown() && d.coeff <= 0)
      return Result::fail("a tensor's dims must be positive, got " +
                          str(shape));
  return Result::ok(shape);
}

Result matmul(const Shape &a, const Shape &b) {
  if (a.size() < 2 || b.size() < 2)
    return Result::fail("matmul needs operands of rank >= 2, got " + str(a) +
                        " @ " + str(b));
  const Dim &k1 = a.back(), &k2 = b[b.size() - 2];
  if (!compatible(k1, k2))
    return Result::fail("matmul inner dimensions differ: " + str(a) + " @ " +
                        str(b) + " (" + k1.str() + " vs " + k2.str() + ")");
  auto batch = broadcastShapes(Shape(a.begin(), a.end() - 2),
                               Shape(b.begin(), b.end() - 2));
  if (!batch)
    return Result::fail("matmul batch dimensions do not broadcast: " + str(a) +
                        " @ " + str(b));
  batch->push_back(a[a.size() - 2]);
  batch->push_back(b.back());
  return Result::ok(*batch);
}

Result transpose(const Shape &in, const std::vector<int64_t> &perm) {
  if (perm.size() != in.size())
    return Result::fail("perm has " + std::to_string(perm.size()) +
                        " entries for a rank-" + std::to_string(in.size()) +
                        " input");
  std::vector<bool> seen(in.size(), false);
  Shape out;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(in.size()) || seen[p])
      return Result::fail("perm is not a permutation of the " +
                          std::to_string(in.size()) + " dims");
    seen[p] = true;
    out.push_back(in[p]);
  }
  return Result::ok(out);
}

Result reshape(const Shape &in, const Shape &target) {
  for (const Dim &d : target)
    if (!d.isUnknown() && d.coeff <= 0)
      return Result::fail("reshape dims must be positive, got " + str(target));
  Dim a = numElements(in), b = numElements(target);
  if (!a.isUnknown() && !b.isUnknown() && a != b)
    return Result::fail("cannot reshape " + str(in) + " (" + a.str() +
                        " elements) into " + str(target) + " (" + b.str() +
                        ")");
  return Result::ok(target);
}

Result concat(const std::vector<Shape> &inputs, int64_t axis) {
  if (inputs.empty())
    return Result::fail("concat needs at least one tensor");
  const Shape &first = inputs[0];
  if (auto bad = badAxis(axis, first.size()))
    return *bad;
  Shape out = first;
  for (size_t i = 1; i < inputs.size(); ++i) {
    const Shape &x = inputs[i];
    int k = static_cast<int>(i);
    bool ok = x.size() == first.size();
    for (size_t d = 0; ok && d < x.size(); ++d)
      ok = static_cast<int64_t>(d) == axis || compatible(x[d], first[d]);
    if (!ok)
      return Result::fail("concat along axis " + std::to_string(axis) +
                              " needs the other dims equal: " + str(first) +
                              " and " + str(x),
                          k);
    if (out[axis].isUnknown() || x[axis].isUnknown()) {
      out[axis] = Dim::unknown();
      continue;
    }
    auto sum = addDims(out[axis], x[axis]);
    if (!sum)
      return Result::fail("concat along axis " + std::to_string(axis) +
                              " adds " + out[axis].str() + " and " +
                              x[axis].str() +
                              ", which is not a product of "
                              "the input dims",
                          k);
    out[axis] = *sum;
  }
  return Result::ok(out);
}

Result gather(const Shape &x, const Shape &index, int64_t axis) {
  if (auto bad = badAxis(axis, x.size()))
    return *bad;
  bool ok = index.size() == x.size();
  for (size_t d = 0; ok && d < x.size(); ++d)
    ok = static_cast<int64_t>(d) == axis || index[d] == Dim(1) ||
         compatible(index[d], x[d]);
  if (!ok)
    return Result::fail("gather along axis " + std::to_string(axis) +
                            " needs an index of x's rank whose other dims "
                            "are 1 or x's: " +
                            str(x) + " and " + str(index),
                        1);
  Shape out = x;
  out[axis] = index[axis];
  return Result::ok(out);
}

Result gatherGrad(const Shape &grad, const Shape &index, const Shape &like,
                  int64_t axis) {
  Result forward = gather(like, index, axis);
  if (forward.failed())
    return forward;
  if (!fits(grad, forward.shape))
    return Result::fail("gradient " + str(grad) +
                        " does not match the "
                        "gather's result " +
                        str(forward.shape));
  return Result::ok(like);
}

Result split(const Shape &in, int64_t axis, int64_t parts, int64_t index) {
  if (auto bad = badAxis(axis, in.size()))
    return *bad;
  if (parts < 1 || index < 0 || index >= parts)
    return Result::fail("piece " + std::to_string(index) + " of " +
                        std::to_string(parts) + " does not exist");
  Shape out = in;
  if (in[axis].isUnknown())
    return Result::ok(out);
  auto size = exactDiv(in[axis], Dim(parts));
  if (!size)
    return Result::fail("cannot split dim " + std::to_string(axis) + " of " +
                        str(in) + " into " + std::to_string(parts) +
                        " equal parts");
  out[axis] = *size;
  return Result::ok(out);
}

Result slice(const Shape &in, const Shape &starts, const Shape &ends,
             const std::vector<int64_t> &squeeze) {
  if (starts.size() != in.size() || ends.size() != in.size())
    return Result::fail("a slice needs one start and one end per dim of " +
                        str(in));
  Shape out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (std::count(squeeze.begin(), squeeze.end(), static_cast<int64_t>(i))) {
      if (starts[i].isUnknown())
        return Result::fail("the index of dim " + std::to_string(i) +
                                " must be static",
                            static_cast<int>(i));
      continue;
    }
    const Dim &lo = starts[i], &hi = ends[i], &d = in[i];
    if (lo.isUnknown() || hi.isUnknown()) {
      out.push_back(Dim::unknown());
      continue;
    }
    std::string range = lo.str() + ":" + hi.str();
    int dim = static_cast<int>(i);
    if (lo.isConstant() && lo.coeff < 0)
      return Result::fail("slice start " + lo.str() + " of dim " +
                              std::to_string(i) + " is negative",
                          dim);
    if (hi.isConstant() && d.isConstant() && hi.coeff > d.coeff)
      return Result::fail("slice end " + hi.str() + " is past the end of dim " +
                              std::to_string(i) + " (size " + d.str() + ")",
                          dim);
    auto size = addDims(hi, lo * Dim(-1));
    if (!size || (size->isConstant() && size->coeff <= 0))
      return Result::fail("slice " + range + " of a dim of size " + d.str() +
                              " is empty or not expressible",
                          dim);
    out.push_back(*size);
  }
  return Result::ok(out);
}

Result reduce(const Shape &in, int64_t axis, bool keepdim) {
  if (auto bad = badAxis(axis, in.size()))
    return *bad;
  Shape out = in;
  if (keepdim)
    out[axis] = Dim(1);
  else
    out.erase(out.begin() + axis);
  return Result::ok(out);
}

Result alongAxis(const Shape &in, int64_t axis) {
  if (auto bad = badAxis(axis, in.size()))
    return *bad;
  return Result::ok(in);
}

Result layerNorm(const Shape &in, const Shape &scale, const Shape &shift) {
  if (in.empty())
    return Result::fail("layer_norm needs an input of rank >= 1", 0);
  Shape want = {in.back()};
  for (int i : {1, 2}) {
    const Shape &s = i == 1 ? scale : shift;
    if (!fits(s, want))
      return Result::fail(std::string("layer_norm's ") +
                              (i == 1 ? "scale" : "shift") + " must be " +
                              str(want) + " (the last dim of " + str(in) +
                              "), got " + str(s),
                          i);
  }
  return Result::ok(in);
}

Result causalMask(const Dim &n) {
  if (!n.isUnknown() && n.coeff <= 0)
    return Result::fail("causal_mask needs a positive size", 0);
  return Result::ok({n, n});
}

Result arange(const Dim &n) {
  if (!n.isUnknown() && n.coeff <= 0)
    return Result::fail("arange needs a positive length", 0);
  return Result::ok({n});
}

Result maskedFill(const Shape &in, const Shape &mask) {
  if (!broadcastsTo(mask, in))
    return Result::fail("the mask " + str(mask) +
                            " does not broadcast to the input's shape " +
                            str(in),
                        1);
  return Result::ok(in);
}

Result embedding(const Shape &ids, const Shape &table) {
  if (table.size() != 2)
    return Result::fail(
        "the embedding table must be rank 2 [rows, dim], got " + str(table), 1);
  Shape out = ids;
  out.push_back(table[1]);
  return Result::ok(out);
}

Result crossEntropy(const Shape &logits, const Shape &targets) {
  Result r = crossEntropyGrad(logits, targets);
  if (r.failed())
    return r;
  return Result::ok({});
}

Result crossEntropyGrad(const Shape &logits, const Shape &targets) {
  if (logits.size() < 2 ||
      !fits(targets, Shape(logits.begin(), logits.end() - 1)))
    return Result::fail("cross_entropy expects logits [..., V] and targets "
                        "with the leading dims, got " +
                        str(logits) + " and " + str(targets));
  return Result::ok(logits);
}

Result unbroadcast(const Shape &in, const Shape &like) {
  if (!broadcastsTo(like, in))
    return Result::fail("shape " + str(like) + " does not broadcast to " +
                        str(in));
  return Result::ok(like);
}

Result broadcastLike(const Shape &in, const Shape &like) {
  if (!broadcastsTo(in, like))
    return Result::fail("shape " + str(in) + " does not broadcast to " +
                        str(like));
  return Result::ok(like);
}

Result unsqueeze(const Shape &in, int64_t axis) {
  if (axis < 0 || axis > static_cast<int64_t>(in.size()))
    return Result::fail("axis " + std::to_string(axis) +
                        " is out of range for a new dim of a rank-" +
                        std::to_string(in.size()) + " tensor (0.." +
                        std::to_string(in.size()) + ")");
  Shape out = in;
  out.insert(out.begin() + axis, Dim(1));
  return Result::ok(out);
}

Result embeddingGrad(const Shape &ids, const Shape &table, const Shape &grad,
                     const Shape *base) {
  bool ok = table.size() == 2 && grad.size() == ids.size() + 1 &&
            compatible(grad.back(), table[1]) &&
            fits(ids, Shape(grad.begin(), grad.end() - 1));
  if (!ok)
    return Result::fail("gradient " + str(grad) + " does not fit ids " +
                        str(ids) + " and table " + str(table));
  if (base && !fits(*base, table))
    return Result::fail(
        "base " + str(*base) + " is not shaped like table " + str(table), 3);
  return Result::ok(table);
}

Result unsplit(const Shape &in, const Shape &like, int64_t axis, int64_t parts,
               int64_t index) {
  if (auto bad = badAxis(axis, like.size()))
    return *bad;
  Result piece = split(like, axis, parts, index);
  if (piece.failed() || !fits(in, piece.shape))
    return Result::fail("piece " + str(in) + " is not piece " +
                        std::to_string(index) + " of " + std::to_string(parts) +
                        " of " + str(like) + " along axis " +
                        std::to_string(axis));
  return Result::ok(like);
}

Result unslice(const Shape &like, size_t starts, size_t ends) {
  if (starts != like.size() || ends != like.size())
    return Result::fail("needs one start and one end per dim of the result " +
                        str(like));
  return Result::ok(like);
}

Result attention(const Shape &q, const Shape &k, const Shape &v, bool causal) {
  std::string all = str(q) + ", " + str(k) + " and " + str(v);
  if (q.size() < 2 || k.size() != q.size() || v.size() != q.size())
    return Result::fail("q, k and v must have the same rank >= 2, got " + all);
  size_t r = q.size();
  // Grouped-query attention: k and v may have fewer heads (the last batch
  // dim), each serving q's heads / k's heads consecutive query heads.
  auto fits = [&](size_t i, const Shape &x) {
    return compatible(q[i], x[i]) ||
           (i + 3 == r && q[i].isConstant() && x[i].isConstant() &&
            x[i].coeff > 0 && q[i].coeff % x[i].coeff == 0);
  };
  for (size_t i = 0; i + 2 < r; ++i)
    if (!fits(i, k) || !fits(i, v) || !compatible(k[i], v[i]))
      return Result::fail("attention batch dims differ: " + all);
  if (!compatible(q[r - 1], k[r - 1]))
    return Result::fail("q and k head dims differ: " + str(q) + " and " +
                        str(k));
  if (!compatible(k[r - 2], v[r - 2]))
    return Result::fail("k and v lengths differ: " + str(k) + " and " + str(v));
  if (causal && !compatible(q[r - 2], k[r - 2]))
    return Result::fail("a causal mask needs as many queries as keys: " +
                        str(q) + " and " + str(k));
  Shape out = q;
  out[r - 1] = v[r - 1];
  return Result::ok(out);
}

Result attentionGrad(const Shape &grad, const Shape &q, const Shape &k,
                     const Shape &v, const Shape &out, const Shape &lse,
                     bool causal) {
  Result fwd = attention(q, k, v, causal);
  if (fwd.failed())
    return fwd;
  if (!fits(grad, fwd.shape))
    return Result::fail("gradient " + str(grad) +
                        " does not match the attention output " +
                        str(fwd.shape));
  if (!fits(out, fwd.shape))
    return Result::fail("forward output " + str(out) +
                        " does not match the attention output " +
                        str(fwd.shape));
  Shape rows(fwd.shape.begin(), fwd.shape.end() - 1);
  if (!fits(lse, rows))
    return Result::fail("lse " + str(lse) + " does not match the rows " +
                        str(rows));
  return Result::ok(q);
}

Result cacheWrite(const Shape &x, const Shape &cache, const Shape *positions) {
  if (auto bad = badCache("new entries", x, cache, positions))
    return *bad;
  return Result::ok(cache);
}

Result cachedAttention(const Shape &q, const Shape &kCache, const Shape &vCache,
                       const Shape *positions) {
  // Grouped-query attention: the caches hold H / G heads, each serving G
  // consecutive query heads; the check is against q with that many heads.
  Shape grouped = q;
  if (q.size() == 4 && kCache.size() == 4 && !compatible(q[1], kCache[1]))
    if (exactDiv(q[1], kCache[1]))
      grouped[1] = kCache[1];
  if (auto bad = badCache("q", grouped, kCache, positions))
    return *bad;
  if (auto bad = badCache("q", grouped, vCache, nullptr))
    return *bad;
  return Result::ok(q);
}

} // namespace gptc::shapes
