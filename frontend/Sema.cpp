//===- Sema.cpp - Elaboration of a model into typed graphs ----------------===//
//
// The driver of elaboration; each job lives in its own file (Elaborator.h).
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

#include "Elaborator.h"

#include <algorithm>
#include <sstream>

namespace gptc {

using namespace ast;

//===----------------------------------------------------------------------===//
// Program helpers
//===----------------------------------------------------------------------===//

std::string Initializer::str() const {
  switch (kind) {
  case Kind::Normal:
  case Kind::Uniform: {
    std::ostringstream os;
    os << (kind == Kind::Normal ? "normal(" : "uniform(") << scale << ")";
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

int64_t Program::numParameters(bool trainableOnly) const {
  int64_t n = 0;
  for (auto &p : params)
    if (!trainableOnly || !p.frozen)
      n += p.type.numElements().coeff;
  return n;
}

namespace sema {

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

Program Elaborator::run() {
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

void Elaborator::elaborateEntry(const DefDecl &d) {
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
        throw CompileError(de->loc, "'...' is not allowed in an entry point's "
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

} // namespace sema

Program analyze(const ModelSource &model, const ConfigFile &config) {
  return sema::Elaborator(model, config).run();
}

} // namespace gptc
