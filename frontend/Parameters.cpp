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
  } else {
    Parameter param{name, t, init, p.loc, mapNames(name, p.loc)};
    prog.params.push_back(std::move(param));
  }
  int id = addNode("param", {}, t, p.loc, {{"name", name}});
  entryParams[name] = id;
  declare(p.name, Value::tensor(t, id), p.loc);
}

Initializer Elaborator::parseInit(const Expr &e) {
  auto *c = dynCast<CallExpr>(&e);
  const char *expected =
      "expected an initializer: normal(std), zeros() or ones()";
  if (!c)
    throw CompileError(e.loc, expected);
  Initializer init;
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
  const Expr *stdExpr = nullptr;
  if (c->args.size() == 1 && c->kwargs.empty())
    stdExpr = c->args[0].get();
  else if (c->args.empty() && c->kwargs.size() == 1 &&
           c->kwargs[0].name == "std")
    stdExpr = c->kwargs[0].value.get();
  else
    throw CompileError(c->loc, "normal() takes one argument, the standard "
                               "deviation: normal(0.02)");
  Value v = eval(*stdExpr);
  if (!v.isStaticNumber() || !(v.asDouble() > 0) ||
      !std::isfinite(v.asDouble()))
    throw CompileError(stdExpr->loc, "normal() needs a positive, finite "
                                     "standard deviation, got " +
                                         v.describe());
  init.kind = Initializer::Kind::Normal;
  init.std = v.asDouble();
  return init;
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
  return scope.empty() ? name : scope + "." + name;
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
