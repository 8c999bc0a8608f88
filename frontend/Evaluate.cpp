//===- Evaluate.cpp - Static evaluation of statements, expressions and calls
//---===//
//
// For an entry's body: static values are computed, `for`/`if` run at
// compile time, `assert`s hold or become run-time checks, each def call
// gets a fresh frame and the parameter scope `caller.as_name`, and each
// tensor expression becomes a node of the entry's graph.
//
//===----------------------------------------------------------------------===//

#include "Elaborator.h"
#include "gptc/IR/OpInfo.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

namespace gptc::sema {

const Value *Elaborator::lookup(const std::string &name) const {
  if (!frames.empty()) {
    auto &scopes = frames.back().scopes;
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end())
        return &f->second;
    }
  }
  auto g = globals.find(name);
  return g == globals.end() ? nullptr : &g->second;
}

void Elaborator::declare(const std::string &name, Value v, Location) {
  frames.back().scopes.back()[name] = std::move(v);
}

std::vector<std::string> Elaborator::visibleNames() const {
  std::vector<std::string> out;
  if (!frames.empty())
    for (auto &s : frames.back().scopes)
      for (auto &[n, v] : s)
        out.push_back(n);
  for (auto &[n, v] : globals)
    out.push_back(n);
  return out;
}

void Elaborator::tick(Location loc) {
  if (++work > kMaxWork)
    throw CompileError(loc, "the model is too large to elaborate (more "
                            "than " +
                                std::to_string(kMaxWork) + " steps)");
}

std::optional<Value> Elaborator::execBlock(const Block &b) {
  for (auto &s : b)
    if (auto r = exec(*s))
      return r;
  return std::nullopt;
}

std::optional<Value> Elaborator::execScoped(const Block &b) {
  frames.back().scopes.emplace_back();
  std::optional<Value> r = execBlock(b);
  frames.back().scopes.pop_back();
  return r;
}

std::optional<Value> Elaborator::exec(const Stmt &s) {
  tick(s.loc);
  switch (s.kind) {
  case Stmt::Kind::Let: {
    auto &l = static_cast<const LetStmt &>(s);
    Value v = eval(*l.value);
    if (l.names.size() == 1) {
      if (v.kind == Value::Kind::Tuple)
        throw CompileError(l.loc, "the value is a tuple of " +
                                      std::to_string(v.elems.size()) +
                                      " values; unpack it with 'let a, b, "
                                      "... = ...'");
      declare(l.names[0], std::move(v), l.loc);
      return std::nullopt;
    }
    if (v.kind != Value::Kind::Tuple || v.elems.size() != l.names.size())
      throw CompileError(l.loc, "'let' unpacks " +
                                    std::to_string(l.names.size()) +
                                    " names but the value is " + v.describe());
    for (size_t i = 0; i < l.names.size(); ++i)
      declare(l.names[i], v.elems[i], l.nameLocs[i]);
    return std::nullopt;
  }
  case Stmt::Kind::Assign: {
    auto &a = static_cast<const AssignStmt &>(s);
    Value v = eval(*a.value);
    auto &scopes = frames.back().scopes;
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      auto f = it->find(a.name);
      if (f != it->end()) {
        f->second = std::move(v);
        return std::nullopt;
      }
    }
    throw CompileError(a.loc, "assignment to undeclared variable '" + a.name +
                                  "'; declare it first with 'let " + a.name +
                                  " = ...'");
  }
  case Stmt::Kind::Param:
    execParam(static_cast<const ParamStmt &>(s));
    return std::nullopt;
  case Stmt::Kind::Return: {
    return eval(*static_cast<const ReturnStmt &>(s).value);
  }
  case Stmt::Kind::For: {
    auto &f = static_cast<const ForStmt &>(s);
    int64_t lo = staticInt(eval(*f.lo), f.lo->loc, "the loop start");
    int64_t hi = staticInt(eval(*f.hi), f.hi->loc, "the loop end");
    if (hi - lo > kMaxLoopTrips)
      throw CompileError(f.loc, "loop runs " + std::to_string(hi - lo) +
                                    " times; the limit is " +
                                    std::to_string(kMaxLoopTrips));
    for (int64_t i = lo; i < hi; ++i) {
      frames.back().scopes.emplace_back();
      declare(f.var, Value::integer(Dim(i)), f.loc);
      std::optional<Value> r = execScoped(f.body);
      frames.back().scopes.pop_back();
      if (r)
        return r;
    }
    return std::nullopt;
  }
  case Stmt::Kind::If: {
    auto &i = static_cast<const IfStmt &>(s);
    Value c = eval(*i.cond);
    if (c.kind != Value::Kind::Bool)
      throw CompileError(i.cond->loc,
                         "an 'if' condition must be a compile-time bool "
                         "(from config values and ints), got " +
                             c.describe());
    return execScoped(c.b ? i.thenBody : i.elseBody);
  }
  case Stmt::Kind::Assert:
    execAssert(static_cast<const AssertStmt &>(s));
    return std::nullopt;
  case Stmt::Kind::Merge:
    execMerge(static_cast<const MergeStmt &>(s));
    return std::nullopt;
  }
  return std::nullopt;
}

