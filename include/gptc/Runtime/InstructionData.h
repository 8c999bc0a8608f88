//===- InstructionData.h - Instruction fine-tuning data ---------*- C++ -*-===//
//
// The book's chapter 7 data pipeline:
//  - a JSON array of records {instruction, input, output} (input may be
//    empty or absent; other keys are kept and written back);
//  - the Alpaca prompt (format_input): a preamble, "### Instruction:", and
//    "### Input:" when there is an input; the response follows after
//    "### Response:";
//  - records are split in file order train/validation/test (the book takes
//    85% / 10% / 5% with test before validation; gptc's parts are always
//    train, validation, test);
//  - the collate (custom_collate_fn): each text plus one end-of-text is
//    padded with it to the batch's longest + 1; inputs drop the last token
//    and targets the first; every padding target after the first is -100,
//    and so optionally are the prompt's (exercise 7.2); both are cut to
//    the allowed length.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_INSTRUCTIONDATA_H
#define GPTC_RUNTIME_INSTRUCTIONDATA_H

#include "gptc/Runtime/DataLoader.h"
#include "gptc/Support/Json.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gptc {

struct InstructionRecord {
  std::string instruction, input, output;
  OrderedJson json; ///< The record as read, for the responses file.
};

/// Reads the records at `path`; throws RuntimeError naming the record
/// that is not {instruction, input, output} strings.
std::vector<InstructionRecord> readInstructions(const std::string &path);

/// Parses records from `text` (read from `path`, for messages).
std::vector<InstructionRecord> parseInstructions(const std::string &text,
                                                 const std::string &path);

/// The book's format_input: what the model is prompted with.
std::string alpacaPrompt(const InstructionRecord &r);

/// What follows the prompt in training: "\n\n### Response:\n" and the
/// output.
std::string alpacaResponse(const InstructionRecord &r);

class InstructionDataset : public Dataset {
public:
  /// `texts` are the tokenized prompt + response, `promptLengths` the
  /// prompts' token counts (used when `maskPrompt`).
  InstructionDataset(std::vector<std::vector<uint32_t>> texts,
                     std::vector<int64_t> promptLengths, uint32_t pad,
                     int64_t maxLength, bool maskPrompt);

  int64_t size() const override { return static_cast<int64_t>(texts.size()); }
  Batch collate(const std::vector<int64_t> &indices) const override;

private:
  std::vector<std::vector<uint32_t>> texts;
  std::vector<int64_t> promptLengths;
  uint32_t pad;
  int64_t maxLength;
  bool maskPrompt;
};

} // namespace gptc

#endif // GPTC_RUNTIME_INSTRUCTIONDATA_H
