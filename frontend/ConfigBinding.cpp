//===- ConfigBinding.cpp - Binding configs and naming-scheme entries ------===//
//
// Algorithm:
//  1. Collect defs, configs and `names` schemes of all loaded files; reject
//     duplicates.
//  2. Bind each `config` to its YAML value (or default), type-checked; reject
//     unknown and missing keys, pointing at the YAML line.
//  3. Evaluate each scheme's `"key" = value` entries to JSON.
//
//===----------------------------------------------------------------------===//

#include "Elaborator.h"

#include "gptc/Support/Json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace gptc::sema {

namespace {

/// A config's value as JSON.
Json toJson(const ConfigValue &c) {
  if (c.isList) {
    Json list = Json::array();
    for (const ConfigValue &e : c.elems)
      list.push_back(toJson(e));
    return list;
  }
  switch (c.kind) {
  case TypeExpr::Kind::Int:
    return c.intValue;
  case TypeExpr::Kind::Float:
    return c.floatValue;
  case TypeExpr::Kind::Bool:
    return c.boolValue;
  case TypeExpr::Kind::Tensor:
    break;
  }
  return nullptr;
}

/// A literal (or a list of literals) of a config-file entry as JSON.
Json jsonLiteral(const Expr &e, const std::string &key) {
  if (auto *i = dynCast<IntExpr>(&e))
    return i->value;
  if (auto *f = dynCast<FloatExpr>(&e))
    return f->value;
  if (auto *b = dynCast<BoolExpr>(&e))
    return b->value;
  if (auto *s = dynCast<StringExpr>(&e)) {
    for (char c : s->value)
      if (static_cast<unsigned char>(c) < 0x20)
        throw CompileError(e.loc, "a config-file string may not hold "
                                  "control characters");
    return s->value;
  }
  if (auto *u = dynCast<UnaryExpr>(&e))
    if (u->op == UnaryOp::Neg &&
        (isa<IntExpr>(u->operand.get()) || isa<FloatExpr>(u->operand.get()))) {
      Json v = jsonLiteral(*u->operand, key);
      return v.is_number_float() ? Json(-v.get<double>())
                                 : Json(-v.get<int64_t>());
    }
  if (auto *l = dynCast<ListExpr>(&e)) {
    Json list = Json::array();
    for (const auto &element : l->elements)
      list.push_back(jsonLiteral(*element, key));
    return list;
  }
  throw CompileError(e.loc, "the value of config-file key '" + key +
                                "' must be a config name, a number, a "
                                "bool, a string or a list of them");
}

} // namespace