void Elaborator::execAssert(const AssertStmt &a) {
  // A comparison of symbolic dims cannot be decided now: the run time
  // checks it once B and T are known.
  if (auto *b = dynCast<BinaryExpr>(a.cond.get())) {
    if (b->op >= BinaryOp::Eq && b->op <= BinaryOp::Ge) {
      Value l = eval(*b->lhs), r = eval(*b->rhs);
      if (l.kind == Value::Kind::Int && r.kind == Value::Kind::Int &&
          !(l.dim.isConstant() && r.dim.isConstant())) {
        addCheck({l.dim, b->op, r.dim,
                  a.message.empty() ? toString(*a.cond) : a.message, a.loc});
        return;
      }
    }
  }
  Value c = eval(*a.cond);
  if (c.kind != Value::Kind::Bool)
    throw CompileError(a.cond->loc, "an assert condition must be a bool, "
                                    "got " +
                                        c.describe());
  if (!c.b)
    throw CompileError(a.loc,
                       "assertion failed: " +
                           (a.message.empty() ? toString(*a.cond) : a.message) +
                           explainNames(*a.cond));
}

/// ` (where C = 768, n_heads = 10)` for the names used in `e`.
std::string Elaborator::explainNames(const Expr &e) {
  std::vector<std::string> names;
  std::function<void(const Expr &)> walk = [&](const Expr &x) {
    if (auto *n = dynCast<NameExpr>(&x)) {
      if (std::find(names.begin(), names.end(), n->name) == names.end())
        names.push_back(n->name);
    } else if (auto *u = dynCast<UnaryExpr>(&x)) {
      walk(*u->operand);
    } else if (auto *b = dynCast<BinaryExpr>(&x)) {
      walk(*b->lhs);
      walk(*b->rhs);
    }
  };
  walk(e);
  std::string out;
  for (auto &n : names) {
    const Value *v = lookup(n);
    if (!v || v->kind == Value::Kind::Tensor)
      continue;
    std::string d = v->describe();
    out += (out.empty() ? " (where " : ", ") + n + " = " +
           d.substr(d.rfind(' ') + 1);
  }
  return out.empty() ? out : out + ")";
}

/// Records a run-time check unless the same condition is already there.
void Elaborator::addCheck(RuntimeCheck c) {
  for (auto &o : entry->checks)
    if (o.lhs == c.lhs && o.op == c.op && o.rhs == c.rhs)
      return;
  entry->checks.push_back(std::move(c));
}

Value Elaborator::eval(const Expr &e) {
  tick(e.loc);
  switch (e.kind) {
  case Expr::Kind::Int:
    return Value::integer(Dim(static_cast<const IntExpr &>(e).value));
  case Expr::Kind::Float:
    return Value::number(static_cast<const FloatExpr &>(e).value);
  case Expr::Kind::Bool:
    return Value::boolean(static_cast<const BoolExpr &>(e).value);
  case Expr::Kind::String: {
    Value v;
    v.kind = Value::Kind::String;
    v.s = static_cast<const StringExpr &>(e).value;
    return v;
  }
  case Expr::Kind::Name:
    return evalName(static_cast<const NameExpr &>(e));
  case Expr::Kind::ParamRef:
    return evalParamRef(static_cast<const ParamRefExpr &>(e));
  case Expr::Kind::Unary:
    return evalUnary(static_cast<const UnaryExpr &>(e));
  case Expr::Kind::Binary: {
    auto &b = static_cast<const BinaryExpr &>(e);
    return binary(b.op, eval(*b.lhs), eval(*b.rhs), b.loc);
  }
  case Expr::Kind::Call:
    return evalCall(static_cast<const CallExpr &>(e));
  case Expr::Kind::Index:
    return evalIndex(static_cast<const IndexExpr &>(e));
  case Expr::Kind::List: {
    Value v;
    v.kind = Value::Kind::List;
    for (auto &el : static_cast<const ListExpr &>(e).elements)
      v.elems.push_back(eval(*el));
    return v;
  }
  case Expr::Kind::Tuple: {
    Value v;
    v.kind = Value::Kind::Tuple;
    for (auto &el : static_cast<const TupleExpr &>(e).elements) {
      v.elems.push_back(eval(*el));
      if (v.elems.back().kind == Value::Kind::Tuple)
        throw CompileError(el->loc, "a returned tuple holds values, not "
                                    "another tuple; unpack it first");
    }
    return v;
  }
  case Expr::Kind::Ellipsis:
    throw CompileError(e.loc, "'...' is only allowed first in a shape type");
  }
  throw CompileError(e.loc, "unsupported expression");
}

