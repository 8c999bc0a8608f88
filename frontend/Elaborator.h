//===- Elaborator.h - The elaborator shared by Sema's files ------*- C++
//-*-===//
//
// Sema (Sema.h) elaborates a model with one Elaborator, whose jobs live in
// one file each: configuration binding (ConfigBinding.cpp), static
// evaluation of statements, expressions and calls (Evaluate.cpp), the
// builtins and their shape rules (Builtins.cpp) and parameters and their
// names (Parameters.cpp); Sema.cpp drives them, Imports.cpp loads files.
// Private to frontend/.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_FRONTEND_ELABORATOR_H
#define GPTC_FRONTEND_ELABORATOR_H

#include "gptc/Frontend/Sema.h"
#include "gptc/IR/ShapeRules.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace gptc::sema {

using namespace ast;

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

/// What an expression evaluates to at compile time.
struct Value {
  enum class Kind { Int, Float, Bool, String, Tensor, Tuple, List };
  Kind kind = Kind::Int;
  Dim dim;                  ///< Int (possibly symbolic).
  double f = 0;             ///< Float.
  bool b = false;           ///< Bool.
  std::string s;            ///< String.
  TensorType type;          ///< Tensor.
  int node = -1;            ///< Tensor: node id in the current entry.
  std::vector<Value> elems; ///< Tuple or List.

  static Value integer(Dim d) {
    Value v;
    v.kind = Kind::Int;
    v.dim = std::move(d);
    return v;
  }
  static Value number(double x) {
    Value v;
    v.kind = Kind::Float;
    v.f = x;
    return v;
  }
  static Value boolean(bool x) {
    Value v;
    v.kind = Kind::Bool;
    v.b = x;
    return v;
  }
  static Value tensor(TensorType t, int node) {
    Value v;
    v.kind = Kind::Tensor;
    v.type = std::move(t);
    v.node = node;
    return v;
  }

  bool isStaticNumber() const {
    return kind == Kind::Float || (kind == Kind::Int && dim.isConstant());
  }
  double asDouble() const {
    return kind == Kind::Float ? f : static_cast<double>(dim.coeff);
  }

  std::string describe() const {
    switch (kind) {
    case Kind::Int:
      return dim.isConstant() ? "the int " + dim.str()
                              : "the symbolic dim " + dim.str();
    case Kind::Float: {
      std::ostringstream os;
      os << "the float " << f;
      return os.str();
    }
    case Kind::Bool:
      return b ? "the bool true" : "the bool false";
    case Kind::String:
      return "a string";
    case Kind::Tensor:
      return "a tensor " + type.str();
    case Kind::Tuple:
      return "a tuple of " + std::to_string(elems.size()) + " values";
    case Kind::List:
      return "a list of " + std::to_string(elems.size()) + " values";
    }
    return "a value";
  }
};

/// Lexicographic edit distance, for "did you mean" hints.
/// Lexicographic edit distance, for "did you mean" hints.
size_t editDistance(const std::string &a, const std::string &b);

/// `; did you mean 'x'?` for the candidate nearest `name`, or empty.
std::string suggest(const std::string &name,
                    const std::vector<std::string> &candidates);

/// Limits that keep elaboration of hostile input bounded.
inline constexpr size_t kMaxNodes = 2'000'000;
inline constexpr int64_t kMaxLoopTrips = 100'000;
inline constexpr size_t kMaxCallDepth = 64;
inline constexpr int64_t kMaxWork = 20'000'000;

/// A parsed builtin argument list.
struct BoundArgs {
  std::vector<Value> values;
  std::vector<Location> locs;
};

class Elaborator;
using BuiltinFn = Value (Elaborator::*)(BoundArgs &, const CallExpr &);

struct BuiltinParam {
  const char *name;
  std::optional<Value> defaultValue;
};

struct Builtin {
  std::vector<BuiltinParam> params;
  BuiltinFn fn;
};

