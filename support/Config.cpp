//===- Config.cpp - Model configuration files (YAML, config.json) ---------===//

#include "gptc/Support/Config.h"
#include "gptc/Support/Json.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>

namespace gptc {

static Location toLoc(const SourceFile &f, const YAML::Mark &m) {
  if (m.is_null())
    return {&f, 1, 1};
  return {&f, static_cast<uint32_t>(m.line + 1),
          static_cast<uint32_t>(m.column + 1)};
}

ConfigFile loadConfig(SourceManager &sm, const std::string &path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // A Hugging Face model folder: its config.json.
  if (fs::is_directory(path, ec) && fs::exists(fs::path(path) / "config.json"))
    return parseJsonConfig(sm.load((fs::path(path) / "config.json").string()));
  if (fs::path(path).extension() == ".json")
    return parseJsonConfig(sm.load(path));
  return parseConfig(sm.load(path));
}

namespace {

/// The location of byte `offset` of `f`.
Location locationAt(const SourceFile &f, size_t offset) {
  auto line =
      std::upper_bound(f.lineStarts.begin(), f.lineStarts.end(), offset) - 1;
  return {&f, static_cast<uint32_t>(line - f.lineStarts.begin() + 1),
          static_cast<uint32_t>(offset - *line + 1)};
}

/// Flattens the object `obj` into `out`, keys prefixed by `prefix`; `from`
/// is where the object starts in the text (each key is located by its
/// first quoted occurrence after it).
void flatten(const SourceFile &f, const OrderedJson &obj,
             const std::string &prefix, size_t from,
             std::vector<ConfigEntry> &out) {
  for (auto &[key, value] : obj.items()) {
    ConfigEntry e;
    e.key = prefix + key;
    size_t at = f.text.find(Json(key).dump(), from);
    if (at == std::string::npos)
      at = from;
    from = at + 1;
    e.keyLoc = locationAt(f, at);
    size_t colon = f.text.find(':', at);
    size_t valueAt = colon == std::string::npos
                         ? at
                         : f.text.find_first_not_of(" \t\r\n", colon + 1);
    e.valueLoc = locationAt(f, valueAt == std::string::npos ? at : valueAt);
    if (value.is_object() && !value.empty()) {
      flatten(f, value, e.key + ".", at, out);
      continue;
    }
    e.json = value.dump();
    if (value.is_string())
      e.value = value.get<std::string>();
    else if (value.is_array() &&
             std::all_of(value.begin(), value.end(), [](const OrderedJson &x) {
               return x.is_primitive();
             })) {
      e.isList = true;
      for (const OrderedJson &x : value)
        e.list.push_back(x.is_string() ? x.get<std::string>() : x.dump());
    } else
      e.value = e.json;
    out.push_back(std::move(e));
  }
}

} // namespace

ConfigFile parseJsonConfig(const SourceFile &f) {
  ConfigFile cfg;
  cfg.file = &f;
  cfg.scheme = "hf";
  OrderedJson root;
  try {
    root = OrderedJson::parse(f.text);
  } catch (const Json::parse_error &e) {
    std::string why = e.what();
    size_t tag = why.find("] ");
    throw CompileError(locationAt(f, e.byte > 0 ? e.byte - 1 : 0),
                       "invalid JSON: " + (tag == std::string::npos
                                               ? why
                                               : why.substr(tag + 2)));
  }
  if (!root.is_object())
    throw CompileError(Location{&f, 1, 1},
                       "expected a JSON object of config.json keys");
  flatten(f, root, "", 0, cfg.entries);
  return cfg;
}

ConfigFile parseConfig(const SourceFile &f) {
  ConfigFile cfg;
  cfg.file = &f;
  size_t bad = findInvalidUtf8(f.text);
  if (bad != std::string::npos)
    throw CompileError(Location{&f, 1, 1}, "invalid UTF-8 at byte offset " +
                                               std::to_string(bad) +
                                               "; config files must be UTF-8");
  YAML::Node root;
  try {
    root = YAML::Load(f.text);
  } catch (const YAML::ParserException &e) {
    // yaml-cpp's depth guard reports "bad file" for deep nesting.
    if (e.msg == YAML::ErrorMsg::BAD_FILE)
      throw CompileError(toLoc(f, e.mark),
                         "YAML nested too deeply; a config is a flat mapping "
                         "of keys to scalars or lists of scalars");
    throw CompileError(toLoc(f, e.mark), "invalid YAML: " + e.msg);
  }
  if (root.IsNull())
    throw CompileError(Location{&f, 1, 1},
                       "empty config; expected a mapping such as "
                       "'emb_dim: 768'");
  if (!root.IsMap())
    throw CompileError(toLoc(f, root.Mark()),
                       "expected a mapping of config keys to values at the "
                       "top level");
  std::map<std::string, Location> seen;
  for (auto it = root.begin(); it != root.end(); ++it) {
    ConfigEntry e;
    e.keyLoc = toLoc(f, it->first.Mark());
    if (!it->first.IsScalar())
      throw CompileError(e.keyLoc, "config keys must be plain names");
    e.key = it->first.Scalar();
    e.valueLoc = toLoc(f, it->second.Mark());
    if (it->second.IsNull())
      throw CompileError(e.keyLoc, "config key '" + e.key + "' has no value");
    if (it->second.IsSequence()) {
      e.isList = true;
      // A copy: `it->second` is a proxy that dies before a range-for ends.
      YAML::Node list = it->second;
      for (auto item : list) {
        if (!item.IsScalar())
          throw CompileError(toLoc(f, item.Mark()),
                             "the list of '" + e.key +
                                 "' may only hold plain values");
        e.list.push_back(item.Scalar());
      }
    } else if (!it->second.IsScalar()) {
      throw CompileError(e.valueLoc, "config key '" + e.key +
                                         "' must have a single value (a "
                                         "number or true/false), not a "
                                         "mapping");
    } else {
      e.value = it->second.Scalar();
    }
    auto [prev, fresh] = seen.emplace(e.key, e.keyLoc);
    if (!fresh)
      throw CompileError(
          Diagnostic{e.keyLoc, "duplicate config key '" + e.key + "'", {}}.note(
              prev->second, "first given here"));
    cfg.entries.push_back(std::move(e));
  }
  return cfg;
}

void addOverride(SourceManager &sm, ConfigFile &cfg, const std::string &text) {
  const SourceFile &f = sm.addBuffer("<command line>", "--set " + text);
  size_t eq = text.find('=');
  Location start{&f, 1, 7};
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw CompileError(start, "expected --set KEY=VALUE");
  ConfigEntry e;
  e.override = true;
  e.key = text.substr(0, eq);
  e.value = text.substr(eq + 1);
  e.keyLoc = start;
  e.valueLoc = {&f, 1, static_cast<uint32_t>(7 + eq + 1)};
  // `KEY=[a, b]`: a list, as in a YAML file.
  if (e.value.front() == '[') {
    if (e.value.back() != ']')
      throw CompileError(e.valueLoc, "a list value needs its closing ']'");
    e.isList = true;
    std::string items = e.value.substr(1, e.value.size() - 2);
    size_t at = 0;
    while (items.find_first_not_of(" ") != std::string::npos) {
      size_t comma = items.find(',', at);
      std::string item = items.substr(
          at, comma == std::string::npos ? std::string::npos : comma - at);
      size_t b = item.find_first_not_of(' '), end = item.find_last_not_of(' ');
      if (b == std::string::npos)
        throw CompileError(e.valueLoc,
                           "an empty item in the list '" + e.value + "'");
      e.list.push_back(item.substr(b, end - b + 1));
      if (comma == std::string::npos)
        break;
      at = comma + 1;
    }
  }
  cfg.entries.push_back(std::move(e));
}

} // namespace gptc