Value Elaborator::evalName(const NameExpr &n) {
  if (const Value *v = lookup(n.name))
    return *v;
  if (defs.count(n.name) || builtins.count(n.name))
    throw CompileError(n.loc, "'" + n.name + "' is a function; call it as " +
                                  n.name + "(...)");
  throw CompileError(n.loc, "unknown name '" + n.name + "'" +
                                suggest(n.name, visibleNames()));
}

Value Elaborator::evalParamRef(const ParamRefExpr &p) {
  auto it = entryParams.find(p.path);
  if (it == entryParams.end()) {
    std::vector<std::string> names;
    for (auto &[n, id] : entryParams)
      names.push_back(n);
    throw CompileError(p.loc, "unknown parameter '@" + p.path + "'" +
                                  suggest(p.path, names) +
                                  "; '@name' refers to a parameter already "
                                  "declared, by its full name");
  }
  return Value::tensor(entry->nodes[it->second].type, it->second);
}

Value Elaborator::evalUnary(const UnaryExpr &u) {
  Value v = eval(*u.operand);
  if (u.op == UnaryOp::Not) {
    if (v.kind != Value::Kind::Bool)
      throw CompileError(u.loc, "'not' needs a bool, got " + v.describe());
    return Value::boolean(!v.b);
  }
  switch (v.kind) {
  case Value::Kind::Int:
    return Value::integer(checkedMul(v.dim, Dim(-1), u.loc));
  case Value::Kind::Float:
    return Value::number(-v.f);
  case Value::Kind::Tensor:
    requireFloat(v, u.loc, "negation");
    return Value::tensor(v.type, addNode("neg", {v.node}, v.type, u.loc));
  default:
    throw CompileError(u.loc, "cannot negate " + v.describe());
  }
}

Dim Elaborator::checkedMul(const Dim &a, const Dim &b, Location loc) {
  int64_t c;
  if (__builtin_mul_overflow(a.coeff, b.coeff, &c))
    throw CompileError(loc, "integer overflow in " + a.str() + " * " + b.str());
  return a * b;
}

Dim Elaborator::checkedNumElements(const TensorType &t, Location loc) {
  Dim n(1);
  for (auto &d : t.shape)
    n = checkedMul(n, d, loc);
  return n;
}

Value Elaborator::binary(BinaryOp op, const Value &a, const Value &b,
                         Location loc) {
  if (op == BinaryOp::And || op == BinaryOp::Or) {
    if (a.kind != Value::Kind::Bool || b.kind != Value::Kind::Bool)
      throw CompileError(loc, std::string("'") + spelling(op) +
                                  "' needs two bools, got " + a.describe() +
                                  " and " + b.describe());
    return Value::boolean(op == BinaryOp::And ? (a.b && b.b) : (a.b || b.b));
  }
  if (a.kind == Value::Kind::Tensor || b.kind == Value::Kind::Tensor)
    return tensorBinary(op, a, b, loc);
  if (op >= BinaryOp::Eq && op <= BinaryOp::Ge)
    return compare(op, a, b, loc);
  if (a.kind == Value::Kind::Int && b.kind == Value::Kind::Int)
    return intBinary(op, a.dim, b.dim, loc);
  if ((a.kind == Value::Kind::Int || a.kind == Value::Kind::Float) &&
      (b.kind == Value::Kind::Int || b.kind == Value::Kind::Float)) {
    if (!a.isStaticNumber() || !b.isStaticNumber())
      throw CompileError(loc, "a symbolic dim (" +
                                  (a.isStaticNumber() ? b : a).dim.str() +
                                  ") cannot be used in float arithmetic");
    double x = a.asDouble(), y = b.asDouble();
    switch (op) {
    case BinaryOp::Add:
      return Value::number(x + y);
    case BinaryOp::Sub:
      return Value::number(x - y);
    case BinaryOp::Mul:
      return Value::number(x * y);
    case BinaryOp::Div:
      return Value::number(x / y);
    case BinaryOp::Pow:
      return Value::number(std::pow(x, y));
    case BinaryOp::Mod:
      return Value::number(std::fmod(x, y));
    default:
      break;
    }
  }
  throw CompileError(loc, std::string("operator '") + spelling(op) +
                              "' cannot combine " + a.describe() + " and " +
                              b.describe());
}