/// A function activation: its lexical scopes and where it was called from.
/// A `with Name = Replacement` clause in force.
struct ActiveSubstitution {
  const ast::Substitution *clause;
  const DefDecl *replacement;
  int uses = 0; ///< Calls it replaced; none is an error.
};

struct Frame {
  const DefDecl *def = nullptr;
  std::string scope; ///< Parameter name prefix of this instance.
  Location callLoc;  ///< The call (invalid for the entry point).
  std::vector<std::unordered_map<std::string, Value>> scopes;
  /// Parameters declared here are frozen (the innermost marker's word).
  bool frozen = false;
  /// Def name -> its replacement inside this call; owned by the frame of
  /// the call whose `with` clause it is (`own`).
  std::map<std::string, ActiveSubstitution *> substitutions;
  std::vector<std::unique_ptr<ActiveSubstitution>> own;
};

//===----------------------------------------------------------------------===//
// The elaborator
//===----------------------------------------------------------------------===//

class Elaborator {
public:
  Elaborator(const ModelSource &m, const ConfigFile &c) : model(m), cfg(c) {
    registerBuiltins();
  }

  Program run();

private:
  //===------------------------------------------------------------------===//
  // Declarations and config
  //===------------------------------------------------------------------===//

  void collectDecls();

  void bindConfig();

  /// `file`'s entries, keyed by a naming scheme's config-file keys (a
  /// config.json), as entries of the model's config names: each key
  /// declared in the scheme's `names` block as `"key" = config` binds that
  /// config, as `"key" = value` must have that value, as `"key" = _` is
  /// ignored (with what it holds); others are refused by name.
  ConfigFile configNamesOf(const ConfigFile &file);

  /// Each naming scheme's `"key" = value` entries, evaluated against the
  /// bound config.
  void bindSchemeEntries();

  static std::string knownKeys(const std::vector<std::string> &declared);

  /// A config entry's value as the declared type: a scalar, or a list of
  /// them for `list[...]`.
  Value parseConfigValue(const ConfigDecl &c, const ConfigEntry &e);

  Value parseConfigScalar(const ConfigDecl &c, const std::string &t,
                          Location valueLoc);

  /// Converts a static value to a declared scalar type (int to float is
  /// allowed), or fails naming `what`.
  Value coerce(const Value &v, const TypeExpr &t, Location loc,
               const std::string &what);

  //===------------------------------------------------------------------===//
  // Entries
  //===------------------------------------------------------------------===//

  void elaborateEntry(const DefDecl &d);

  //===------------------------------------------------------------------===//
  // Scopes
  //===------------------------------------------------------------------===//

  const Value *lookup(const std::string &name) const;

  void declare(const std::string &name, Value v, Location);

  std::vector<std::string> visibleNames() const;

  //===------------------------------------------------------------------===//
  // Statements
  //===------------------------------------------------------------------===//

  void tick(Location loc);

  std::optional<Value> execBlock(const Block &b);

  std::optional<Value> execScoped(const Block &b);

  std::optional<Value> exec(const Stmt &s);

  void execAssert(const AssertStmt &a);

  /// ` (where C = 768, n_heads = 10)` for the names used in `e`.
  std::string explainNames(const Expr &e);

  /// Records a run-time check unless the same condition is already there.
  void addCheck(RuntimeCheck c);

  void execParam(const ParamStmt &p);

  Initializer parseInit(const Expr &e);

  /// normal(std) or uniform(bound): one positive, finite static number.
  Initializer parseScaleInit(const ast::CallExpr &c, Initializer::Kind kind,
                             const char *arg, const char *example);

  /// `merge target += scale * (a @ b)`: checked and recorded for export.
  void execMerge(const ast::MergeStmt &m);

  std::map<std::string, std::string> mapNames(const std::string &name,
                                              Location loc);

  /// What the (single) `*` of a matching `pattern` stood for in `s`.
  static std::optional<std::string> matchGlob(const std::string &pattern,
                                              const std::string &s);

