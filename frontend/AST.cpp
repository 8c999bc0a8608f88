//===- AST.cpp - Printing the syntax tree ---------------------------------===//
//
// `gptc emit --stage=ast` prints one line per declaration and statement with
// its `loc(file:line:col)`; expressions print fully parenthesized so the
// parse (precedence, `as` binding) is visible and testable.
//
//===----------------------------------------------------------------------===//

#include "gptc/Frontend/AST.h"

#include <sstream>

namespace gptc::ast {

const char *spelling(UnaryOp op) { return op == UnaryOp::Neg ? "-" : "not "; }

const char *spelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add:
    return "+";
  case BinaryOp::Sub:
    return "-";
  case BinaryOp::Mul:
    return "*";
  case BinaryOp::Div:
    return "/";
  case BinaryOp::Mod:
    return "%";
  case BinaryOp::Pow:
    return "**";
  case BinaryOp::MatMul:
    return "@";
  case BinaryOp::Eq:
    return "==";
  case BinaryOp::Ne:
    return "!=";
  case BinaryOp::Lt:
    return "<";
  case BinaryOp::Le:
    return "<=";
  case BinaryOp::Gt:
    return ">";
  case BinaryOp::Ge:
    return ">=";
  case BinaryOp::And:
    return "and";
  case BinaryOp::Or:
    return "or";
  }
  return "?";
}

const char *spelling(ElemType t) {
  switch (t) {
  case ElemType::F32:
    return "f32";
  case ElemType::I32:
    return "i32";
  case ElemType::Bool:
    return "bool";
  }
  return "?";
}

