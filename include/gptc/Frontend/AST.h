//===- AST.h - Syntax tree of the gptc model language -------------*- C++
//-*-===//
//
// The AST mirrors the source closely (nothing is resolved or evaluated here);
// Sema gives it meaning. Nodes carry their Location so every later error and
// the IR's `loc(...)` can point at the user's line. Kinds use LLVM-style
// `classof` so `isa<>`/`dyn_cast<>`-like helpers below work without RTTI.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_FRONTEND_AST_H
#define GPTC_FRONTEND_AST_H

#include "gptc/Support/Diagnostics.h"

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace gptc::ast {

template <typename T, typename U> bool isa(const U *n) { return T::classof(n); }
template <typename T, typename U> const T *dynCast(const U *n) {
  return n && T::classof(n) ? static_cast<const T *>(n) : nullptr;
}
template <typename T, typename U> T *dynCast(U *n) {
  return n && T::classof(n) ? static_cast<T *>(n) : nullptr;
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

struct Expr {
  enum class Kind {
    Int,
    Float,
    Bool,
    String,
    Name,
    ParamRef,
    Unary,
    Binary,
    Call,
    Index,
    List,
    Tuple,
    Ellipsis
  };
  Kind kind;
  Location loc;
  /// Levels of the tree below and including this node (1 for a leaf); the
  /// parser bounds it, since Sema and the printers recurse once per level.
  int height = 1;
  Expr(Kind k, Location l) : kind(k), loc(l) {}
  virtual ~Expr() = default;
};
using ExprPtr = std::unique_ptr<Expr>;

struct IntExpr : Expr {
  int64_t value;
  IntExpr(Location l, int64_t v) : Expr(Kind::Int, l), value(v) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Int; }
};

struct FloatExpr : Expr {
  double value;
  std::string spelling;
  FloatExpr(Location l, double v, std::string s)
      : Expr(Kind::Float, l), value(v), spelling(std::move(s)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Float; }
};

struct BoolExpr : Expr {
  bool value;
  BoolExpr(Location l, bool v) : Expr(Kind::Bool, l), value(v) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Bool; }
};

struct StringExpr : Expr {
  std::string value;
  StringExpr(Location l, std::string v)
      : Expr(Kind::String, l), value(std::move(v)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::String; }
};

/// A variable, config value, def or builtin name.
struct NameExpr : Expr {
  std::string name;
  NameExpr(Location l, std::string n)
      : Expr(Kind::Name, l), name(std::move(n)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Name; }
};

/// `@wte.weight`: an already-declared parameter by its full name (tying).
struct ParamRefExpr : Expr {
  std::string path;
  ParamRefExpr(Location l, std::string p)
      : Expr(Kind::ParamRef, l), path(std::move(p)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::ParamRef; }
};

enum class UnaryOp { Neg, Not };
enum class BinaryOp {
  Add,
  Sub,
  Mul,
  Div,
  Mod,
  Pow,
  MatMul,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  And,
  Or
};
const char *spelling(UnaryOp op);
const char *spelling(BinaryOp op);

struct UnaryExpr : Expr {
  UnaryOp op;
  ExprPtr operand;
  UnaryExpr(Location l, UnaryOp o, ExprPtr e)
      : Expr(Kind::Unary, l), op(o), operand(std::move(e)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Unary; }
};

struct BinaryExpr : Expr {
  BinaryOp op;
  ExprPtr lhs, rhs;
  BinaryExpr(Location l, BinaryOp o, ExprPtr a, ExprPtr b)
      : Expr(Kind::Binary, l), op(o), lhs(std::move(a)), rhs(std::move(b)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Binary; }
};

/// One segment of an instance name: `h`, or `[i]` (an index expression).
struct InstanceSegment {
  std::string name; ///< Empty for an index segment.
  ExprPtr index;    ///< Non-null for an index segment.
  Location loc;
};

struct KeywordArg {
  std::string name;
  ExprPtr value;
  Location loc;
};

