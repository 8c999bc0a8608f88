//===- Config.h - Model configuration files (YAML, config.json) -*- C++ -*-===//
//
// A model config is a flat YAML mapping of scalar values, with the book's key
// names (vocab_size, emb_dim, ...). Loading keeps each key's and value's
// location so that Sema, which knows the declared type of every `config`,
// can point type errors and unknown keys at the YAML line.
//
// A Hugging Face config.json (or the model folder holding it) is read too:
// its keys are a naming scheme's (`names hf`), nested objects flattened to
// dotted keys (rope_scaling.factor); Sema maps them to the model's configs.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_SUPPORT_CONFIG_H
#define GPTC_SUPPORT_CONFIG_H

#include "gptc/Support/Diagnostics.h"

#include <string>
#include <vector>

namespace gptc {

/// One `key: value` of a config file or a `--set key=value` override.
struct ConfigEntry {
  std::string key;
  std::string value; ///< The scalar as written.
  /// From a JSON file: the value as JSON (`null`, `true`, `1e-05`, `"a"`).
  std::string json;
  /// A `--set` override: keyed by a config name whatever the file's keys.
  bool override = false;
  /// For a YAML list of scalars (`trainable: ["h.11.*", ln_f.*]`).
  bool isList = false;
  std::vector<std::string> list;
  Location keyLoc, valueLoc;
};

/// The entries of a config, in file order, overrides last.
struct ConfigFile {
  const SourceFile *file = nullptr; ///< Null when no file was given.
  std::vector<ConfigEntry> entries;
  /// The naming scheme whose config-file keys the entries use ("hf" for a
  /// config.json); empty when they are the model's config names.
  std::string scheme;
};

/// Reads a flat YAML mapping of scalars and lists of scalars, or, for a
/// `.json` path or a folder holding config.json, a Hugging Face config;
/// throws CompileError on syntax errors, nested mappings (YAML) or
/// duplicate keys.
ConfigFile loadConfig(SourceManager &sm, const std::string &path);

/// As loadConfig, for a config.json already in a SourceFile.
ConfigFile parseJsonConfig(const SourceFile &file);

/// As loadConfig, for text already in a SourceFile.
ConfigFile parseConfig(const SourceFile &file);

/// Adds a `key=value` override (from `--set`); later entries win.
void addOverride(SourceManager &sm, ConfigFile &cfg, const std::string &text);

} // namespace gptc

#endif // GPTC_SUPPORT_CONFIG_H
