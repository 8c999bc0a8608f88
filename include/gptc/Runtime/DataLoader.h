//===- DataLoader.h - Datasets, batches and the book's loader --*- C++ -*-===//
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
// Other datasets (labelled texts, instructions) batch through the same
// loader by implementing Dataset's collate.
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

/// One batch: `tokens` [rows, length] and `targets` [rows, length] (the
/// next tokens, -100 where ignored) or [rows] (class ids).
struct Batch {
  int64_t rows = 0, length = 0;
  std::vector<int32_t> tokens, targets;
  bool classTargets = false; ///< targets are [rows].
};

/// Examples a DataLoader batches: text windows (WindowDataset), labelled
/// texts (ClassificationData.h) or instructions (InstructionData.h).
class Dataset {
public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  /// The batch of the examples `indices`, in that order.
  virtual Batch collate(const std::vector<int64_t> &indices) const = 0;
};

class WindowDataset : public Dataset {
public:
  /// Throws RuntimeError when the tokens cannot hold one window.
  WindowDataset(std::vector<uint32_t> tokens, int64_t maxLength,
                int64_t stride);

  int64_t size() const override { return numWindows; }
  int64_t maxLength() const { return length; }
  /// Windows `indices`: maxLength tokens each, targets shifted by one.
  Batch collate(const std::vector<int64_t> &indices) const override;

private:
  std::vector<uint32_t> tokens;
  int64_t length, stride, numWindows;
};

class DataLoader {
public:
  DataLoader(const Dataset &data, int64_t batchSize, bool shuffle,
             bool dropLast, uint64_t seed);

  int64_t numBatches() const;
  /// Starts epoch `epoch`: the example order it uses.
  void startEpoch(int64_t epoch);
  /// Batch `b` of the current epoch: batchSize rows, or fewer for a last
  /// partial batch.
  Batch batch(int64_t b) const;

private:
  const Dataset &data;
  int64_t batchSize;
  bool shuffle, dropLast;
  uint64_t seed;
  std::vector<int64_t> order;
};

/// The book's splits: part i of `fractions` (train, validation, test) takes
/// int(n * fraction) items in order, and the last part the rest.
std::vector<int64_t> splitSizes(int64_t n,
                                const std::vector<double> &fractions);

/// Shuffles `order` with the loaders' seeded Fisher-Yates.
void shuffleOrder(std::vector<int64_t> &order, uint64_t seed);

/// llm.c's token shard format.
void writeTokenShard(const std::string &path,
                     const std::vector<uint32_t> &tokens);
std::vector<uint32_t> readTokenShard(const std::string &path);

} // namespace gptc

#endif // GPTC_RUNTIME_DATALOADER_H
