//===- DataLoader.h - The book's sliding-window dataset and loader -*- C++
//-*-===//
//
// Exactly the book's GPTDatasetV1 / create_dataloader_v1 (chapter 2) and its
// train/validation split (chapter 5):
//  - the text is split at `int(train_ratio * len(text))` *characters*
//    (code points, as Python slices strings);
//  - window i starts at token `i * stride` for every start in
//    range(0, len(tokens) - max_length, stride); its targets are the inputs
//    shifted by one;
//  - batches drop the last incomplete one when asked; the order of windows
//    is shuffled per epoch with a seeded Fisher-Yates (std::mt19937_64,
//    seed + epoch), documented here because it is not PyTorch's RNG.
// Tokenized corpora are cached as llm.c token shards: a 256 x int32 header
// (magic 20240520, version 1, token count) then uint16 tokens.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_DATALOADER_H
#define GPTC_RUNTIME_DATALOADER_H

#include "gptc/Support/Error.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gptc {

/// Splits UTF-8 `text` at int(ratio * number of code points).
std::pair<std::string, std::string> splitByCharacters(std::string_view text,
                                                      double trainRatio);

class WindowDataset {
public:
  /// Throws RuntimeError when the tokens cannot hold one window.
  WindowDataset(std::vector<uint32_t> tokens, int64_t maxLength,
                int64_t stride);

  int64_t size() const { return numWindows; }
  int64_t maxLength() const { return length; }
  /// Writes window `i`'s inputs and targets (maxLength each).
  void window(int64_t i, int32_t *inputs, int32_t *targets) const;

private:
  std::vector<uint32_t> tokens;
  int64_t length, stride, numWindows;
};

class DataLoader {
public:
  DataLoader(const WindowDataset &data, int64_t batchSize, bool shuffle,
             bool dropLast, uint64_t seed);

  int64_t numBatches() const;
  /// Starts epoch `epoch`: the window order it uses.
  void startEpoch(int64_t epoch);
  /// Fills batch `b` of the current epoch: inputs and targets are
  /// [rows, maxLength] row-major; returns rows (batchSize, or fewer for a
  /// last partial batch).
  int64_t batch(int64_t b, int32_t *inputs, int32_t *targets) const;

private:
  const WindowDataset &data;
  int64_t batchSize;
  bool shuffle, dropLast;
  uint64_t seed;
  std::vector<int64_t> order;
};

/// llm.c's token shard format.
void writeTokenShard(const std::string &path,
                     const std::vector<uint32_t> &tokens);
std::vector<uint32_t> readTokenShard(const std::string &path);

} // namespace gptc

#endif // GPTC_RUNTIME_DATALOADER_H