void Elaborator::collectDecls() {
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

ConfigFile Elaborator::configNamesOf(const ConfigFile &file) {
  const NamesDecl *names = nullptr;
  for (const NamesDecl *n : namesDecls)
    if (n->scheme == file.scheme)
      names = n;
  std::string what = file.file ? file.file->path : "the config";
  if (!names)
    throw CompileError(Location{file.file, 1, 1},
                       what + " uses the keys of naming scheme '" +
                           file.scheme +
                           "', which this model does not "
                           "declare (`names " +
                           file.scheme +
                           " { \"key\" = config ... }`); give a YAML config "
                           "of the model's config names instead");
  auto isIgnore = [](const NamesDecl::Entry &d) {
    auto *n = dynCast<NameExpr>(d.value.get());
    return n && n->name == "_";
  };
  ConfigFile out;
  out.file = file.file;
  std::map<std::string, const ConfigEntry *> bound; // config -> its entry
  for (const ConfigEntry &e : file.entries) {
    if (e.override) {
      out.entries.push_back(e);
      continue;
    }
    bool null = e.json == "null";
    auto exact = std::find_if(names->entries.begin(), names->entries.end(),
                              [&](auto &d) { return d.key == e.key; });
    if (exact == names->entries.end()) {
      // Inside an ignored object, or an absent object (rope_scaling: null)
      // whose keys the model declares.
      bool covered = std::any_of(
          names->entries.begin(), names->entries.end(), [&](auto &d) {
            return (isIgnore(d) && e.key.rfind(d.key + ".", 0) == 0) ||
                   (null && d.key.rfind(e.key + ".", 0) == 0);
          });
      if (covered)
        continue;
      throw CompileError(Diagnostic{
          e.keyLoc,
          what + " key '" + e.key +
              "' is not declared by the "
              "model's `names " +
              file.scheme +
              "` block; declare it "
              "as `\"" +
              e.key +
              "\" = CONFIG` to bind a config, as "
              "`\"" +
              e.key +
              "\" = VALUE` for the value it must "
              "have, or as `\"" +
              e.key + "\" = _` to ignore it",
          {}}.note(names->loc, "the naming scheme"));
    }
    if (null || isIgnore(*exact))
      continue; // a config's default, or nothing the model needs
    if (auto *config = dynCast<NameExpr>(exact->value.get())) {
      auto [prev, fresh] = bound.emplace(config->name, &e);
      if (!fresh && (prev->second->json != e.json))
        throw CompileError(Diagnostic{
            e.valueLoc,
            "'" + e.key + "' (" + e.json + ") and '" + prev->second->key +
                "' (" + prev->second->json + ") both set config '" +
                config->name + "'",
            {}}.note(prev->second->valueLoc, "the other value"));
      ConfigEntry c = e;
      c.key = config->name;
      out.entries.push_back(std::move(c));
      continue;
    }
    Json want = jsonLiteral(*exact->value, exact->key);
    Json got = Json::parse(e.json);
    if (want != got)
      throw CompileError(Diagnostic{
          e.valueLoc,
          what + " sets '" + e.key + "' to " + got.dump() +
              "; this model supports only " + want.dump(),
          {}}.note(exact->loc, "declared here"));
  }
  return out;
}

void Elaborator::bindConfig() {
  ConfigFile translated;
  const ConfigFile &cfg = this->cfg.scheme.empty()
                              ? this->cfg
                              : (translated = configNamesOf(this->cfg));
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
      // From a config.json: the key that would have set it.
      std::string schemeKey;
      for (const NamesDecl *n : namesDecls)
        for (const NamesDecl::Entry &d : n->entries)
          if (auto *name = dynCast<NameExpr>(d.value.get());
              name && n->scheme == this->cfg.scheme && name->name == c->name)
            schemeKey = d.key;
      Diagnostic d{
          where,
          "missing config value '" + c->name + "' (" + toString(c->type) + ")" +
              (!schemeKey.empty() ? "; the file has no '" + schemeKey + "'"
               : cfg.file         ? ""
                                  : "; pass --config FILE.yaml"),
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

/// Each naming scheme's `"key" = value` entries, evaluated against the
/// bound config.
void Elaborator::bindSchemeEntries() {
  for (const NamesDecl *n : namesDecls) {
    std::map<std::string, Location> seen;
    for (const NamesDecl::Entry &e : n->entries) {
      auto [it, fresh] = seen.emplace(e.key, e.loc);
      if (!fresh)
        throw CompileError(Diagnostic{
            e.loc,
            "duplicate config-file key '" + e.key + "' in names '" + n->scheme +
                "'",
            {}}.note(it->second, "previously given here"));
      SchemeEntry out{n->scheme, e.key, "", ""};
      // `"key" = _`: accepted in the scheme's config file, never written.
      if (auto *name = dynCast<NameExpr>(e.value.get());
          name && name->name == "_")
        continue;
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
        out.json = toJson(*c).dump();
      } else {
        out.json = jsonLiteral(*e.value, e.key).dump();
      }
      prog.schemeEntries.push_back(out);
    }
  }
}

std::string Elaborator::knownKeys(const std::vector<std::string> &declared) {
  std::string s = " (the model declares:";
  for (auto &d : declared)
    s += " " + d;
  return s + ")";
}

/// A config entry's value as the declared type: a scalar, or a list of
/// them for `list[...]`.
Value Elaborator::parseConfigValue(const ConfigDecl &c, const ConfigEntry &e) {
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

Value Elaborator::parseConfigScalar(const ConfigDecl &c, const std::string &t,
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
Value Elaborator::coerce(const Value &v, const TypeExpr &t, Location loc,
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

} // namespace gptc::sema
