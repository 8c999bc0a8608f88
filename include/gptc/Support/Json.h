//===- Json.h - JSON read and written with nlohmann-json -------*- C++ -*-===//
//
// The JSON gptc reads (encoder.json, log.jsonl when a run resumes) and
// writes (log records, config.json, safetensors headers) goes through
// nlohmann-json; this header adds the one thing the project needs on top:
// syntax errors as RuntimeError naming the file, line and column. The
// safetensors reader keeps its own parser, whose limits (header size,
// nesting, tensor count) the format needs.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_SUPPORT_JSON_H
#define GPTC_SUPPORT_JSON_H

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace gptc {

using Json = nlohmann::json;
/// Keys in insertion order: what gptc writes reads in the order it was
/// made (log records start with "step").
using OrderedJson = nlohmann::ordered_json;

/// `text` parsed as one JSON document; RuntimeError "FILE: invalid JSON at
/// line L, column C: ..." when it is not. `callback`, when given, sees each
/// value as it is parsed (nlohmann's parser_callback_t) and may drop it.
Json parseJson(std::string_view text, const std::string &file,
               Json::parser_callback_t callback = nullptr);

} // namespace gptc

#endif // GPTC_SUPPORT_JSON_H