/// Whether the parameters declared under a marker train: `frozen` or
/// `trainable` before a call or a `param`; the innermost marker wins, and
/// without any a parameter trains.
enum class Training { Inherit, Frozen, Trainable };

/// `with Linear = LoRALinear` after a call: inside it (and the defs it
/// calls), calls to `name` call `replacement` instead.
struct Substitution {
  std::string name, replacement;
  Location loc, replacementLoc;
};

/// `frozen f(a, b, k = v) with G = H as inst.name[i]`.
struct CallExpr : Expr {
  std::string callee;
  Location calleeLoc;
  std::vector<ExprPtr> args;
  std::vector<KeywordArg> kwargs;
  /// The `as` instance name; empty when absent.
  std::vector<InstanceSegment> instance;
  Training training = Training::Inherit;
  std::vector<Substitution> substitutions;
  CallExpr(Location l, std::string c)
      : Expr(Kind::Call, l), callee(std::move(c)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Call; }
};

/// One item of `x[...]`: a single index, or a slice `lo:hi` with either end
/// optional (`:` alone is the full range).
struct IndexItem {
  bool isSlice = false;
  ExprPtr index;  ///< Single index.
  ExprPtr lo, hi; ///< Slice bounds, each optional.
  Location loc;
};

struct IndexExpr : Expr {
  ExprPtr base;
  std::vector<IndexItem> items;
  IndexExpr(Location l, ExprPtr b) : Expr(Kind::Index, l), base(std::move(b)) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Index; }
};

/// `[a, b, c]`: a shape or list of static values.
struct ListExpr : Expr {
  std::vector<ExprPtr> elements;
  explicit ListExpr(Location l) : Expr(Kind::List, l) {}
  static bool classof(const Expr *e) { return e->kind == Kind::List; }
};

/// `return a, b`: the values a def returns together (unpacked by
/// `let x, y = F(...)`).
struct TupleExpr : Expr {
  std::vector<ExprPtr> elements;
  explicit TupleExpr(Location l) : Expr(Kind::Tuple, l) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Tuple; }
};

/// `...` inside a shape type: any number of leading dimensions.
struct EllipsisExpr : Expr {
  explicit EllipsisExpr(Location l) : Expr(Kind::Ellipsis, l) {}
  static bool classof(const Expr *e) { return e->kind == Kind::Ellipsis; }
};

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

enum class ElemType { F32, I32, Bool };
const char *spelling(ElemType t);

/// The declared type of a def argument or config value.
struct TypeExpr {
  enum class Kind { Tensor, Int, Float, Bool };
  Kind kind = Kind::Tensor;
  /// `list[int]`: a list of values of the scalar `kind` (configs such as
  /// per-layer sizes).
  bool list = false;
  ElemType elem = ElemType::F32;
  /// Tensor dims: names bind or check, other expressions check, `...` matches
  /// any number of leading dims. Empty with `scalar` true for `f32[]`.
  std::vector<ExprPtr> dims;
  Location loc;
};

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

struct Stmt {
  enum class Kind { Let, Assign, Param, Return, For, If, Assert, Merge };
  Kind kind;
  Location loc;
  Stmt(Kind k, Location l) : kind(k), loc(l) {}
  virtual ~Stmt() = default;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Block = std::vector<StmtPtr>;

/// `let a = e` or `let a, b, c = split(...)`.
struct LetStmt : Stmt {
  std::vector<std::string> names;
  std::vector<Location> nameLocs;
  ExprPtr value;
  LetStmt(Location l) : Stmt(Kind::Let, l) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Let; }
};

/// `a = e`: rebinds a variable of an enclosing scope (loop carries).
struct AssignStmt : Stmt {
  std::string name;
  ExprPtr value;
  AssignStmt(Location l, std::string n, ExprPtr v)
      : Stmt(Kind::Assign, l), name(std::move(n)), value(std::move(v)) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Assign; }
};