Value Elaborator::compare(BinaryOp op, const Value &a, const Value &b,
                          Location loc) {
  if (a.kind == Value::Kind::Bool && b.kind == Value::Kind::Bool &&
      (op == BinaryOp::Eq || op == BinaryOp::Ne))
    return Value::boolean((a.b == b.b) == (op == BinaryOp::Eq));
  if (a.kind == Value::Kind::Int && b.kind == Value::Kind::Int &&
      (op == BinaryOp::Eq || op == BinaryOp::Ne) &&
      (a.dim == b.dim || (a.dim.isConstant() && b.dim.isConstant())))
    return Value::boolean((a.dim == b.dim) == (op == BinaryOp::Eq));
  if (!a.isStaticNumber() || !b.isStaticNumber())
    throw CompileError(loc, "cannot compare " + a.describe() + " and " +
                                b.describe() +
                                " at compile time (only 'assert' may "
                                "compare symbolic dims)");
  double x = a.asDouble(), y = b.asDouble();
  bool r = false;
  switch (op) {
  case BinaryOp::Eq:
    r = x == y;
    break;
  case BinaryOp::Ne:
    r = x != y;
    break;
  case BinaryOp::Lt:
    r = x < y;
    break;
  case BinaryOp::Le:
    r = x <= y;
    break;
  case BinaryOp::Gt:
    r = x > y;
    break;
  case BinaryOp::Ge:
    r = x >= y;
    break;
  default:
    break;
  }
  return Value::boolean(r);
}

Value Elaborator::intBinary(BinaryOp op, const Dim &a, const Dim &b,
                            Location loc) {
  auto constOnly = [&](const char *what) {
    if (!a.isConstant() || !b.isConstant())
      throw CompileError(loc, std::string(what) +
                                  " of symbolic dims is not supported (" +
                                  a.str() + ", " + b.str() + ")");
  };
  switch (op) {
  case BinaryOp::Add:
  case BinaryOp::Sub: {
    Dim rhs = op == BinaryOp::Sub ? checkedMul(b, Dim(-1), loc) : b;
    int64_t c;
    if (a.isConstant() && rhs.isConstant() &&
        __builtin_add_overflow(a.coeff, rhs.coeff, &c))
      throw CompileError(loc, "integer overflow");
    auto r = addDims(a, rhs);
    if (!r)
      throw CompileError(
          loc, "cannot " +
                   std::string(op == BinaryOp::Add ? "add" : "subtract") +
                   " the dims " + a.str() + " and " + b.str() +
                   "; only like terms (e.g. T + T) combine");
    return Value::integer(*r);
  }
  case BinaryOp::Mul:
    return Value::integer(checkedMul(a, b, loc));
  case BinaryOp::Div: {
    if (b.coeff == 0)
      throw CompileError(loc, "division by zero");
    if (a.coeff == std::numeric_limits<int64_t>::min() && b.coeff == -1)
      throw CompileError(loc, "integer overflow");
    auto r = exactDiv(a, b);
    if (!r)
      throw CompileError(loc, "integer division " + a.str() + " / " + b.str() +
                                  " is not exact; '/' on ints must divide "
                                  "evenly (write 1.0 * a / b for a float)");
    return Value::integer(*r);
  }
  case BinaryOp::Mod:
    constOnly("'%'");
    if (b.coeff == 0)
      throw CompileError(loc, "modulo by zero");
    if (a.coeff == std::numeric_limits<int64_t>::min() && b.coeff == -1)
      return Value::integer(Dim(0));
    return Value::integer(Dim(a.coeff % b.coeff));
  case BinaryOp::Pow: {
    constOnly("'**'");
    if (b.coeff < 0)
      return Value::number(std::pow(double(a.coeff), double(b.coeff)));
    Dim r(1);
    for (int64_t i = 0; i < b.coeff && r.coeff != 0; ++i)
      r = checkedMul(r, a, loc);
    return Value::integer(r);
  }
  case BinaryOp::MatMul:
    throw CompileError(loc, "'@' multiplies tensors, not ints");
  default:
    break;
  }
  throw CompileError(loc, "unsupported operator on ints");
}

