//===- Config.h - Model configuration files (YAML) ----------------*- C++
//-*-===//
//
// A model config is a flat YAML mapping of scalar values, with the book's key
// names (vocab_size, emb_dim, ...). Loading keeps each key's and value's
// location so that Sema, which knows the declared type of every `config`,
// can point type errors and unknown keys at the YAML line.
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
  /// For a YAML list of scalars (`trainable: ["h.11.*", ln_f.*]`).
  bool isList = false;
  std::vector<std::string> list;
  Location keyLoc, valueLoc;
};

/// The entries of a config, in file order, overrides last.
struct ConfigFile {
  const SourceFile *file = nullptr; ///< Null when no file was given.
  std::vector<ConfigEntry> entries;
};

/// Reads a flat YAML mapping of scalars and lists of scalars; throws
/// CompileError on syntax errors, nested mappings or duplicate keys.
ConfigFile loadConfig(SourceManager &sm, const std::string &path);

/// As loadConfig, for text already in a SourceFile.
ConfigFile parseConfig(const SourceFile &file);

/// Adds a `key=value` override (from `--set`); later entries win.
void addOverride(SourceManager &sm, ConfigFile &cfg, const std::string &text);

} // namespace gptc

#endif // GPTC_SUPPORT_CONFIG_H
