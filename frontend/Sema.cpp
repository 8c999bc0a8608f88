//===- Sema.cpp - Elaboration of a model into typed graphs ----------------===//
//
// Algorithm:
//  1. Collect defs, configs and `names` schemes of all loaded files; reject
//     duplicates.
//  2. Bind each `config` to its YAML value (or default), type-checked; reject
//     unknown and missing keys, pointing at the YAML line.
//  3. For each `export def` of the main file: bind its tensor arguments with
//     fresh symbols for unknown dims (B, T), then evaluate the body:
//     static values are computed, `for`/`if` run at compile time, each def
//     call gets a fresh frame and the parameter scope `caller.as_name`, and
//     each tensor op is shape-checked and appended to the entry's graph.
//  4. Parameters are unique per entry and must agree across entries; each
//     gets its mapped name under every `names` scheme.
//
//===----------------------------------------------------------------------===//

#include "gptc/Frontend/Sema.h"
#include "gptc/Frontend/Parser.h"
#include "gptc/IR/OpInfo.h"
#include "gptc/IR/ShapeRules.h"
#include "gptc/Support/Glob.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <unordered_map>

namespace gptc {

using namespace ast;
namespace fs = std::filesystem;

//===----------------------------------------------------------------------===//
// Loading files
//===----------------------------------------------------------------------===//

ModelSource loadModel(SourceManager &sm, const std::string &path,
                      const std::vector<std::string> &includeDirs) {
  ModelSource src;
  std::set<std::string> loaded;
  std::function<const Module *(const std::string &, Location)> load =
      [&](const std::string &p, Location from) -> const Module * {
    std::error_code ec;
    std::string canon = fs::weakly_canonical(p, ec).string();
    if (ec)
      canon = p;
    if (!loaded.insert(canon).second)
      return nullptr;
    const SourceFile &file = sm.load(p, from);
    src.modules.push_back(parseModule(file));
    const Module *m = src.modules.back().get();
    for (const ImportDecl &imp : m->imports) {
      std::vector<fs::path> candidates;
      if (fs::path(imp.path).is_absolute()) {
        candidates.push_back(imp.path);
      } else {
        candidates.push_back(fs::path(file.path).parent_path() / imp.path);
        for (const auto &dir : includeDirs)
          candidates.push_back(fs::path(dir) / imp.path);
      }
      std::string found;
      for (const auto &c : candidates)
        if (fs::is_regular_file(c, ec)) {
          found = c.lexically_normal().string();
          break;
        }
      if (found.empty()) {
        std::string tried;
        for (const auto &c : candidates)
          tried += "\n    " + c.lexically_normal().string();
        throw CompileError(imp.loc, "cannot find imported file '" + imp.path +
                                        "'; searched:" + tried);
      }
      load(found, imp.loc);
    }
    return m;
  };
  src.main = load(path, Location());
  return src;
}

//===----------------------------------------------------------------------===//
// Program helpers
//===----------------------------------------------------------------------===//

std::string Initializer::str() const {
  switch (kind) {
  case Kind::Normal: {
    std::ostringstream os;
    os << "normal(" << std << ")";
    return os.str();
  }
  case Kind::Zeros:
    return "zeros()";
  case Kind::Ones:
    return "ones()";
  }
  return "?";
}

const Attr *Node::attr(const std::string &name) const {
  for (auto &[n, a] : attrs)
    if (n == name)
      return &a;
  return nullptr;
}

std::string ConfigValue::str() const {
  if (isList) {
    std::string s = "[";
    for (size_t i = 0; i < elems.size(); ++i)
      s += (i ? "," : "") + elems[i].str();
    return s + "]";
  }
  switch (kind) {
  case TypeExpr::Kind::Int:
    return std::to_string(intValue);
  case TypeExpr::Kind::Float: {
    std::ostringstream os;
    os << floatValue;
    return os.str();
  }
  case TypeExpr::Kind::Bool:
    return boolValue ? "true" : "false";
  case TypeExpr::Kind::Tensor:
    break;
  }
  return "?";
}

const Parameter *Program::findParam(const std::string &name) const {
  for (auto &p : params)
    if (p.name == name)
      return &p;
  return nullptr;
}

const Entry *Program::findEntry(const std::string &name) const {
  for (auto &e : entries)
    if (e.name == name)
      return &e;
  return nullptr;
}

int64_t Program::numParameters() const {
  int64_t n = 0;
  for (auto &p : params)
    n += p.type.numElements().coeff;
  return n;
}

namespace {

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
size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cur = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

std::string suggest(const std::string &name,
                    const std::vector<std::string> &candidates) {
  std::string best;
  size_t bestDist = std::max<size_t>(1, name.size() / 3) + 1;
  for (auto &c : candidates) {
    size_t d = editDistance(name, c);
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

/// Limits that keep elaboration of hostile input bounded.
constexpr size_t kMaxNodes = 2'000'000;
constexpr int64_t kMaxLoopTrips = 100'000;
constexpr size_t kMaxCallDepth = 64;
constexpr int64_t kMaxWork = 20'000'000;

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
struct Frame {
  const DefDecl *def = nullptr;
  std::string scope; ///< Parameter name prefix of this instance.
  Location callLoc;  ///< The call (invalid for the entry point).
  std::vector<std::unordered_map<std::string, Value>> scopes;
};

//===----------------------------------------------------------------------===//
// The elaborator
//===----------------------------------------------------------------------===//

class Elaborator {
public:
  Elaborator(const ModelSource &m, const ConfigFile &c) : model(m), cfg(c) {
    registerBuiltins();
  }

  Program run() {
    collectDecls();
    bindConfig();
    bindSchemeEntries();
    for (auto &d : model.main->defs)
      if (d->isExport)
        elaborateEntry(*d);
    if (prog.entries.empty())
      throw CompileError(
          Location{model.main->file, 1, 1},
          "no entry point in '" + model.main->file->path +
              "'; mark the model's top-level def with 'export', e.g. "
              "'export def forward(tokens: i32[B, T]) -> ...'");
    return std::move(prog);
  }

private:
  //===------------------------------------------------------------------===//
  // Declarations and config
  //===------------------------------------------------------------------===//

  void collectDecls() {
    std::map<std::string, Location> configLocs;
    for (auto &m : model.modules) {
      for (auto &d : m->defs) {
        if (builtins.count(d->name))
          throw CompileError(d->loc, "def '" + d->name +
                                         "' has the name of a builtin; "
                                         "choose another name");
        auto [it, fresh] = defs.emplace(d->name, d.get());
        if (!fresh)
          throw CompileError(
              Diagnostic{d->loc, "duplicate def '" + d->name + "'", {}}.note(
                  it->second->loc, "previously defined here"));
      }
      for (auto &c : m->configs) {
        auto [it, fresh] = configLocs.emplace(c.name, c.loc);
        if (!fresh)
          throw CompileError(
              Diagnostic{c.loc, "duplicate config '" + c.name + "'", {}}.note(
                  it->second, "previously declared here"));
        if (c.name == "pi" || c.name == "inf")
          throw CompileError(c.loc, "config '" + c.name +
                                        "' would hide the builtin constant");
        configDecls.push_back(&c);
      }
      for (auto &n : m->names) {
        for (auto *prev : namesDecls)
          if (prev->scheme == n.scheme)
            throw CompileError(Diagnostic{
                n.loc,
                "duplicate naming scheme '" + n.scheme + "'",
                {}}.note(prev->loc, "previously declared here"));
        namesDecls.push_back(&n);
        prog.namingSchemes.push_back(n.scheme);
      }
    }
    globals["pi"] = Value::number(M_PI);
    globals["inf"] = Value::number(std::numeric_limits<double>::infinity());
  }

  void bindConfig() {
    std::map<std::string, const ConfigEntry *> given;
    for (auto &e : cfg.entries)
      given[e.key] = &e; // later entries (overrides) win
    std::vector<std::string> declared;
    for (auto *c : configDecls)
      declared.push_back(c->name);
    for (auto &e : cfg.entries)
      if (!std::count(declared.begin(), declared.end(), e.key))
        throw CompileError(e.keyLoc, "unknown config key '" + e.key + "'" +
                                         suggest(e.key, declared) +
                                         knownKeys(declared));
    for (auto *c : configDecls) {
      ConfigValue cv;
      cv.name = c->name;
      cv.kind = c->type.kind;
      Value v;
      auto it = given.find(c->name);
      if (it != given.end()) {
        v = parseConfigValue(*c, *it->second);
      } else if (c->defaultValue) {
        cv.fromDefault = true;
        frames.emplace_back();
        frames.back().scopes.emplace_back();
        v = eval(*c->defaultValue);
        frames.pop_back();
        v = coerce(v, c->type, c->defaultValue->loc,
                   "the default of config '" + c->name + "'");
      } else {
        Location where = cfg.file ? Location{cfg.file, 1, 1} : c->loc;
        Diagnostic d{where,
                     "missing config value '" + c->name + "' (" +
                         toString(c->type) + ")" +
                         (cfg.file ? "" : "; pass --config FILE.yaml"),
                     {}};
        if (cfg.file)
          d.note(c->loc, "declared here without a default");
        throw CompileError(d);
      }
      auto fill = [](ConfigValue &out, const Value &x) {
        out.intValue = x.kind == Value::Kind::Int ? x.dim.coeff : 0;
        out.floatValue = x.kind == Value::Kind::Float ? x.f : 0;
        out.boolValue = x.kind == Value::Kind::Bool && x.b;
      };
      cv.isList = c->type.list;
      if (cv.isList)
        for (const Value &x : v.elems) {
          ConfigValue e;
          e.kind = cv.kind;
          fill(e, x);
          cv.elems.push_back(e);
        }
      else
        fill(cv, v);
      globals[c->name] = v;
      prog.config.push_back(cv);
    }
  }

  /// A number as JSON: the shortest text that reads back as `x`.
  static std::string jsonNumber(double x) {
    char buf[32];
    for (int precision = 6; precision <= 17; ++precision) {
      std::snprintf(buf, sizeof buf, "%.*g", precision, x);
      if (std::strtod(buf, nullptr) == x)
        break;
    }
    return buf;
  }

  /// A literal (or a list of literals) of a config-file entry as JSON.
  std::string jsonLiteral(const Expr &e, const std::string &key) {
    if (auto *i = dynCast<IntExpr>(&e))
      return std::to_string(i->value);
    if (auto *f = dynCast<FloatExpr>(&e))
      return jsonNumber(f->value);
    if (auto *b = dynCast<BoolExpr>(&e))
      return b->value ? "true" : "false";
    if (auto *s = dynCast<StringExpr>(&e)) {
      std::string out = "\"";
      for (char c : s->value) {
        if (c == '"' || c == '\\')
          out += '\\';
        if (static_cast<unsigned char>(c) < 0x20)
          throw CompileError(e.loc, "a config-file string may not hold "
                                    "control characters");
        out += c;
      }
      return out + "\"";
    }
    if (auto *u = dynCast<UnaryExpr>(&e))
      if (u->op == UnaryOp::Neg &&
          (isa<IntExpr>(u->operand.get()) || isa<FloatExpr>(u->operand.get())))
        return "-" + jsonLiteral(*u->operand, key);
    if (auto *l = dynCast<ListExpr>(&e)) {
      std::string out = "[";
      for (size_t i = 0; i < l->elements.size(); ++i)
        out += (i ? ", " : "") + jsonLiteral(*l->elements[i], key);
      return out + "]";
    }
    throw CompileError(e.loc, "the value of config-file key '" + key +
                                  "' must be a config name, a number, a "
                                  "bool, a string or a list of them");
  }

  /// Each naming scheme's `"key" = value` entries, evaluated against the
  /// bound config.
  void bindSchemeEntries() {
    for (const NamesDecl *n : namesDecls) {
      std::map<std::string, Location> seen;
      for (const NamesDecl::Entry &e : n->entries) {
        auto [it, fresh] = seen.emplace(e.key, e.loc);
        if (!fresh)
          throw CompileError(Diagnostic{
              e.loc,
              "duplicate config-file key '" + e.key + "' in names '" +
                  n->scheme + "'",
              {}}.note(it->second, "previously given here"));
        SchemeEntry out{n->scheme, e.key, "", ""};
        if (auto *name = dynCast<NameExpr>(e.value.get())) {
          auto c = std::find_if(
              prog.config.begin(), prog.config.end(),
              [&](const ConfigValue &v) { return v.name == name->name; });
          if (c == prog.config.end())
            throw CompileError(e.value->loc,
                               "'" + name->name +
                                   "' is not a config of this model; a "
                                   "config-file value is a config name or "
                                   "a literal");
          out.config = c->name;
          out.json = c->kind == TypeExpr::Kind::Float && !c->isList
                         ? jsonNumber(c->floatValue)
                         : c->str();
        } else {
          out.json = jsonLiteral(*e.value, e.key);
        }
        prog.schemeEntries.push_back(out);
      }
    }
  }

  static std::string knownKeys(const std::vector<std::string> &declared) {
    std::string s = " (the model declares:";
    for (auto &d : declared)
      s += " " + d;
    return s + ")";
  }

  /// A config entry's value as the declared type: a scalar, or a list of
  /// them for `list[...]`.
  Value parseConfigValue(const ConfigDecl &c, const ConfigEntry &e) {
    if (!c.type.list) {
      if (e.isList)
        throw CompileError(e.valueLoc, "config key '" + e.key +
                                           "' must have a single value (a "
                                           "number or true/false), not a "
                                           "list");
      return parseConfigScalar(c, e.value, e.valueLoc);
    }
    if (!e.isList)
      throw CompileError(Diagnostic{
          e.valueLoc,
          "config '" + c.name +
              "' expects a list such as [1, 2], "
              "found '" +
              e.value + "'",
          {}}.note(c.loc, "declared here as " + toString(c.type)));
    Value v;
    v.kind = Value::Kind::List;
    for (const std::string &item : e.list)
      v.elems.push_back(parseConfigScalar(c, item, e.valueLoc));
    return v;
  }

  Value parseConfigScalar(const ConfigDecl &c, const std::string &t,
                          Location valueLoc) {
    auto bad = [&](const char *what) -> CompileError {
      return CompileError(Diagnostic{
          valueLoc,
          "config '" + c.name + "' expects " + what + ", found '" + t + "'",
          {}}.note(c.loc, "declared here as " + toString(c.type)));
    };
    switch (c.type.kind) {
    case TypeExpr::Kind::Int: {
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(t, &used, 10);
      } catch (...) {
        throw bad("an integer");
      }
      if (used != t.size())
        throw bad("an integer");
      return Value::integer(Dim(v));
    }
    case TypeExpr::Kind::Float: {
      size_t used = 0;
      double v = 0;
      try {
        v = std::stod(t, &used);
      } catch (...) {
        throw bad("a number");
      }
      if (used != t.size() || !std::isfinite(v))
        throw bad("a finite number");
      return Value::number(v);
    }
    case TypeExpr::Kind::Bool:
      if (t == "true" || t == "True")
        return Value::boolean(true);
      if (t == "false" || t == "False")
        return Value::boolean(false);
      throw bad("true or false");
    case TypeExpr::Kind::Tensor:
      break;
    }
    throw bad("a scalar");
  }

  /// Converts a static value to a declared scalar type (int to float is
  /// allowed), or fails naming `what`.
  Value coerce(const Value &v, const TypeExpr &t, Location loc,
               const std::string &what) {
    if (t.list) {
      if (v.kind != Value::Kind::List)
        throw CompileError(loc, what + " expects " + toString(t) + ", got " +
                                    v.describe());
      TypeExpr elem;
      elem.kind = t.kind;
      Value out = v;
      for (size_t i = 0; i < v.elems.size(); ++i)
        out.elems[i] = coerce(v.elems[i], elem, loc,
                              what + ", element " + std::to_string(i));
      return out;
    }
    switch (t.kind) {
    case TypeExpr::Kind::Int:
      if (v.kind == Value::Kind::Int)
        return v;
      break;
    case TypeExpr::Kind::Float:
      if (v.kind == Value::Kind::Float)
        return v;
      if (v.isStaticNumber())
        return Value::number(v.asDouble());
      break;
    case TypeExpr::Kind::Bool:
      if (v.kind == Value::Kind::Bool)
        return v;
      break;
    case TypeExpr::Kind::Tensor:
      break;
    }
    throw CompileError(loc, what + " expects " + toString(t) + ", got " +
                                v.describe());
  }

  //===------------------------------------------------------------------===//
  // Entries
  //===------------------------------------------------------------------===//

  void elaborateEntry(const DefDecl &d) {
    prog.entries.emplace_back();
    entry = &prog.entries.back();
    entry->name = d.name;
    entry->loc = d.loc;
    entryParams.clear();
    frames.clear();
    frames.emplace_back();
    frames.back().def = &d;
    frames.back().scopes.emplace_back();
    for (const DefArg &a : d.args) {
      if (a.type.kind != TypeExpr::Kind::Tensor)
        throw CompileError(a.loc, "arguments of an entry point must be "
                                  "tensors (the model's inputs); '" +
                                      a.name + "' is " + toString(a.type));
      if (a.defaultValue)
        throw CompileError(a.defaultValue->loc,
                           "entry point arguments cannot have defaults");
      TensorType t;
      t.elem = a.type.elem;
      for (auto &de : a.type.dims) {
        if (isa<EllipsisExpr>(de.get()))
          throw CompileError(de->loc,
                             "'...' is not allowed in an entry point's "
                             "arguments; name every dim (e.g. [B, T])");
        auto *n = dynCast<NameExpr>(de.get());
        if (n && !lookup(n->name)) {
          Dim sym = Dim::symbol(n->name);
          frames.back().scopes.back()[n->name] = Value::integer(sym);
          entry->symbols.push_back(n->name);
          t.shape.push_back(sym);
          continue;
        }
        t.shape.push_back(staticDim(eval(*de), de->loc, "a dimension"));
      }
      int id = addNode("input", {}, t, a.loc, {{"name", a.name}});
      entry->inputs.push_back(id);
      declare(a.name, Value::tensor(t, id), a.loc);
    }
    std::optional<Value> r = execBlock(d.body);
    if (!r)
      throw CompileError(d.loc,
                         "entry point '" + d.name + "' ends without 'return'");
    if (r->kind != Value::Kind::Tensor)
      throw CompileError(d.loc, "entry point '" + d.name +
                                    "' must return a tensor, not " +
                                    r->describe());
    checkResults(d, *r);
    entry->result = r->node;
  }

  //===------------------------------------------------------------------===//
  // Scopes
  //===------------------------------------------------------------------===//

  const Value *lookup(const std::string &name) const {
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

  void declare(const std::string &name, Value v, Location) {
    frames.back().scopes.back()[name] = std::move(v);
  }

  std::vector<std::string> visibleNames() const {
    std::vector<std::string> out;
    if (!frames.empty())
      for (auto &s : frames.back().scopes)
        for (auto &[n, v] : s)
          out.push_back(n);
    for (auto &[n, v] : globals)
      out.push_back(n);
    return out;
  }

  //===------------------------------------------------------------------===//
  // Statements
  //===------------------------------------------------------------------===//

  void tick(Location loc) {
    if (++work > kMaxWork)
      throw CompileError(loc, "the model is too large to elaborate (more "
                              "than " +
                                  std::to_string(kMaxWork) + " steps)");
  }

  std::optional<Value> execBlock(const Block &b) {
    for (auto &s : b)
      if (auto r = exec(*s))
        return r;
    return std::nullopt;
  }

  std::optional<Value> execScoped(const Block &b) {
    frames.back().scopes.emplace_back();
    std::optional<Value> r = execBlock(b);
    frames.back().scopes.pop_back();
    return r;
  }

  std::optional<Value> exec(const Stmt &s) {
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
        throw CompileError(l.loc,
                           "'let' unpacks " + std::to_string(l.names.size()) +
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
    }
    return std::nullopt;
  }

  void execAssert(const AssertStmt &a) {
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
      throw CompileError(
          a.loc, "assertion failed: " +
                     (a.message.empty() ? toString(*a.cond) : a.message) +
                     explainNames(*a.cond));
  }

  /// ` (where C = 768, n_heads = 10)` for the names used in `e`.
  std::string explainNames(const Expr &e) {
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
  void addCheck(RuntimeCheck c) {
    for (auto &o : entry->checks)
      if (o.lhs == c.lhs && o.op == c.op && o.rhs == c.rhs)
        return;
    entry->checks.push_back(std::move(c));
  }

  void execParam(const ParamStmt &p) {
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

  Initializer parseInit(const Expr &e) {
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
      throw CompileError(c->loc, "unknown initializer '" + c->callee + "'; " +
                                     expected);
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

  std::map<std::string, std::string> mapNames(const std::string &name,
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
  static std::optional<std::string> matchGlob(const std::string &pattern,
                                              const std::string &s) {
    if (!globMatch(pattern, s))
      return std::nullopt;
    size_t star = pattern.find('*');
    if (star == std::string::npos)
      return std::string();
    size_t tail = pattern.size() - star - 1;
    return s.substr(star, s.size() - star - tail);
  }

  static std::string joinName(const std::string &scope,
                              const std::string &name) {
    return scope.empty() ? name : scope + "." + name;
  }

  //===------------------------------------------------------------------===//
  // Expressions
  //===------------------------------------------------------------------===//

  Value eval(const Expr &e) {
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

  Value evalName(const NameExpr &n) {
    if (const Value *v = lookup(n.name))
      return *v;
    if (defs.count(n.name) || builtins.count(n.name))
      throw CompileError(n.loc, "'" + n.name + "' is a function; call it as " +
                                    n.name + "(...)");
    throw CompileError(n.loc, "unknown name '" + n.name + "'" +
                                  suggest(n.name, visibleNames()));
  }

  Value evalParamRef(const ParamRefExpr &p) {
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

  Value evalUnary(const UnaryExpr &u) {
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

  Dim checkedMul(const Dim &a, const Dim &b, Location loc) {
    int64_t c;
    if (__builtin_mul_overflow(a.coeff, b.coeff, &c))
      throw CompileError(loc,
                         "integer overflow in " + a.str() + " * " + b.str());
    return a * b;
  }

  Dim checkedNumElements(const TensorType &t, Location loc) {
    Dim n(1);
    for (auto &d : t.shape)
      n = checkedMul(n, d, loc);
    return n;
  }

  Value binary(BinaryOp op, const Value &a, const Value &b, Location loc) {
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

  Value compare(BinaryOp op, const Value &a, const Value &b, Location loc) {
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

  Value intBinary(BinaryOp op, const Dim &a, const Dim &b, Location loc) {
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
        throw CompileError(loc, "integer division " + a.str() + " / " +
                                    b.str() +
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

  //===------------------------------------------------------------------===//
  // Tensor operations
  //===------------------------------------------------------------------===//

  int addNode(std::string op, std::vector<int> operands, TensorType type,
              Location loc,
              std::vector<std::pair<std::string, Attr>> attrs = {}) {
    if (entry->nodes.size() >= kMaxNodes)
      throw CompileError(loc, "the model has more than " +
                                  std::to_string(kMaxNodes) + " operations");
    Node n;
    n.op = std::move(op);
    n.operands = std::move(operands);
    n.type = std::move(type);
    n.loc = loc;
    n.attrs = std::move(attrs);
    n.scope = frames.empty() ? "" : frames.back().scope;
    for (size_t f = frames.size(); f-- > 1;)
      n.callers.push_back(
          {frames[f].callLoc, frames[f].def->name, frames[f].scope});
    entry->nodes.push_back(std::move(n));
    return static_cast<int>(entry->nodes.size() - 1);
  }

  void requireFloat(const Value &v, Location loc, const std::string &what) {
    if (v.kind != Value::Kind::Tensor || v.type.elem != ElemType::F32)
      throw CompileError(loc,
                         what + " needs an f32 tensor, got " + v.describe());
  }

  /// Turns a static number into a scalar f32 constant node.
  Value materialize(const Value &v, Location loc) {
    if (v.kind == Value::Kind::Tensor)
      return v;
    if (!v.isStaticNumber())
      throw CompileError(loc,
                         "cannot use " + v.describe() + " as a tensor operand");
    TensorType t;
    return Value::tensor(
        t, addNode("constant", {}, t, loc, {{"value", v.asDouble()}}));
  }

  Value tensorBinary(BinaryOp op, const Value &a0, const Value &b0,
                     Location loc) {
    if (op == BinaryOp::MatMul)
      return matmul(a0, b0, loc);
    if (op == BinaryOp::Pow) {
      if (!b0.isStaticNumber())
        throw CompileError(loc, "the exponent of '**' must be a static "
                                "number, got " +
                                    b0.describe());
      requireFloat(a0, loc, "'**'");
      return Value::tensor(a0.type, addNode("pow", {a0.node}, a0.type, loc,
                                            {{"exponent", b0.asDouble()}}));
    }
    const char *opName = nullptr;
    switch (op) {
    case BinaryOp::Add:
      opName = "add";
      break;
    case BinaryOp::Sub:
      opName = "sub";
      break;
    case BinaryOp::Mul:
      opName = "mul";
      break;
    case BinaryOp::Div:
      opName = "div";
      break;
    case BinaryOp::Eq:
    case BinaryOp::Ne:
    case BinaryOp::Lt:
    case BinaryOp::Le:
    case BinaryOp::Gt:
    case BinaryOp::Ge:
      return tensorCompare(op, a0, b0, loc);
    default:
      throw CompileError(loc, std::string("operator '") + spelling(op) +
                                  "' is not defined on tensors");
    }
    Value a = materialize(a0, loc), b = materialize(b0, loc);
    requireFloat(a, loc, std::string("'") + spelling(op) + "'");
    requireFloat(b, loc, std::string("'") + spelling(op) + "'");
    TensorType t;
    t.shape = ruleShape(shapes::broadcast(a.type.shape, b.type.shape), loc, {},
                        std::string("'") + spelling(op) + "': ");
    return Value::tensor(t, addNode(opName, {a.node, b.node}, t, loc));
  }

  /// `a < b` (and the other comparisons) on tensors: a mask. Both sides f32
  /// or both i32; a static number takes the tensor's element type.
  Value tensorCompare(BinaryOp op, const Value &a0, const Value &b0,
                      Location loc) {
    static const std::map<BinaryOp, const char *> kOps = {
        {BinaryOp::Eq, "eq"}, {BinaryOp::Ne, "ne"}, {BinaryOp::Lt, "lt"},
        {BinaryOp::Le, "le"}, {BinaryOp::Gt, "gt"}, {BinaryOp::Ge, "ge"}};
    ElemType elem = (a0.kind == Value::Kind::Tensor ? a0 : b0).type.elem;
    Value a = materializeAs(a0, elem, loc), b = materializeAs(b0, elem, loc);
    for (const Value *v : {&a, &b})
      if (v->type.elem == ElemType::Bool || v->type.elem != elem)
        throw CompileError(loc,
                           std::string("'") + spelling(op) +
                               "' compares two f32 or two i32 tensors, got " +
                               a.type.str() + " and " + b.type.str() +
                               "; cast(x, \"f32\") converts");
    TensorType t;
    t.elem = ElemType::Bool;
    t.shape = ruleShape(shapes::broadcast(a.type.shape, b.type.shape), loc, {},
                        std::string("'") + spelling(op) + "': ");
    return Value::tensor(t, addNode(kOps.at(op), {a.node, b.node}, t, loc));
  }

  /// `v` as a tensor of element type `elem`: a static number becomes a
  /// scalar constant (cast for i32).
  Value materializeAs(const Value &v, ElemType elem, Location loc) {
    Value t = materialize(v, loc);
    if (v.kind == Value::Kind::Tensor || elem != ElemType::I32)
      return t;
    if (v.kind != Value::Kind::Int)
      throw CompileError(loc, "an i32 tensor compares with whole numbers, "
                              "got " +
                                  v.describe());
    TensorType i;
    i.elem = ElemType::I32;
    return Value::tensor(i, addNode("cast", {t.node}, i, loc));
  }

  /// The shape a rule of ShapeRules.h gives, or its error at `loc` (at the
  /// operand's location when the rule names one of `operandLocs`).
  std::vector<Dim> ruleShape(shapes::Result r, Location loc,
                             const std::vector<Location> &operandLocs = {},
                             const std::string &prefix = "") {
    if (!r.failed())
      return std::move(r.shape);
    if (r.operand >= 0 && static_cast<size_t>(r.operand) < operandLocs.size())
      loc = operandLocs[r.operand];
    throw CompileError(loc, prefix + r.error);
  }

  Value matmul(const Value &a, const Value &b, Location loc) {
    requireFloat(a, loc, "matmul");
    requireFloat(b, loc, "matmul");
    TensorType t;
    t.shape = ruleShape(shapes::matmul(a.type.shape, b.type.shape), loc);
    return Value::tensor(t, addNode("matmul", {a.node, b.node}, t, loc));
  }

  //===------------------------------------------------------------------===//
  // Calls
  //===------------------------------------------------------------------===//

  Value evalCall(const CallExpr &c) {
    auto bi = builtins.find(c.callee);
    if (bi != builtins.end()) {
      if (!c.instance.empty())
        throw CompileError(c.instance[0].loc,
                           "'as' names the parameters of a def instance; "
                           "builtin '" +
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

  BoundArgs bindBuiltinArgs(const CallExpr &c,
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

  static std::string join(const std::vector<std::string> &v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i)
      s += (i ? ", " : "") + v[i];
    return s;
  }

  /// Matches positional and keyword arguments to `names`; null where absent.
  std::vector<const Expr *> matchArgs(const CallExpr &c,
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

  Value callDef(const DefDecl &d, const CallExpr &c) {
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
      frames.pop_back();
      return *r;
    } catch (CompileError &e) {
      frames.pop_back();
      bool sameSpot = e.diag.loc.file == c.calleeLoc.file &&
                      e.diag.loc.line == c.calleeLoc.line &&
                      e.diag.loc.col == c.calleeLoc.col;
      if (e.diag.notes.size() < 8 && !sameSpot)
        e.diag.note(c.calleeLoc, "in '" + d.name + "' called here" +
                                     (scope.empty() ? std::string()
                                                    : " as '" + scope + "'"));
      throw;
    }
  }

  std::string instanceScope(const CallExpr &c) {
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

  /// Checks `v` against a tensor type pattern; with `bindNew`, dim names
  /// not yet bound are bound to the actual dims (B, T of the caller).
  /// The value a def returned against its declared result types.
  void checkResults(const DefDecl &d, const Value &r) {
    if (d.results.empty())
      return;
    std::string what = "the result of '" + d.name + "'";
    if (d.results.size() == 1)
      return checkType(d.results[0], r, d.results[0].loc, what, false);
    if (r.kind != Value::Kind::Tuple || r.elems.size() != d.results.size())
      throw CompileError(d.results[0].loc,
                         "'" + d.name + "' declares " +
                             std::to_string(d.results.size()) +
                             " results but returns " + r.describe());
    for (size_t i = 0; i < r.elems.size(); ++i)
      checkType(d.results[i], r.elems[i], d.results[i].loc,
                "result " + std::to_string(i) + " of '" + d.name + "'", false);
  }

  void checkType(const TypeExpr &t, const Value &v, Location loc,
                 const std::string &what, bool bindNew) {
    if (t.kind != TypeExpr::Kind::Tensor) {
      coerce(v, t, loc, what);
      return;
    }
    if (v.kind != Value::Kind::Tensor)
      throw CompileError(loc, what + " expects a tensor " + toString(t) +
                                  ", got " + v.describe());
    if (v.type.elem != t.elem)
      throw CompileError(loc, what + " expects element type " +
                                  spelling(t.elem) + ", got " + v.type.str());
    bool variadic = !t.dims.empty() && isa<EllipsisExpr>(t.dims[0].get());
    size_t fixed = t.dims.size() - (variadic ? 1 : 0);
    if (variadic ? v.type.rank() < fixed : v.type.rank() != fixed)
      throw CompileError(loc, what + " expects rank " +
                                  (variadic ? ">= " : "") +
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
                ", expected " + expected.str() +
                (n ? " (" + n->name + ")" : ""),
            {}}.note(de.loc, "expected dim from here"));
    }
  }

  Dim staticDimOrSymbol(const Value &v, Location loc) {
    if (v.kind != Value::Kind::Int)
      throw CompileError(loc,
                         "a dimension must be an int, got " + v.describe());
    return v.dim;
  }

  Dim staticDim(const Value &v, Location loc, const std::string &what) {
    if (v.kind != Value::Kind::Int)
      throw CompileError(loc, what + " must be an int, got " + v.describe());
    return v.dim;
  }

  int64_t staticInt(const Value &v, Location loc, const std::string &what) {
    if (v.kind != Value::Kind::Int)
      throw CompileError(loc, what + " must be an int, got " + v.describe());
    if (!v.dim.isConstant())
      throw CompileError(loc, what +
                                  " must be a static int, got the symbolic "
                                  "dim " +
                                  v.dim.str());
    return v.dim.coeff;
  }

  double staticFloat(const Value &v, Location loc, const std::string &what) {
    if (!v.isStaticNumber())
      throw CompileError(loc, what + " must be a static number, got " +
                                  v.describe());
    return v.asDouble();
  }

  bool staticBool(const Value &v, Location loc, const std::string &what) {
    if (v.kind != Value::Kind::Bool)
      throw CompileError(loc,
                         what + " must be true or false, got " + v.describe());
    return v.b;
  }

  const Value &tensorArg(BoundArgs &a, size_t i, const CallExpr &c,
                         const char *argName) {
    if (a.values[i].kind != Value::Kind::Tensor)
      throw CompileError(
          a.locs[i], "argument '" + std::string(argName) + "' of '" + c.callee +
                         "' must be a tensor, got " + a.values[i].describe());
    return a.values[i];
  }

  int64_t normAxis(int64_t axis, size_t rank, Location loc) {
    int64_t r = static_cast<int64_t>(rank);
    if (axis < -r || axis >= r)
      throw CompileError(
          loc, "axis " + std::to_string(axis) + " is out of range for a rank-" +
                   std::to_string(rank) + " tensor; expected " +
                   std::to_string(-r) + ".." + std::to_string(r - 1));
    return axis < 0 ? axis + r : axis;
  }

  //===------------------------------------------------------------------===//
  // Indexing
  //===------------------------------------------------------------------===//

  Value evalIndex(const IndexExpr &ix) {
    Value base = eval(*ix.base);
    if (base.kind == Value::Kind::List)
      return listItem(base, ix);
    if (base.kind != Value::Kind::Tensor)
      throw CompileError(ix.loc,
                         "only tensors can be indexed, got " + base.describe());
    const TensorType &bt = base.type;
    if (ix.items.size() > bt.rank())
      throw CompileError(ix.loc, "too many indices (" +
                                     std::to_string(ix.items.size()) +
                                     ") for " + bt.str());
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
  Value listItem(const Value &list, const IndexExpr &ix) {
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
  Value biLen(BoundArgs &a, const CallExpr &) {
    if (a.values[0].kind != Value::Kind::List)
      throw CompileError(a.locs[0],
                         "len needs a list, got " + a.values[0].describe());
    return Value::integer(Dim(static_cast<int64_t>(a.values[0].elems.size())));
  }

  //===------------------------------------------------------------------===//
  // Builtins
  //===------------------------------------------------------------------===//

  /// The builtins are the ops that declare one in GptOps.td.
  void registerBuiltins() {
#define GPT_BUILTIN(Name, Rule, ...)                                           \
  builtins[Name] = {__VA_ARGS__, &Elaborator::Rule};
#include "gptc/IR/GptOpTable.inc"
    // Spellings of full() with the value implied.
    builtins["zeros"] = {{{"shape", std::nullopt}}, &Elaborator::biZeros};
    builtins["ones"] = {{{"shape", std::nullopt}}, &Elaborator::biOnes};
    builtins["len"] = {{{"xs", std::nullopt}}, &Elaborator::biLen};
    builtins["expand"] = {{{"x", std::nullopt}, {"shape", std::nullopt}},
                          &Elaborator::biExpand};
    builtins["repeat"] = {{{"x", std::nullopt},
                           {"n", std::nullopt},
                           {"axis", Value::integer(-1)}},
                          &Elaborator::biRepeat};
    // concat of the inputs with a new dim inserted at `axis`.
    builtins["stack"] = {{{"xs", std::nullopt}, {"axis", Value::integer(0)}},
                         &Elaborator::biStack};
  }

  Value biUnary(BoundArgs &a, const CallExpr &c) {
    const Value &x = a.values[0];
    if (x.isStaticNumber()) {
      // Folded with the op's own formula, so `exp(1.0)` here and in a kernel
      // agree; a non-finite result (log of 0, sqrt of -1) is an error.
      double r = ops::unaryFormula(c.callee)(x.asDouble());
      if (!std::isfinite(r))
        throw CompileError(a.locs[0],
                           c.callee + " of " + x.describe() + " is undefined");
      return Value::number(r);
    }
    requireFloat(x, a.locs[0], c.callee);
    return Value::tensor(x.type, addNode(c.callee, {x.node}, x.type, c.loc));
  }

  Value biSoftmax(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    requireFloat(x, a.locs[0], c.callee);
    int64_t axis = normAxis(staticInt(a.values[1], a.locs[1], "axis"),
                            x.type.rank(), a.locs[1]);
    TensorType t = x.type;
    t.shape = ruleShape(shapes::alongAxis(x.type.shape, axis), c.loc);
    return Value::tensor(
        t, addNode(c.callee, {x.node}, t, c.loc, {{"axis", axis}}));
  }

  Value biReduce(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    requireFloat(x, a.locs[0], c.callee);
    int64_t axis = normAxis(staticInt(a.values[1], a.locs[1], "axis"),
                            x.type.rank(), a.locs[1]);
    bool keep = staticBool(a.values[2], a.locs[2], "keepdim");
    TensorType t = x.type;
    t.shape = ruleShape(shapes::reduce(x.type.shape, axis, keep), c.loc);
    return Value::tensor(t, addNode(c.callee, {x.node}, t, c.loc,
                                    {{"axis", axis}, {"keepdim", keep}}));
  }

  Value biMatmul(BoundArgs &a, const CallExpr &c) {
    return matmul(a.values[0], a.values[1], c.loc);
  }

  Value biTranspose(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    int64_t d0 = normAxis(staticInt(a.values[1], a.locs[1], "dim0"),
                          x.type.rank(), a.locs[1]);
    int64_t d1 = normAxis(staticInt(a.values[2], a.locs[2], "dim1"),
                          x.type.rank(), a.locs[2]);
    std::vector<int64_t> perm(x.type.rank());
    for (size_t i = 0; i < perm.size(); ++i)
      perm[i] = static_cast<int64_t>(i);
    std::swap(perm[d0], perm[d1]);
    TensorType t = x.type;
    t.shape = ruleShape(shapes::transpose(x.type.shape, perm), c.loc);
    return Value::tensor(
        t, addNode("transpose", {x.node}, t, c.loc, {{"perm", perm}}));
  }

  Value biReshape(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    const Value &s = a.values[1];
    if (s.kind != Value::Kind::List)
      throw CompileError(a.locs[1], "the shape of reshape must be a list "
                                    "such as [B, T, 12, 64], got " +
                                        s.describe());
    TensorType t;
    t.elem = x.type.elem;
    int inferred = -1;
    Dim known(1);
    for (size_t i = 0; i < s.elems.size(); ++i) {
      const Value &e = s.elems[i];
      if (e.kind != Value::Kind::Int)
        throw CompileError(a.locs[1], "reshape dim " + std::to_string(i) +
                                          " must be an int, got " +
                                          e.describe());
      if (e.dim == Dim(-1)) {
        if (inferred >= 0)
          throw CompileError(a.locs[1], "reshape may infer only one dim (-1)");
        inferred = static_cast<int>(i);
        t.shape.push_back(Dim(-1));
        continue;
      }
      if (e.dim.coeff <= 0)
        throw CompileError(a.locs[1],
                           "reshape dims must be positive, got " + e.dim.str());
      known = checkedMul(known, e.dim, a.locs[1]);
      t.shape.push_back(e.dim);
    }
    Dim total = checkedNumElements(x.type, c.loc);
    // -1 is the DSL's: the dim that keeps the element count.
    if (inferred >= 0) {
      auto q = exactDiv(total, known);
      if (!q)
        throw CompileError(c.loc, "cannot reshape " + x.type.str() + " (" +
                                      total.str() + " elements) into " +
                                      shapeStr(t.shape) +
                                      ": the -1 dim is not a whole number");
      t.shape[inferred] = *q;
    }
    t.shape = ruleShape(shapes::reshape(x.type.shape, t.shape), c.loc);
    return Value::tensor(
        t, addNode("reshape", {x.node}, t, c.loc, {{"shape", t.shape}}));
  }

  Value biSplit(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    int64_t parts = staticInt(a.values[1], a.locs[1], "parts");
    if (parts < 1 || parts > 4096)
      throw CompileError(a.locs[1], "split needs 1..4096 parts, got " +
                                        std::to_string(parts));
    int64_t axis = normAxis(staticInt(a.values[2], a.locs[2], "axis"),
                            x.type.rank(), a.locs[2]);
    Value tuple;
    tuple.kind = Value::Kind::Tuple;
    TensorType t = x.type;
    t.shape = ruleShape(shapes::split(x.type.shape, axis, parts, 0), c.loc);
    for (int64_t i = 0; i < parts; ++i)
      tuple.elems.push_back(Value::tensor(
          t, addNode("split", {x.node}, t, c.loc,
                     {{"axis", axis}, {"parts", parts}, {"index", i}})));
    return tuple;
  }

  Value biConcat(BoundArgs &a, const CallExpr &c) {
    return concat(a.values[0], a.locs[0], a.values[1], a.locs[1], c.loc, false);
  }
  Value biStack(BoundArgs &a, const CallExpr &c) {
    return concat(a.values[0], a.locs[0], a.values[1], a.locs[1], c.loc, true);
  }

  /// concat(xs, axis), or with `stack` a new dim of size 1 inserted into
  /// each input at `axis` first.
  Value concat(const Value &xs, Location xsLoc, const Value &axisArg,
               Location axisLoc, Location loc, bool stack) {
    const char *what = stack ? "stack" : "concat";
    if (xs.kind != Value::Kind::List || xs.elems.empty())
      throw CompileError(xsLoc, std::string(what) +
                                    " needs a list of tensors such as [a, b], "
                                    "got " +
                                    xs.describe());
    std::vector<Value> inputs;
    for (const Value &e : xs.elems) {
      if (e.kind != Value::Kind::Tensor)
        throw CompileError(xsLoc, std::string(what) + " needs tensors, got " +
                                      e.describe());
      requireFloat(e, xsLoc, what);
      inputs.push_back(e);
    }
    size_t rank = inputs[0].type.rank() + (stack ? 1 : 0);
    int64_t axis = normAxis(staticInt(axisArg, axisLoc, "axis"), rank, axisLoc);
    if (stack)
      for (Value &x : inputs) {
        TensorType t = x.type;
        if (t.rank() + 1 != rank)
          throw CompileError(xsLoc, "stack needs tensors of one rank, got " +
                                        inputs[0].type.str() + " and " +
                                        t.str());
        t.shape.insert(t.shape.begin() + axis, Dim(1));
        x = Value::tensor(
            t, addNode("reshape", {x.node}, t, loc, {{"shape", t.shape}}));
      }
    std::vector<shapes::Shape> shapesIn;
    std::vector<int> nodes;
    for (const Value &x : inputs) {
      shapesIn.push_back(x.type.shape);
      nodes.push_back(x.node);
    }
    TensorType t;
    t.shape = ruleShape(shapes::concat(shapesIn, axis), loc);
    return Value::tensor(t, addNode("concat", nodes, t, loc, {{"axis", axis}}));
  }

  Value biGather(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    const Value &index = tensorArg(a, 1, c, "index");
    requireFloat(x, a.locs[0], "gather");
    if (index.type.elem != ElemType::I32)
      throw CompileError(a.locs[1], "the index of gather must be an i32 "
                                    "tensor, got " +
                                        index.type.str());
    int64_t axis = normAxis(staticInt(a.values[2], a.locs[2], "axis"),
                            x.type.rank(), a.locs[2]);
    TensorType t;
    t.shape = ruleShape(shapes::gather(x.type.shape, index.type.shape, axis),
                        c.loc, a.locs);
    return Value::tensor(
        t, addNode("gather", {x.node, index.node}, t, c.loc, {{"axis", axis}}));
  }

  Value biMaskedFill(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    const Value &m = tensorArg(a, 1, c, "mask");
    requireFloat(x, a.locs[0], "masked_fill");
    if (m.type.elem != ElemType::Bool)
      throw CompileError(a.locs[1], "the mask of masked_fill must be a bool "
                                    "tensor (e.g. causal_mask(T)), got " +
                                        m.type.str());
    double v = staticFloat(a.values[2], a.locs[2], "the fill value");
    TensorType t = x.type;
    t.shape = ruleShape(shapes::maskedFill(x.type.shape, m.type.shape), c.loc);
    return Value::tensor(
        t, addNode("masked_fill", {x.node, m.node}, t, c.loc, {{"value", v}}));
  }

  Value biWhere(BoundArgs &a, const CallExpr &c) {
    const Value &m = tensorArg(a, 0, c, "cond");
    if (m.type.elem != ElemType::Bool)
      throw CompileError(a.locs[0], "the condition of where must be a mask "
                                    "(a comparison or causal_mask), got " +
                                        m.type.str());
    Value x = materialize(a.values[1], a.locs[1]);
    Value y = materialize(a.values[2], a.locs[2]);
    requireFloat(x, a.locs[1], "where");
    requireFloat(y, a.locs[2], "where");
    TensorType t;
    t.shape = ruleShape(shapes::where(m.type.shape, x.type.shape, y.type.shape),
                        c.loc);
    return Value::tensor(t,
                         addNode("where", {m.node, x.node, y.node}, t, c.loc));
  }

  Value biCast(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    const Value &d = a.values[1];
    static const std::map<std::string, ElemType> kTypes = {
        {"f32", ElemType::F32},
        {"i32", ElemType::I32},
        {"bool", ElemType::Bool}};
    auto it = d.kind == Value::Kind::String ? kTypes.find(d.s) : kTypes.end();
    if (it == kTypes.end())
      throw CompileError(a.locs[1],
                         "cast needs the element type as a "
                         "string: \"f32\", \"i32\" or \"bool\", "
                         "got " +
                             (d.kind == Value::Kind::String ? "\"" + d.s + "\""
                                                            : d.describe()));
    if (it->second == x.type.elem)
      return x;
    TensorType t = x.type;
    t.elem = it->second;
    return Value::tensor(t, addNode("cast", {x.node}, t, c.loc));
  }

  Value biFull(BoundArgs &a, const CallExpr &c) {
    return full(shapeList(a.values[0], a.locs[0]),
                staticFloat(a.values[1], a.locs[1], "the fill value"), c.loc);
  }

  /// The dims of a shape written as a list (`[B, T, 8]`).
  std::vector<Dim> shapeList(const Value &shape, Location loc) {
    if (shape.kind != Value::Kind::List)
      throw CompileError(loc, "the shape must be a list such as "
                              "[B, T, 8], got " +
                                  shape.describe());
    std::vector<Dim> dims;
    for (size_t i = 0; i < shape.elems.size(); ++i) {
      const Value &e = shape.elems[i];
      if (e.kind != Value::Kind::Int)
        throw CompileError(loc, "dim " + std::to_string(i) +
                                    " of the shape must be an int, got " +
                                    e.describe());
      dims.push_back(e.dim);
    }
    return ruleShape(shapes::full(dims), loc);
  }

  /// A tensor of `value` with the shape `dims` (checked by shapeList).
  Value full(std::vector<Dim> dims, double value, Location loc) {
    TensorType t;
    t.shape = std::move(dims);
    return Value::tensor(
        t, addNode("full", {}, t, loc, {{"shape", t.shape}, {"value", value}}));
  }

  /// zeros(shape) and ones(shape): full with 0 and 1.
  Value biZeros(BoundArgs &a, const CallExpr &c) {
    return full(shapeList(a.values[0], a.locs[0]), 0.0, c.loc);
  }
  Value biOnes(BoundArgs &a, const CallExpr &c) {
    return full(shapeList(a.values[0], a.locs[0]), 1.0, c.loc);
  }

  /// expand(x, shape): `x` broadcast to `shape` (broadcast_like of a
  /// constant of that shape, whose values are not read).
  Value biExpand(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    requireFloat(x, a.locs[0], "expand");
    return expand(x, full(shapeList(a.values[1], a.locs[1]), 0.0, c.loc),
                  c.loc);
  }

  Value expand(const Value &x, const Value &like, Location loc) {
    TensorType t = like.type;
    t.shape = ruleShape(shapes::broadcastLike(x.type.shape, like.type.shape),
                        loc, {}, "expand: ");
    return Value::tensor(
        t, addNode("broadcast_like", {x.node, like.node}, t, loc));
  }

  /// repeat(x, n, axis): each slice along `axis` n times in a row
  /// (torch.repeat_interleave; grouped-query attention's repeat_kv).
  Value biRepeat(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    requireFloat(x, a.locs[0], "repeat");
    int64_t n = staticInt(a.values[1], a.locs[1], "the repeat count");
    if (n < 1)
      throw CompileError(a.locs[1],
                         "repeat needs a count >= 1, got " + std::to_string(n));
    int64_t axis = normAxis(staticInt(a.values[2], a.locs[2], "axis"),
                            x.type.rank(), a.locs[2]);
    // [.., d, ..] -> [.., d, 1, ..] -> [.., d, n, ..] -> [.., d*n, ..]
    TensorType split = x.type;
    split.shape.insert(split.shape.begin() + axis + 1, Dim(1));
    Value one = Value::tensor(split, addNode("reshape", {x.node}, split, c.loc,
                                             {{"shape", split.shape}}));
    std::vector<Dim> wideShape = split.shape;
    wideShape[axis + 1] = Dim(n);
    Value wide = expand(one, full(wideShape, 0.0, c.loc), c.loc);
    TensorType t = x.type;
    t.shape[axis] = checkedMul(t.shape[axis], Dim(n), c.loc);
    return Value::tensor(
        t, addNode("reshape", {wide.node}, t, c.loc, {{"shape", t.shape}}));
  }

  Value biCausalMask(BoundArgs &a, const CallExpr &c) {
    Dim n = staticDim(a.values[0], a.locs[0], "the size of causal_mask");
    TensorType t;
    t.elem = ElemType::Bool;
    t.shape = ruleShape(shapes::causalMask(n), c.loc, a.locs);
    return Value::tensor(t, addNode("causal_mask", {}, t, c.loc));
  }

  Value biDropout(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    requireFloat(x, a.locs[0], "dropout");
    double p = staticFloat(a.values[1], a.locs[1], "the dropout rate");
    if (!(p >= 0 && p < 1))
      throw CompileError(a.locs[1], "the dropout rate must be in [0, 1), got " +
                                        Value::number(p).describe());
    return Value::tensor(
        x.type, addNode("dropout", {x.node}, x.type, c.loc, {{"p", p}}));
  }

  Value biEmbedding(BoundArgs &a, const CallExpr &c) {
    const Value &ids = tensorArg(a, 0, c, "ids");
    const Value &table = tensorArg(a, 1, c, "table");
    if (ids.type.elem != ElemType::I32)
      throw CompileError(a.locs[0], "embedding ids must be an i32 tensor, "
                                    "got " +
                                        ids.type.str());
    requireFloat(table, a.locs[1], "the embedding table");
    TensorType t;
    t.shape = ruleShape(shapes::embedding(ids.type.shape, table.type.shape),
                        c.loc, a.locs);
    return Value::tensor(
        t, addNode("embedding", {ids.node, table.node}, t, c.loc));
  }

  Value biArange(BoundArgs &a, const CallExpr &c) {
    Dim n = staticDim(a.values[0], a.locs[0], "the length of arange");
    TensorType t;
    t.elem = ElemType::I32;
    t.shape = ruleShape(shapes::arange(n), c.loc, a.locs);
    return Value::tensor(t, addNode("arange", {}, t, c.loc));
  }

  Value biLayerNorm(BoundArgs &a, const CallExpr &c) {
    const Value &x = tensorArg(a, 0, c, "x");
    const Value &scale = tensorArg(a, 1, c, "scale");
    const Value &shift = tensorArg(a, 2, c, "shift");
    requireFloat(x, a.locs[0], "layer_norm");
    requireFloat(scale, a.locs[1], "layer_norm's scale");
    requireFloat(shift, a.locs[2], "layer_norm's shift");
    ruleShape(
        shapes::layerNorm(x.type.shape, scale.type.shape, shift.type.shape),
        c.loc, a.locs);
    double eps = staticFloat(a.values[3], a.locs[3], "eps");
    if (!(eps > 0))
      throw CompileError(a.locs[3], "eps must be positive");
    return Value::tensor(x.type,
                         addNode("layer_norm", {x.node, scale.node, shift.node},
                                 x.type, c.loc, {{"eps", eps}}));
  }

  Value biCrossEntropy(BoundArgs &a, const CallExpr &c) {
    const Value &logits = tensorArg(a, 0, c, "logits");
    const Value &targets = tensorArg(a, 1, c, "targets");
    requireFloat(logits, a.locs[0], "cross_entropy");
    if (targets.type.elem != ElemType::I32)
      throw CompileError(a.locs[1], "cross_entropy targets must be i32, got " +
                                        targets.type.str());
    TensorType t; // scalar f32
    t.shape = ruleShape(
        shapes::crossEntropy(logits.type.shape, targets.type.shape), c.loc);
    int64_t ignore = staticInt(a.values[2], a.locs[2], "ignore_index");
    return Value::tensor(t,
                         addNode("cross_entropy", {logits.node, targets.node},
                                 t, c.loc, {{"ignore_index", ignore}}));
  }

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

} // namespace

Program analyze(const ModelSource &model, const ConfigFile &config) {
  return Elaborator(model, config).run();
}

} // namespace gptc