Value Elaborator::evalCall(const CallExpr &c) {
  auto sub = frames.back().substitutions.find(c.callee);
  if (sub != frames.back().substitutions.end()) {
    ++sub->second->uses;
    return callDef(*sub->second->replacement, c, sub->second);
  }
  auto bi = builtins.find(c.callee);
  if (bi != builtins.end()) {
    if (!c.instance.empty())
      throw CompileError(c.instance[0].loc,
                         "'as' names the parameters of a def instance; "
                         "builtin '" +
                             c.callee + "' has none");
    if (c.training != Training::Inherit || !c.substitutions.empty())
      throw CompileError(c.loc, std::string(c.substitutions.empty()
                                                ? "'frozen' and 'trainable'"
                                                : "'with'") +
                                    " apply to the parameters of a def "
                                    "call; builtin '" +
                                    c.callee + "' has none");
    BoundArgs args = bindBuiltinArgs(c, bi->second.params);
    return (this->*bi->second.fn)(args, c);
  }
  auto di = defs.find(c.callee);
  if (di == defs.end()) {
    std::vector<std::string> names;
    for (auto &[n, d] : defs)
      names.push_back(n);
    for (auto &[n, b] : builtins)
      names.push_back(n);
    std::string hint = suggest(c.callee, names);
    if (c.callee == "normal" || c.callee == "zeros" || c.callee == "ones")
      hint = "; initializers are only allowed after 'param name: [..] ='";
    throw CompileError(c.calleeLoc,
                       "unknown function '" + c.callee + "'" + hint);
  }
  return callDef(*di->second, c);
}

BoundArgs Elaborator::bindBuiltinArgs(const CallExpr &c,
                                      const std::vector<BuiltinParam> &params) {
  std::vector<std::string> names;
  for (auto &p : params)
    names.push_back(p.name);
  std::vector<const Expr *> exprs = matchArgs(c, names);
  BoundArgs out;
  for (size_t i = 0; i < params.size(); ++i) {
    if (exprs[i]) {
      out.values.push_back(eval(*exprs[i]));
      out.locs.push_back(exprs[i]->loc);
    } else if (params[i].defaultValue) {
      out.values.push_back(*params[i].defaultValue);
      out.locs.push_back(c.loc);
    } else {
      throw CompileError(c.loc, "missing argument '" + names[i] +
                                    "' in call to '" + c.callee + "(" +
                                    join(names) + ")'");
    }
  }
  return out;
}

std::string Elaborator::join(const std::vector<std::string> &v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + v[i];
  return s;
}

/// Matches positional and keyword arguments to `names`; null where absent.
std::vector<const Expr *>
Elaborator::matchArgs(const CallExpr &c,
                      const std::vector<std::string> &names) {
  std::vector<const Expr *> out(names.size(), nullptr);
  if (c.args.size() > names.size())
    throw CompileError(c.args[names.size()]->loc,
                       "too many arguments: '" + c.callee + "' takes " +
                           std::to_string(names.size()) + " (" + join(names) +
                           "), got " + std::to_string(c.args.size()));
  for (size_t i = 0; i < c.args.size(); ++i)
    out[i] = c.args[i].get();
  for (auto &k : c.kwargs) {
    auto it = std::find(names.begin(), names.end(), k.name);
    if (it == names.end())
      throw CompileError(k.loc, "'" + c.callee + "' has no argument named '" +
                                    k.name + "'" + suggest(k.name, names) +
                                    "; its arguments are " + join(names));
    size_t i = it - names.begin();
    if (out[i])
      throw CompileError(k.loc, "argument '" + k.name + "' given twice");
    out[i] = k.value.get();
  }
  return out;
}

const DefDecl &Elaborator::substitutableDef(const std::string &name,
                                            Location loc, const char *role) {
  auto di = defs.find(name);
  if (di != defs.end())
    return *di->second;
  if (builtins.count(name))
    throw CompileError(loc, "'" + name + "' is a builtin; 'with' " + role +
                                " defs only");
  std::vector<std::string> names;
  for (auto &[n, d] : defs)
    names.push_back(n);
  throw CompileError(loc, "unknown def '" + name + "' in 'with'" +
                              suggest(name, names));
}