  static std::string joinName(const std::string &scope,
                              const std::string &name);

  //===------------------------------------------------------------------===//
  // Expressions
  //===------------------------------------------------------------------===//

  Value eval(const Expr &e);

  Value evalName(const NameExpr &n);

  Value evalParamRef(const ParamRefExpr &p);

  Value evalUnary(const UnaryExpr &u);

  Dim checkedMul(const Dim &a, const Dim &b, Location loc);

  Dim checkedNumElements(const TensorType &t, Location loc);

  Value binary(BinaryOp op, const Value &a, const Value &b, Location loc);

  Value compare(BinaryOp op, const Value &a, const Value &b, Location loc);

  Value intBinary(BinaryOp op, const Dim &a, const Dim &b, Location loc);

  //===------------------------------------------------------------------===//
  // Tensor operations
  //===------------------------------------------------------------------===//

  int addNode(std::string op, std::vector<int> operands, TensorType type,
              Location loc,
              std::vector<std::pair<std::string, Attr>> attrs = {});

  void requireFloat(const Value &v, Location loc, const std::string &what);

  /// Turns a static number into a scalar f32 constant node.
  Value materialize(const Value &v, Location loc);

  Value tensorBinary(BinaryOp op, const Value &a0, const Value &b0,
                     Location loc);

  /// `a < b` (and the other comparisons) on tensors: a mask. Both sides f32
  /// or both i32; a static number takes the tensor's element type.
  Value tensorCompare(BinaryOp op, const Value &a0, const Value &b0,
                      Location loc);

  /// `v` as a tensor of element type `elem`: a static number becomes a
  /// scalar constant (cast for i32).
  Value materializeAs(const Value &v, ElemType elem, Location loc);

  /// The shape a rule of ShapeRules.h gives, or its error at `loc` (at the
  /// operand's location when the rule names one of `operandLocs`).
  std::vector<Dim> ruleShape(shapes::Result r, Location loc,
                             const std::vector<Location> &operandLocs = {},
                             const std::string &prefix = "");

  Value matmul(const Value &a, const Value &b, Location loc);

  //===------------------------------------------------------------------===//
  // Calls
  //===------------------------------------------------------------------===//

  Value evalCall(const CallExpr &c);

  BoundArgs bindBuiltinArgs(const CallExpr &c,
                            const std::vector<BuiltinParam> &params);

  static std::string join(const std::vector<std::string> &v);

  /// Matches positional and keyword arguments to `names`; null where absent.
  std::vector<const Expr *> matchArgs(const CallExpr &c,
                                      const std::vector<std::string> &names);

  /// Expands def `d` for call `c`; `replaced` is the substitution that
  /// sent `c` to `d`, if one did.
  Value callDef(const DefDecl &d, const CallExpr &c,
                ActiveSubstitution *replaced = nullptr);

  /// The def a `with` clause names, or an error saying why it cannot be
  /// replaced or replace.
  const DefDecl &substitutableDef(const std::string &name, Location loc,
                                  const char *role);

  std::string instanceScope(const CallExpr &c);

  /// Checks `v` against a tensor type pattern; with `bindNew`, dim names
  /// not yet bound are bound to the actual dims (B, T of the caller).
  /// The value a def returned against its declared result types.
  void checkResults(const DefDecl &d, const Value &r);

  void checkType(const TypeExpr &t, const Value &v, Location loc,
                 const std::string &what, bool bindNew);

  Dim staticDimOrSymbol(const Value &v, Location loc);

  Dim staticDim(const Value &v, Location loc, const std::string &what);

  int64_t staticInt(const Value &v, Location loc, const std::string &what);

  double staticFloat(const Value &v, Location loc, const std::string &what);

  bool staticBool(const Value &v, Location loc, const std::string &what);

  const Value &tensorArg(BoundArgs &a, size_t i, const CallExpr &c,
                         const char *argName);

