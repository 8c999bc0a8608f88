//===- Parameters.cpp - Parameters, their initializers and names ----------===//
//
// A `param` gets its hierarchical name from the instance scopes
// (`h.3.attn.c_attn.weight`), is declared once per entry and must agree
// across entries, and takes its name under every `names` scheme (first
// matching rule wins; one `*`).
//
//===----------------------------------------------------------------------===//

#include "Elaborator.h"

#include "gptc/Support/Glob.h"

#include <cmath>
#include <sstream>

namespace gptc::sema {

void Elaborator::execParam(const ParamStmt &p) {
  TensorType t;
  t.elem = p.type.elem;
  if (t.elem != ElemType::F32)
    throw CompileError(p.type.loc, "parameters must be f32 tensors");
  for (auto &de : p.type.dims) {
    if (isa<EllipsisExpr>(de.get()))
      throw CompileError(de->loc, "a parameter's shape must be fully "
                                  "static; '...' is not allowed");
    Value v = eval(*de);
    if (v.kind == Value::Kind::Int && !v.dim.isConstant())
      throw CompileError(de->loc, "a parameter's shape must be static, but "
                                  "this dim is the symbolic " +
                                      v.dim.str());
    int64_t n = staticInt(v, de->loc, "a parameter dimension");
    if (n <= 0)
      throw CompileError(de->loc, "parameter dimensions must be positive, "
                                  "got " +
                                      std::to_string(n));
    t.shape.push_back(Dim(n));
  }
  checkedNumElements(t, p.loc);
  Initializer init = parseInit(*p.init);
  bool frozen = p.training == Training::Inherit
                    ? frames.back().frozen
                    : p.training == Training::Frozen;
  std::string name = joinName(frames.back().scope, p.name);
  auto prior = entryParams.find(name);
  if (prior != entryParams.end())
    throw CompileError(
        Diagnostic{p.loc, "duplicate parameter '" + name + "'", {}}.note(
            entry->nodes[prior->second].loc,
            "first declared here; give each call its own name with "
            "'as', e.g. Linear(x, 8) as proj"));
  if (const Parameter *existing = prog.findParam(name)) {
    if (!(existing->type == t) || existing->init.str() != init.str())
      throw CompileError(Diagnostic{
          p.loc,
          "parameter '" + name + "' is declared as " + t.str() + " = " +
              init.str() + " in entry '" + entry->name + "' but as " +
              existing->type.str() + " = " + existing->init.str() +
              " in another entry",
          {}}.note(existing->loc, "other declaration"));
    if (existing->frozen != frozen)
      throw CompileError(Diagnostic{
          p.loc,
          "parameter '" + name + "' is " + (frozen ? "frozen" : "trainable") +
              " in entry '" + entry->name + "' but " +
              (frozen ? "trainable" : "frozen") + " in another entry",
          {}}.note(existing->loc, "other declaration"));
  } else {
    Parameter param{name, t, init, p.loc, frozen, mapNames(name, p.loc)};
    prog.params.push_back(std::move(param));
  }
  int id = addNode("param", {}, t, p.loc, {{"name", name}});
  entryParams[name] = id;
  declare(p.name, Value::tensor(t, id), p.loc);
}

Initializer Elaborator::parseInit(const Expr &e) {
  auto *c = dynCast<CallExpr>(&e);
  const char *expected =
      "expected an initializer: normal(std), uniform(bound), zeros() or "
      "ones()";
  if (!c)
    throw CompileError(e.loc, expected);
  Initializer init;
  if (c->callee == "uniform")
    return parseScaleInit(*c, Initializer::Kind::Uniform, "bound",
                          "uniform(0.1)");
  if (c->callee == "zeros" || c->callee == "ones") {
    if (!c->args.empty() || !c->kwargs.empty())
      throw CompileError(c->loc, c->callee + "() takes no arguments");
    init.kind = c->callee == "zeros" ? Initializer::Kind::Zeros
                                     : Initializer::Kind::Ones;
    return init;
  }
  if (c->callee != "normal")
    throw CompileError(c->loc,
                       "unknown initializer '" + c->callee + "'; " + expected);
  return parseScaleInit(*c, Initializer::Kind::Normal, "std", "normal(0.02)");
}

Initializer Elaborator::parseScaleInit(const CallExpr &c,
                                       Initializer::Kind kind, const char *arg,
                                       const char *example) {
  const char *what =
      kind == Initializer::Kind::Normal ? "standard deviation" : "bound";
  const Expr *e = nullptr;
  if (c.args.size() == 1 && c.kwargs.empty())
    e = c.args[0].get();
  else if (c.args.empty() && c.kwargs.size() == 1 && c.kwargs[0].name == arg)
    e = c.kwargs[0].value.get();
  else
    throw CompileError(c.loc, c.callee + "() takes one argument, the " + what +
                                  ": " + example);
  Value v = eval(*e);
  if (!v.isStaticNumber() || !(v.asDouble() > 0) ||
      !std::isfinite(v.asDouble()))
    throw CompileError(e->loc, c.callee + "() needs a positive, finite " +
                                   what + ", got " + v.describe());
  Initializer init;
  init.kind = kind;
  init.scale = v.asDouble();
  return init;
}

void Elaborator::execMerge(const MergeStmt &m) {
  const char *form = "; a merge is 'merge weight += scale * (A @ B)' with A "
                     "and B parameters of this def and a static scale";
  std::string target = joinName(frames.back().scope, m.target);
  auto t = entryParams.find(target);
  if (t == entryParams.end())
    throw CompileError(m.targetLoc, "no parameter '" + target +
                                        "' declared before this merge" + form);
  // value: scale * (A @ B), (A @ B) * scale, or A @ B.
  const Expr *product = m.value.get();
  const Expr *scaleExpr = nullptr;
  if (auto *mul = dynCast<BinaryExpr>(product);
      mul && mul->op == BinaryOp::Mul) {
    bool left =
        isa<BinaryExpr>(mul->rhs.get()) &&
        static_cast<const BinaryExpr &>(*mul->rhs).op == BinaryOp::MatMul;
    product = left ? mul->rhs.get() : mul->lhs.get();
    scaleExpr = left ? mul->lhs.get() : mul->rhs.get();
  }
  auto *mm = dynCast<BinaryExpr>(product);
  if (!mm || mm->op != BinaryOp::MatMul)
    throw CompileError(m.value->loc, "expected a product of two parameters" +
                                         std::string(form));
  double scale = 1;
  if (scaleExpr) {
    Value v = eval(*scaleExpr);
    if (!v.isStaticNumber() || !std::isfinite(v.asDouble()))
      throw CompileError(scaleExpr->loc, "the merge's scale must be a finite "
                                         "static number, got " +
                                             v.describe());
    scale = v.asDouble();
  }
  auto param = [&](const Expr &e) -> std::pair<std::string, TensorType> {
    const Value *v = nullptr;
    if (auto *n = dynCast<NameExpr>(&e))
      v = lookup(n->name);
    if (!v || v->kind != Value::Kind::Tensor ||
        entry->nodes[v->node].op != "param")
      throw CompileError(e.loc, "expected a parameter of this def" +
                                    std::string(form));
    const Node &n = entry->nodes[v->node];
    return {std::get<std::string>(*n.attr("name")), n.type};
  };
  auto [a, at] = param(*mm->lhs);
  auto [b, bt] = param(*mm->rhs);
  const TensorType &tt = entry->nodes[t->second].type;
  if (at.shape.size() != 2 || bt.shape.size() != 2 || tt.shape.size() != 2 ||
      !(at.shape[1] == bt.shape[0]) || !(at.shape[0] == tt.shape[0]) ||
      !(bt.shape[1] == tt.shape[1]))
    throw CompileError(m.value->loc, "'" + a + "' " + at.str() + " @ '" + b +
                                         "' " + bt.str() +
                                         " does not give the shape of '" +
                                         target + "' " + tt.str());
  if (a == target || b == target)
    throw CompileError(m.value->loc,
                       "a merge cannot fold '" + target + "' into itself");
  Merge merge{target, a, b, scale, m.loc};
  for (const Merge &other : prog.merges) {
    if (other.target != target && other.a != a && other.b != b &&
        other.target != a && other.target != b && other.a != target &&
        other.b != target)
      continue;
    // Every entry expands the same def: the same merge again.
    if (other.target == target && other.a == a && other.b == b &&
        other.scale == scale)
      return;
    throw CompileError(Diagnostic{
        m.loc,
        "this merge into '" + target +
            "' overlaps another merge of the "
            "same parameters",
        {}}.note(other.loc, "the other merge"));
  }
  prog.merges.push_back(std::move(merge));
}

std::map<std::string, std::string> Elaborator::mapNames(const std::string &name,
                                                        Location loc) {
  std::map<std::string, std::string> out;
  for (auto *n : namesDecls) {
    bool matched = false;
    for (auto &r : n->rules) {
      auto m = matchGlob(r.pattern, name);
      if (!m)
        continue;
      std::string rep = r.replacement;
      size_t star = rep.find('*');
      if (star != std::string::npos)
        rep.replace(star, 1, *m);
      out[n->scheme] = rep;
      matched = true;
      break;
    }
    if (!matched)
      throw CompileError(Diagnostic{
          loc,
          "parameter '" + name + "' matches no rule of names '" + n->scheme +
              "'",
          {}}.note(n->loc, "add a rule here, e.g. \"*\" -> \"*\""));
  }
  return out;
}

/// What the (single) `*` of a matching `pattern` stood for in `s`.
std::optional<std::string> Elaborator::matchGlob(const std::string &pattern,
                                                 const std::string &s) {
  if (!globMatch(pattern, s))
    return std::nullopt;
  size_t star = pattern.find('*');
  if (star == std::string::npos)
    return std::string();
  size_t tail = pattern.size() - star - 1;
  return s.substr(star, s.size() - star - tail);
}

std::string Elaborator::joinName(const std::string &scope,
                                 const std::string &name) {
  if (scope.empty() || name.empty())
    return scope + name;
  return scope + "." + name;
}

std::string Elaborator::instanceScope(const CallExpr &c) {
  std::string path;
  for (auto &seg : c.instance) {
    if (seg.index) {
      int64_t i =
          staticInt(eval(*seg.index), seg.index->loc, "an instance index");
      if (i < 0)
        throw CompileError(seg.index->loc,
                           "instance indices must be non-negative");
      path += "." + std::to_string(i);
    } else {
      path += (path.empty() ? "" : ".") + seg.name;
    }
  }
  return joinName(frames.back().scope, path);
}

} // namespace gptc::sema