Value Elaborator::callDef(const DefDecl &d, const CallExpr &c,
                          ActiveSubstitution *replaced) {
  for (auto &f : frames)
    if (f.def == &d) {
      Diagnostic diag{c.calleeLoc,
                      "recursive call to '" + d.name +
                          "'; defs are expanded at compile time and may "
                          "not call themselves",
                      {}};
      diag.note(d.loc, "'" + d.name + "' defined here");
      throw CompileError(diag);
    }
  if (frames.size() >= kMaxCallDepth)
    throw CompileError(c.loc, "calls nested deeper than " +
                                  std::to_string(kMaxCallDepth));
  if (d.isExport && &d == frames.front().def)
    throw CompileError(c.loc, "an entry point cannot call itself");

  std::vector<std::string> names;
  for (auto &a : d.args)
    names.push_back(a.name);
  std::vector<const Expr *> exprs = matchArgs(c, names);
  // Arguments evaluate in the caller's frame; defaults and type patterns
  // in the callee's, so they can refer to earlier arguments.
  std::vector<std::optional<Value>> vals(d.args.size());
  for (size_t i = 0; i < exprs.size(); ++i)
    if (exprs[i])
      vals[i] = eval(*exprs[i]);
  std::string scope = instanceScope(c);

  Frame f;
  f.def = &d;
  f.scope = scope;
  f.callLoc = c.calleeLoc;
  f.scopes.emplace_back();
  const Frame &caller = frames.back();
  f.frozen = c.training == Training::Inherit ? caller.frozen
                                             : c.training == Training::Frozen;
  // The replacement's own calls to the name it replaces reach the
  // original (LoRALinear wraps the Linear it stands for).
  f.substitutions = caller.substitutions;
  if (replaced)
    f.substitutions.erase(c.callee);
  for (const Substitution &sub : c.substitutions) {
    const DefDecl &original = substitutableDef(sub.name, sub.loc, "replaces");
    const DefDecl &replacement =
        substitutableDef(sub.replacement, sub.replacementLoc, "replaces with");
    if (&original == &replacement)
      throw CompileError(sub.replacementLoc,
                         "'with " + sub.name + " = " + sub.replacement +
                             "' replaces a def with itself");
    for (auto &own : f.own)
      if (own->clause->name == sub.name)
        throw CompileError(sub.loc,
                           "'" + sub.name + "' is replaced twice in one call");
    f.own.push_back(std::make_unique<ActiveSubstitution>(
        ActiveSubstitution{&sub, &replacement}));
    f.substitutions[sub.name] = f.own.back().get();
  }
  frames.push_back(std::move(f));
  try {
    for (size_t i = 0; i < d.args.size(); ++i) {
      const DefArg &a = d.args[i];
      Value v;
      Location loc = exprs[i] ? exprs[i]->loc : c.loc;
      if (vals[i]) {
        v = *vals[i];
      } else if (a.defaultValue) {
        v = eval(*a.defaultValue);
      } else {
        throw CompileError(c.loc, "missing argument '" + a.name +
                                      "' in call to '" + d.name + "(" +
                                      join(names) + ")'");
      }
      if (a.type.kind == TypeExpr::Kind::Tensor)
        checkType(a.type, v, loc,
                  "argument '" + a.name + "' of '" + d.name + "'", true);
      else
        v = coerce(v, a.type, loc,
                   "argument '" + a.name + "' of '" + d.name + "'");
      declare(a.name, v, a.loc);
    }
    std::optional<Value> r = execBlock(d.body);
    if (!r)
      throw CompileError(d.loc, "def '" + d.name + "' ends without 'return'");
    checkResults(d, *r);
    // A clause that replaced nothing is a mistake (a misspelt name, or a
    // def that does not reach the layer), not a no-op.
    for (auto &own : frames.back().own)
      if (own->uses == 0)
        throw CompileError(
            own->clause->loc,
            "'with " + own->clause->name + " = " + own->clause->replacement +
                "' replaced nothing: '" + d.name + "' makes no call to '" +
                own->clause->name + "'");
    frames.pop_back();
    return *r;
  } catch (CompileError &e) {
    frames.pop_back();
    if (replaced && e.diag.notes.size() < 8)
      e.diag.note(replaced->clause->loc, "'" + c.callee + "' is replaced by '" +
                                             d.name + "' as this 'with' says");
    bool sameSpot = e.diag.loc.file == c.calleeLoc.file &&
                    e.diag.loc.line == c.calleeLoc.line &&
                    e.diag.loc.col == c.calleeLoc.col;
    if (e.diag.notes.size() < 8 && !sameSpot)
      e.diag.note(c.calleeLoc,
                  "in '" + d.name + "' called here" +
                      (scope.empty() ? std::string() : " as '" + scope + "'"));
    throw;
  }
}

/// Checks `v` against a tensor type pattern; with `bindNew`, dim names
/// not yet bound are bound to the actual dims (B, T of the caller).
/// The value a def returned against its declared result types.
void Elaborator::checkResults(const DefDecl &d, const Value &r) {
  if (d.results.empty())
    return;
  std::string what = "the result of '" + d.name + "'";
  if (d.results.size() == 1)
    return checkType(d.results[0], r, d.results[0].loc, what, false);
  if (r.kind != Value::Kind::Tuple || r.elems.size() != d.results.size())
    throw CompileError(d.results[0].loc, "'" + d.name + "' declares " +
                                             std::to_string(d.results.size()) +
                                             " results but returns " +
                                             r.describe());
  for (size_t i = 0; i < r.elems.size(); ++i)
    checkType(d.results[i], r.elems[i], d.results[i].loc,
              "result " + std::to_string(i) + " of '" + d.name + "'", false);
}

