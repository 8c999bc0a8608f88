//===- Sema.h - Elaboration of a model into typed graphs ----------*- C++
//-*-===//
//
// Sema gives a parsed model its meaning for one config: it binds config
// values, then elaborates every `export def` (an entry point such as
// `forward` or `loss`) by evaluating it symbolically. Static values (ints,
// floats, bools, symbolic dims) are computed; loops and `if`s on static
// values are unrolled; each def call is instantiated with its own parameter
// scope; every tensor operation is shape-checked and recorded as a Node.
//
// The result, a Program, holds the parameter table (hierarchical names,
// static shapes, initializers, mapped names) and one flat graph per entry,
// every node carrying the source location it came from. MLIRGen turns these
// graphs into the `gpt` dialect.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_FRONTEND_SEMA_H
#define GPTC_FRONTEND_SEMA_H

#include "gptc/Frontend/AST.h"
#include "gptc/Frontend/Shape.h"
#include "gptc/Support/Config.h"

#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace gptc {

/// A model's files: the main .gpt file and everything it imports.
struct ModelSource {
  std::vector<std::unique_ptr<ast::Module>> modules;
  const ast::Module *main = nullptr;
};

/// Parses `path` and, transitively, its imports. Imports resolve relative to
/// the importing file's folder, then each of `includeDirs` in order; a file
/// is read once however often it is imported.
ModelSource loadModel(SourceManager &sm, const std::string &path,
                      const std::vector<std::string> &includeDirs);

/// How a parameter starts out.
struct Initializer {
  enum class Kind { Normal, Uniform, Zeros, Ones } kind = Kind::Zeros;
  /// Normal's standard deviation (mean 0), or Uniform's bound b: U(-b, b).
  double scale = 0;
  std::string str() const;
};

/// One tensor of the model's weights.
struct Parameter {
  std::string name; ///< Hierarchical, e.g. `h.3.attn.c_attn.weight`.
  TensorType type;  ///< Always static.
  Initializer init;
  Location loc;
  /// Declared under a `frozen` marker: no training config can train it.
  bool frozen = false;
  /// Name under each `names` scheme, e.g. {"hf": "transformer.h.3..."}.
  std::map<std::string, std::string> mappedNames;
};

/// A static attribute of a node.
using Attr = std::variant<int64_t, double, bool, std::string,
                          std::vector<int64_t>, std::vector<Dim>>;

/// One tensor operation of an elaborated entry.
/// A def call on the way to a node: where it was called, which def, and
/// the instance scope it got.
struct CallSite {
  Location loc;
  std::string def, scope;
};

struct Node {
  std::string op; ///< `matmul`, `add`, `param`, `input`, ...
  std::vector<int> operands;
  std::vector<std::pair<std::string, Attr>> attrs;
  TensorType type;
  Location loc;
  std::string scope; ///< Instance path of the def that made it: `h.3.attn`.
  /// The calls that led to it, innermost first (the entry point's own
  /// body has none): errors after the front end print them as notes.
  std::vector<CallSite> callers;

  const Attr *attr(const std::string &name) const;
};

/// A check on symbolic dims that only the run time can decide
/// (e.g. `T <= context_length`).
struct RuntimeCheck {
  Dim lhs;
  ast::BinaryOp op;
  Dim rhs;
  std::string message;
  Location loc;
};

/// One elaborated `export def`.
struct Entry {
  std::string name;
  Location loc;
  std::vector<std::string> symbols; ///< Symbolic dims, e.g. {"B", "T"}.
  std::vector<int> inputs;          ///< Node ids of the arguments, in order.
  std::vector<Node> nodes;
  int result = -1;
  std::vector<RuntimeCheck> checks;
};

/// A bound config value.
struct ConfigValue {
  std::string name;
  ast::TypeExpr::Kind kind;
  int64_t intValue = 0;
  double floatValue = 0;
  bool boolValue = false;
  bool fromDefault = false;
  /// A `list[...]` config: its values, each of `kind`.
  bool isList = false;
  std::vector<ConfigValue> elems;
  /// `768`, `0.1`, `true`, `[1,2,3]` (no spaces: one plan field).
  std::string str() const;
};

/// One key of a naming scheme's config file (`"n_embd" = emb_dim` in
/// `names hf`): its value as JSON, and the config it comes from (empty for
/// a constant).
struct SchemeEntry {
  std::string scheme, key, config, json;
};

/// A model elaborated for one config.
/// `merge target += scale * (a @ b)`: exporting folds the low-rank update
/// into `target` and drops `a` and `b` (LoRA's W + alpha A B).
struct Merge {
  std::string target, a, b;
  double scale = 1;
  Location loc;
};

struct Program {
  std::vector<ConfigValue> config;
  std::vector<Parameter> params;
  std::vector<Merge> merges;
  std::vector<std::string> namingSchemes;
  /// The naming schemes' config-file entries, in declaration order.
  std::vector<SchemeEntry> schemeEntries;
  std::vector<Entry> entries;

  const Parameter *findParam(const std::string &name) const;
  const Entry *findEntry(const std::string &name) const;
  /// Total number of scalar parameters (with `trainableOnly`, of those
  /// not frozen).
  int64_t numParameters(bool trainableOnly = false) const;
};

/// Elaborates `model` with `config`; throws CompileError on the first error.
Program analyze(const ModelSource &model, const ConfigFile &config);

} // namespace gptc

#endif // GPTC_FRONTEND_SEMA_H