  int64_t normAxis(int64_t axis, size_t rank, Location loc);

  //===------------------------------------------------------------------===//
  // Indexing
  //===------------------------------------------------------------------===//

  Value evalIndex(const IndexExpr &ix);

  /// `xs[i]` of a list (a config's per-layer values): one static index,
  /// negative from the end.
  Value listItem(const Value &list, const IndexExpr &ix);

  /// len(xs): the number of values of a list.
  Value biLen(BoundArgs &a, const CallExpr &);

  //===------------------------------------------------------------------===//
  // Builtins
  //===------------------------------------------------------------------===//

  /// The builtins are the ops that declare one in GptOps.td.
  void registerBuiltins();

  Value biUnary(BoundArgs &a, const CallExpr &c);

  Value biSoftmax(BoundArgs &a, const CallExpr &c);

  Value biReduce(BoundArgs &a, const CallExpr &c);

  Value biMatmul(BoundArgs &a, const CallExpr &c);

  Value biTranspose(BoundArgs &a, const CallExpr &c);

  Value biReshape(BoundArgs &a, const CallExpr &c);

  Value biSplit(BoundArgs &a, const CallExpr &c);

  Value biConcat(BoundArgs &a, const CallExpr &c);
  Value biStack(BoundArgs &a, const CallExpr &c);

  /// concat(xs, axis), or with `stack` a new dim of size 1 inserted into
  /// each input at `axis` first.
  Value concat(const Value &xs, Location xsLoc, const Value &axisArg,
               Location axisLoc, Location loc, bool stack);

  Value biGather(BoundArgs &a, const CallExpr &c);

  Value biMaskedFill(BoundArgs &a, const CallExpr &c);

  Value biWhere(BoundArgs &a, const CallExpr &c);

  Value biCast(BoundArgs &a, const CallExpr &c);

  Value biFull(BoundArgs &a, const CallExpr &c);

  /// The dims of a shape written as a list (`[B, T, 8]`).
  std::vector<Dim> shapeList(const Value &shape, Location loc);

  /// A tensor of `value` with the shape `dims` (checked by shapeList).
  Value full(std::vector<Dim> dims, double value, Location loc);

  /// zeros(shape) and ones(shape): full with 0 and 1.
  Value biZeros(BoundArgs &a, const CallExpr &c);
  Value biOnes(BoundArgs &a, const CallExpr &c);

  /// expand(x, shape): `x` broadcast to `shape` (broadcast_like of a
  /// constant of that shape, whose values are not read).
  Value biExpand(BoundArgs &a, const CallExpr &c);

  Value expand(const Value &x, const Value &like, Location loc);

  /// repeat(x, n, axis): each slice along `axis` n times in a row
  /// (torch.repeat_interleave; grouped-query attention's repeat_kv).
  Value biRepeat(BoundArgs &a, const CallExpr &c);

  Value biCausalMask(BoundArgs &a, const CallExpr &c);

  Value biDropout(BoundArgs &a, const CallExpr &c);

  Value biEmbedding(BoundArgs &a, const CallExpr &c);

  Value biArange(BoundArgs &a, const CallExpr &c);

  Value biLayerNorm(BoundArgs &a, const CallExpr &c);

  Value biCrossEntropy(BoundArgs &a, const CallExpr &c);

  const ModelSource &model;
  const ConfigFile &cfg;
  Program prog;
  std::map<std::string, const DefDecl *> defs;
  std::map<std::string, Builtin> builtins;
  std::vector<const ConfigDecl *> configDecls;
  std::vector<const NamesDecl *> namesDecls;
  std::map<std::string, Value> globals;
  Entry *entry = nullptr;
  std::map<std::string, int> entryParams;
  std::vector<Frame> frames;
  int64_t work = 0;
};

} // namespace gptc::sema

#endif // GPTC_FRONTEND_ELABORATOR_H
