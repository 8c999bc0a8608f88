//===- InstructionData.cpp - Instruction fine-tuning data -----------------===//

#include "gptc/Runtime/InstructionData.h"
#include "gptc/Support/Error.h"
#include "gptc/Support/ReadFile.h"

#include <algorithm>
#include <utility>

namespace gptc {

std::vector<InstructionRecord> parseInstructions(const std::string &text,
                                                 const std::string &path) {
  OrderedJson doc;
  try {
    doc = OrderedJson::parse(text);
  } catch (const OrderedJson::parse_error &) {
    parseJson(text, path); // throws with the line and column
    throw;
  }
  if (!doc.is_array() || doc.empty())
    throw RuntimeError(path + ": expected a JSON array of instruction records "
                              "{\"instruction\", \"input\", \"output\"}");
  std::vector<InstructionRecord> records;
  for (size_t i = 0; i < doc.size(); ++i) {
    const OrderedJson &r = doc[i];
    std::string where = path + ": record " + std::to_string(i) + " ";
    if (!r.is_object())
      throw RuntimeError(where + "is not an object {\"instruction\", "
                                 "\"input\", \"output\"}");
    auto field = [&](const char *key, bool required) {
      auto it = r.find(key);
      if (it == r.end() || it->is_null()) {
        if (required)
          throw RuntimeError(where + "has no \"" + std::string(key) + "\"");
        return std::string();
      }
      if (!it->is_string())
        throw RuntimeError(where + "has \"" + std::string(key) +
                           "\": " + it->type_name() + ", expected a string");
      return it->get<std::string>();
    };
    records.push_back({field("instruction", true), field("input", false),
                       field("output", true), r});
  }
  return records;
}

std::vector<InstructionRecord> readInstructions(const std::string &path) {
  return parseInstructions(
      readFileBounded(path, kMaxTextBytes, "the instruction data"), path);
}

std::string alpacaPrompt(const InstructionRecord &r) {
  std::string s = "Below is an instruction that describes a task. Write a "
                  "response that appropriately completes the request."
                  "\n\n### Instruction:\n" +
                  r.instruction;
  if (!r.input.empty())
    s += "\n\n### Input:\n" + r.input;
  return s;
}

std::string alpacaResponse(const InstructionRecord &r) {
  return "\n\n### Response:\n" + r.output;
}

InstructionDataset::InstructionDataset(std::vector<std::vector<uint32_t>> t,
                                       std::vector<int64_t> p, uint32_t pd,
                                       int64_t n, bool m)
    : texts(std::move(t)), promptLengths(std::move(p)), pad(pd), maxLength(n),
      maskPrompt(m) {
  if (maxLength < 1)
    throw RuntimeError("the allowed length must be positive");
}

Batch InstructionDataset::collate(const std::vector<int64_t> &indices) const {
  Batch b;
  b.rows = static_cast<int64_t>(indices.size());
  // The longest text plus its end-of-text, less the one token inputs and
  // targets each drop.
  int64_t longest = 0;
  for (int64_t i : indices)
    longest = std::max<int64_t>(longest, texts[i].size() + 1);
  b.length = std::min(longest - 1, maxLength);
  constexpr int32_t kIgnore = -100;
  for (int64_t i : indices) {
    std::vector<int32_t> padded(texts[i].begin(), texts[i].end());
    padded.resize(longest, static_cast<int32_t>(pad));
    std::vector<int32_t> targets(padded.begin() + 1, padded.end());
    // Every padding target but the first is ignored: the model learns to
    // stop after its response.
    bool first = true;
    for (int32_t &t : targets)
      if (t == static_cast<int32_t>(pad) && !std::exchange(first, false))
        t = kIgnore;
    if (maskPrompt)
      for (int64_t k = 0; k + 1 < promptLengths[i] && k + 1 < longest; ++k)
        targets[k] = kIgnore;
    b.tokens.insert(b.tokens.end(), padded.begin(), padded.begin() + b.length);
    b.targets.insert(b.targets.end(), targets.begin(),
                     targets.begin() + b.length);
  }
  return b;
}

} // namespace gptc