static std::string quote(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\t') {
      out += "\\t";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string toString(const Expr &e) {
  std::ostringstream os;
  switch (e.kind) {
  case Expr::Kind::Int:
    os << static_cast<const IntExpr &>(e).value;
    break;
  case Expr::Kind::Float:
    os << static_cast<const FloatExpr &>(e).spelling;
    break;
  case Expr::Kind::Bool:
    os << (static_cast<const BoolExpr &>(e).value ? "true" : "false");
    break;
  case Expr::Kind::String:
    os << quote(static_cast<const StringExpr &>(e).value);
    break;
  case Expr::Kind::Name:
    os << static_cast<const NameExpr &>(e).name;
    break;
  case Expr::Kind::ParamRef:
    os << "@" << static_cast<const ParamRefExpr &>(e).path;
    break;
  case Expr::Kind::Unary: {
    auto &u = static_cast<const UnaryExpr &>(e);
    os << "(" << spelling(u.op) << toString(*u.operand) << ")";
    break;
  }
  case Expr::Kind::Binary: {
    auto &b = static_cast<const BinaryExpr &>(e);
    os << "(" << toString(*b.lhs) << " " << spelling(b.op) << " "
       << toString(*b.rhs) << ")";
    break;
  }
  case Expr::Kind::Call: {
    auto &c = static_cast<const CallExpr &>(e);
    if (c.training != Training::Inherit)
      os << (c.training == Training::Frozen ? "frozen " : "trainable ");
    os << c.callee << "(";
    bool first = true;
    for (auto &a : c.args) {
      os << (first ? "" : ", ") << toString(*a);
      first = false;
    }
    for (auto &k : c.kwargs) {
      os << (first ? "" : ", ") << k.name << "=" << toString(*k.value);
      first = false;
    }
    os << ")";
    for (auto &sub : c.substitutions)
      os << " with " << sub.name << " = " << sub.replacement;
    if (!c.instance.empty()) {
      os << " as ";
      for (size_t i = 0; i < c.instance.size(); ++i) {
        auto &s = c.instance[i];
        if (s.index)
          os << "[" << toString(*s.index) << "]";
        else
          os << (i ? "." : "") << s.name;
      }
    }
    break;
  }
  case Expr::Kind::Index: {
    auto &ix = static_cast<const IndexExpr &>(e);
    os << toString(*ix.base) << "[";
    for (size_t i = 0; i < ix.items.size(); ++i) {
      auto &it = ix.items[i];
      os << (i ? ", " : "");
      if (!it.isSlice) {
        os << toString(*it.index);
        continue;
      }
      if (it.lo)
        os << toString(*it.lo);
      os << ":";
      if (it.hi)
        os << toString(*it.hi);
    }
    os << "]";
    break;
  }
  case Expr::Kind::List: {
    auto &l = static_cast<const ListExpr &>(e);
    os << "[";
    for (size_t i = 0; i < l.elements.size(); ++i)
      os << (i ? ", " : "") << toString(*l.elements[i]);
    os << "]";
    break;
  }
  case Expr::Kind::Tuple: {
    auto &t = static_cast<const TupleExpr &>(e);
    for (size_t i = 0; i < t.elements.size(); ++i)
      os << (i ? ", " : "") << toString(*t.elements[i]);
    break;
  }
  case Expr::Kind::Ellipsis:
    os << "...";
    break;
  }
  return os.str();
}

std::string toString(const TypeExpr &t) {
  if (t.list) {
    TypeExpr elem;
    elem.kind = t.kind;
    return "list[" + toString(elem) + "]";
  }
  switch (t.kind) {
  case TypeExpr::Kind::Int:
    return "int";
  case TypeExpr::Kind::Float:
    return "float";
  case TypeExpr::Kind::Bool:
    return "bool";
  case TypeExpr::Kind::Tensor:
    break;
  }
  std::string s = std::string(spelling(t.elem)) + "[";
  for (size_t i = 0; i < t.dims.size(); ++i)
    s += (i ? ", " : "") + toString(*t.dims[i]);
  return s + "]";
}

namespace {

class Dumper {
public:
  explicit Dumper(std::ostream &o) : os(o) {}

  void module(const Module &m) {
    os << "module " << m.file->path << "\n";
    ++indent;
    for (auto &i : m.imports)
      line(i.loc) << "import " << quote(i.path) << loc(i.loc);
    for (auto &c : m.configs) {
      line(c.loc) << "config " << c.name << ": " << toString(c.type);
      if (c.defaultValue)
        os << " = " << toString(*c.defaultValue);
      os << loc(c.loc);
    }
    for (auto &n : m.names) {
      line(n.loc) << "names " << n.scheme << loc(n.loc);
      ++indent;
      for (auto &r : n.rules)
        line(r.loc) << quote(r.pattern) << " -> " << quote(r.replacement)
                    << loc(r.loc);
      for (auto &e : n.entries)
        line(e.loc) << quote(e.key) << " = " << toString(*e.value)
                    << loc(e.loc);
      --indent;
    }
    for (auto &d : m.defs)
      def(*d);
    --indent;
  }

private:
  std::ostream &line(Location) {
    os << std::string(2 * indent, ' ');
    return os;
  }
  static std::string loc(Location l) { return " loc(" + l.str() + ")\n"; }

  void def(const DefDecl &d) {
    line(d.loc) << (d.isExport ? "export def " : "def ") << d.name << "(";
    for (size_t i = 0; i < d.args.size(); ++i) {
      auto &a = d.args[i];
      os << (i ? ", " : "") << a.name << ": " << toString(a.type);
      if (a.defaultValue)
        os << " = " << toString(*a.defaultValue);
    }
    os << ")";
    for (size_t i = 0; i < d.results.size(); ++i)
      os << (i                      ? ", "
             : d.results.size() > 1 ? " -> ("
                                    : " -> ")
         << toString(d.results[i]);
    if (d.results.size() > 1)
      os << ")";
    os << loc(d.loc);
    block(d.body);
  }

  void block(const Block &b) {
    ++indent;
    for (auto &s : b)
      stmt(*s);
    --indent;
  }

  void stmt(const Stmt &s) {
    switch (s.kind) {
    case Stmt::Kind::Let: {
      auto &l = static_cast<const LetStmt &>(s);
      line(s.loc) << "let ";
      for (size_t i = 0; i < l.names.size(); ++i)
        os << (i ? ", " : "") << l.names[i];
      os << " = " << toString(*l.value) << loc(s.loc);
      return;
    }
    case Stmt::Kind::Assign: {
      auto &a = static_cast<const AssignStmt &>(s);
      line(s.loc) << "assign " << a.name << " = " << toString(*a.value)
                  << loc(s.loc);
      return;
    }
    case Stmt::Kind::Param: {
      auto &p = static_cast<const ParamStmt &>(s);
      line(s.loc) << (p.training == Training::Inherit  ? ""
                      : p.training == Training::Frozen ? "frozen "
                                                       : "trainable ")
                  << "param " << p.name << ": " << toString(p.type) << " = "
                  << toString(*p.init) << loc(s.loc);
      return;
    }
    case Stmt::Kind::Return:
      line(s.loc) << "return "
                  << toString(*static_cast<const ReturnStmt &>(s).value)
                  << loc(s.loc);
      return;
    case Stmt::Kind::For: {
      auto &f = static_cast<const ForStmt &>(s);
      line(s.loc) << "for " << f.var << " in " << toString(*f.lo) << ".."
                  << toString(*f.hi) << loc(s.loc);
      block(f.body);
      return;
    }
    case Stmt::Kind::If: {
      auto &i = static_cast<const IfStmt &>(s);
      line(s.loc) << "if " << toString(*i.cond) << loc(s.loc);
      block(i.thenBody);
      if (!i.elseBody.empty()) {
        line(s.loc) << "else\n";
        block(i.elseBody);
      }
      return;
    }
    case Stmt::Kind::Merge: {
      auto &m = static_cast<const MergeStmt &>(s);
      line(s.loc) << "merge " << m.target << " += " << toString(*m.value)
                  << loc(s.loc);
      return;
    }
    case Stmt::Kind::Assert: {
      auto &a = static_cast<const AssertStmt &>(s);
      line(s.loc) << "assert " << toString(*a.cond);
      if (!a.message.empty())
        os << ", " << quote(a.message);
      os << loc(s.loc);
      return;
    }
    }
  }

  std::ostream &os;
  int indent = 0;
};

} // namespace

void dump(std::ostream &os, const Module &m) { Dumper(os).module(m); }

} // namespace gptc::ast