void Elaborator::checkType(const TypeExpr &t, const Value &v, Location loc,
                           const std::string &what, bool bindNew) {
  if (t.kind != TypeExpr::Kind::Tensor) {
    coerce(v, t, loc, what);
    return;
  }
  if (v.kind != Value::Kind::Tensor)
    throw CompileError(loc, what + " expects a tensor " + toString(t) +
                                ", got " + v.describe());
  if (v.type.elem != t.elem)
    throw CompileError(loc, what + " expects element type " + spelling(t.elem) +
                                ", got " + v.type.str());
  bool variadic = !t.dims.empty() && isa<EllipsisExpr>(t.dims[0].get());
  size_t fixed = t.dims.size() - (variadic ? 1 : 0);
  if (variadic ? v.type.rank() < fixed : v.type.rank() != fixed)
    throw CompileError(loc, what + " expects rank " + (variadic ? ">= " : "") +
                                std::to_string(fixed) + " (" + toString(t) +
                                "), got " + v.type.str());
  size_t offset = v.type.rank() - fixed;
  for (size_t i = 0; i < fixed; ++i) {
    const Expr &de = *t.dims[i + (variadic ? 1 : 0)];
    const Dim &actual = v.type.shape[offset + i];
    auto *n = dynCast<NameExpr>(&de);
    if (bindNew && n && !lookup(n->name)) {
      declare(n->name, Value::integer(actual), de.loc);
      continue;
    }
    Dim expected = staticDimOrSymbol(eval(de), de.loc);
    if (expected != actual)
      throw CompileError(Diagnostic{
          loc,
          what + " expects " + toString(t) + ", got " + v.type.str() +
              ": dim " + std::to_string(offset + i) + " is " + actual.str() +
              ", expected " + expected.str() + (n ? " (" + n->name + ")" : ""),
          {}}.note(de.loc, "expected dim from here"));
  }
}

Dim Elaborator::staticDimOrSymbol(const Value &v, Location loc) {
  if (v.kind != Value::Kind::Int)
    throw CompileError(loc, "a dimension must be an int, got " + v.describe());
  return v.dim;
}

Dim Elaborator::staticDim(const Value &v, Location loc,
                          const std::string &what) {
  if (v.kind != Value::Kind::Int)
    throw CompileError(loc, what + " must be an int, got " + v.describe());
  return v.dim;
}

int64_t Elaborator::staticInt(const Value &v, Location loc,
                              const std::string &what) {
  if (v.kind != Value::Kind::Int)
    throw CompileError(loc, what + " must be an int, got " + v.describe());
  if (!v.dim.isConstant())
    throw CompileError(loc, what +
                                " must be a static int, got the symbolic "
                                "dim " +
                                v.dim.str());
  return v.dim.coeff;
}

double Elaborator::staticFloat(const Value &v, Location loc,
                               const std::string &what) {
  if (!v.isStaticNumber())
    throw CompileError(loc,
                       what + " must be a static number, got " + v.describe());
  return v.asDouble();
}

bool Elaborator::staticBool(const Value &v, Location loc,
                            const std::string &what) {
  if (v.kind != Value::Kind::Bool)
    throw CompileError(loc,
                       what + " must be true or false, got " + v.describe());
  return v.b;
}

const Value &Elaborator::tensorArg(BoundArgs &a, size_t i, const CallExpr &c,
                                   const char *argName) {
  if (a.values[i].kind != Value::Kind::Tensor)
    throw CompileError(
        a.locs[i], "argument '" + std::string(argName) + "' of '" + c.callee +
                       "' must be a tensor, got " + a.values[i].describe());
  return a.values[i];
}

int64_t Elaborator::normAxis(int64_t axis, size_t rank, Location loc) {
  int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    throw CompileError(
        loc, "axis " + std::to_string(axis) + " is out of range for a rank-" +
                 std::to_string(rank) + " tensor; expected " +
                 std::to_string(-r) + ".." + std::to_string(r - 1));
  return axis < 0 ? axis + r : axis;
}