/// `param weight: [in, out] = normal(0.02)`, optionally marked
/// `frozen param` or `trainable param`.
struct ParamStmt : Stmt {
  std::string name;
  TypeExpr type;
  ExprPtr init; ///< A call: normal(std), uniform(bound), zeros(), ones().
  Training training = Training::Inherit;
  ParamStmt(Location l, std::string n)
      : Stmt(Kind::Param, l), name(std::move(n)) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Param; }
};

struct ReturnStmt : Stmt {
  ExprPtr value;
  ReturnStmt(Location l, ExprPtr v)
      : Stmt(Kind::Return, l), value(std::move(v)) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Return; }
};

/// `for i in lo..hi { ... }`: unrolled at compile time.
struct ForStmt : Stmt {
  std::string var;
  ExprPtr lo, hi;
  Block body;
  ForStmt(Location l, std::string v) : Stmt(Kind::For, l), var(std::move(v)) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::For; }
};

/// `if c { ... } else { ... }` on a compile-time condition.
struct IfStmt : Stmt {
  ExprPtr cond;
  Block thenBody, elseBody;
  IfStmt(Location l) : Stmt(Kind::If, l) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::If; }
};

/// `merge weight += alpha * (A @ B)`: what exporting folds into the
/// parameter `target` of this scope (a low-rank update from parameters of
/// this def), dropping A and B.
struct MergeStmt : Stmt {
  std::string target;
  Location targetLoc;
  ExprPtr value;
  MergeStmt(Location l) : Stmt(Kind::Merge, l) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Merge; }
};

/// `assert cond, "message"`: checked at compile time, or recorded as a
/// run-time check when it compares symbolic dims.
struct AssertStmt : Stmt {
  ExprPtr cond;
  std::string message;
  AssertStmt(Location l) : Stmt(Kind::Assert, l) {}
  static bool classof(const Stmt *s) { return s->kind == Kind::Assert; }
};

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

struct DefArg {
  std::string name;
  TypeExpr type;
  ExprPtr defaultValue; ///< Static args only.
  Location loc;
};

/// `def Name(args) -> type { body }`; `export def` marks an entry point.
struct DefDecl {
  std::string name;
  bool isExport = false;
  std::vector<DefArg> args;
  /// The declared result: none (unchecked), one type, or one per value of
  /// a tuple (`-> ([T, D], [T, D])`).
  std::vector<TypeExpr> results;
  Block body;
  Location loc;
};

/// `config name: type = default`: a value bound from the YAML config.
struct ConfigDecl {
  std::string name;
  TypeExpr type;
  ExprPtr defaultValue;
  Location loc;
};

/// `names hf { "lm_head.*" -> "lm_head.*"; "*" -> "transformer.*" }`:
/// a declarative parameter-name mapping, first matching rule wins. Entries
/// `"n_embd" = emb_dim` give the scheme's config file (Hugging Face's
/// config.json) key by key, from a config name or a literal.
struct NamesDecl {
  std::string scheme;
  struct Rule {
    std::string pattern, replacement;
    Location loc;
  };
  std::vector<Rule> rules;
  struct Entry {
    std::string key;
    ExprPtr value;
    Location loc;
  };
  std::vector<Entry> entries;
  Location loc;
};

struct ImportDecl {
  std::string path;
  Location loc;
};

/// One parsed source file.
struct Module {
  const SourceFile *file = nullptr;
  std::vector<ImportDecl> imports;
  std::vector<ConfigDecl> configs;
  std::vector<NamesDecl> names;
  std::vector<std::unique_ptr<DefDecl>> defs;
};

/// Prints the AST with source locations (`gptc emit --stage=ast`).
void dump(std::ostream &os, const Module &m);
/// Prints an expression in source-like syntax.
std::string toString(const Expr &e);
std::string toString(const TypeExpr &t);

} // namespace gptc::ast

#endif // GPTC_FRONTEND_AST_H