Value Elaborator::evalIndex(const IndexExpr &ix) {
  Value base = eval(*ix.base);
  if (base.kind == Value::Kind::List)
    return listItem(base, ix);
  if (base.kind != Value::Kind::Tensor)
    throw CompileError(ix.loc,
                       "only tensors can be indexed, got " + base.describe());
  const TensorType &bt = base.type;
  if (ix.items.size() > bt.rank())
    throw CompileError(ix.loc, "too many indices (" +
                                   std::to_string(ix.items.size()) + ") for " +
                                   bt.str());
  std::vector<Dim> starts, ends;
  std::vector<int64_t> squeeze;
  TensorType t;
  t.elem = bt.elem;
  for (size_t i = 0; i < bt.rank(); ++i) {
    const Dim &d = bt.shape[i];
    if (i >= ix.items.size()) {
      starts.push_back(Dim(0));
      ends.push_back(d);
      continue;
    }
    const IndexItem &it = ix.items[i];
    if (!it.isSlice) {
      int64_t k = staticInt(eval(*it.index), it.loc, "an index");
      if (d.isConstant()) {
        if (k < -d.coeff || k >= d.coeff)
          throw CompileError(it.loc, "index " + std::to_string(k) +
                                         " is out of range for dim " +
                                         std::to_string(i) + " of size " +
                                         d.str());
        if (k < 0)
          k += d.coeff;
      } else if (k != -1 && k != 0) {
        throw CompileError(it.loc, "a symbolic dim (" + d.str() +
                                       ") can only be indexed at 0 or -1");
      }
      starts.push_back(Dim(k));
      ends.push_back(Dim(k == -1 ? 0 : k + 1));
      squeeze.push_back(static_cast<int64_t>(i));
      continue;
    }
    Dim lo =
        it.lo ? staticDim(eval(*it.lo), it.lo->loc, "a slice start") : Dim(0);
    Dim hi = it.hi ? staticDim(eval(*it.hi), it.hi->loc, "a slice end") : d;
    auto resolve = [&](Dim &b, Location loc) {
      if (!b.isConstant() || b.coeff >= 0)
        return;
      if (!d.isConstant())
        throw CompileError(loc, "negative slice bounds need a static dim, "
                                "but dim " +
                                    std::to_string(i) + " is " + d.str());
      b = Dim(b.coeff + d.coeff);
      if (b.coeff < 0)
        throw CompileError(loc, "slice bound out of range");
    };
    resolve(lo, it.lo ? it.lo->loc : it.loc);
    resolve(hi, it.hi ? it.hi->loc : it.loc);
    // A symbolic end on a static dim (wpe[:T]) holds only if T <= dim; a
    // static end on a symbolic dim (x[:, 2:4]) only if 4 <= T.
    if (!hi.isConstant() && d.isConstant())
      addCheck({hi, BinaryOp::Le, d,
                "slice end " + hi.str() + " must be <= " + d.str(), it.loc});
    if (hi.isConstant() && !d.isConstant())
      addCheck(
          {hi, BinaryOp::Le, d,
           "slice end " + hi.str() + " needs " + d.str() + " >= " + hi.str(),
           it.loc});
    starts.push_back(lo);
    ends.push_back(hi);
  }
  // The op's rule checks the bounds; an error points at the dim's item.
  std::vector<Location> itemLocs;
  for (size_t i = 0; i < bt.rank(); ++i)
    itemLocs.push_back(i < ix.items.size() ? ix.items[i].loc : ix.loc);
  t.shape = ruleShape(shapes::slice(bt.shape, starts, ends, squeeze), ix.loc,
                      itemLocs);
  return Value::tensor(
      t, addNode("slice", {base.node}, t, ix.loc,
                 {{"starts", starts}, {"ends", ends}, {"squeeze", squeeze}}));
}

/// `xs[i]` of a list (a config's per-layer values): one static index,
/// negative from the end.
Value Elaborator::listItem(const Value &list, const IndexExpr &ix) {
  if (ix.items.size() != 1 || ix.items[0].isSlice)
    throw CompileError(ix.loc, "a list takes one index, such as xs[i]");
  const IndexItem &it = ix.items[0];
  int64_t n = static_cast<int64_t>(list.elems.size());
  int64_t k = staticInt(eval(*it.index), it.loc, "a list index");
  if (k < -n || k >= n)
    throw CompileError(it.loc, "index " + std::to_string(k) +
                                   " is out of range for a list of " +
                                   std::to_string(n) + " values");
  return list.elems[k < 0 ? k + n : k];
}

/// len(xs): the number of values of a list.
Value Elaborator::biLen(BoundArgs &a, const CallExpr &) {
  if (a.values[0].kind != Value::Kind::List)
    throw CompileError(a.locs[0],
                       "len needs a list, got " + a.values[0].describe());
  return Value::integer(Dim(static_cast<int64_t>(a.values[0].elems.size())));
}

} // namespace gptc::sema
