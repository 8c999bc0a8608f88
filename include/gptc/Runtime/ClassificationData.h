//===- ClassificationData.h - Labelled texts for classifiers ----*- C++ -*-===//
//
// The book's chapter 6 data pipeline for a model whose loss takes class ids
// (targets i32[B]):
//  - a table of labelled texts: tab-separated (the SMS Spam Collection's
//    `label<TAB>text`) or, for a .csv file, comma-separated; fields may be
//    quoted with "" as the escape (RFC 4180, read as pandas does); a header row
//    naming `label` and `text` columns (any case) picks them, otherwise the
//    first two columns are label and text;
//  - labels are class names (mapped to ids in the order of the training
//    key `classes`, or sorted) or integer ids;
//  - balancing undersamples every class to the smallest one's count
//    (create_balanced_dataset), then the rows are shuffled and split
//    train/validation/test (random_split); both use the loaders' seeded
//    Fisher-Yates, not pandas' generator, so the sets differ from the
//    book's while their sizes agree;
//  - each text is truncated to, or padded with the pad id to, one length:
//    the longest training text (SpamDataset).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_CLASSIFICATIONDATA_H
#define GPTC_RUNTIME_CLASSIFICATIONDATA_H

#include "gptc/Runtime/DataLoader.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace gptc {

struct LabelledText {
  std::string text;
  int32_t label = 0;
  int64_t line = 0; ///< 1-based, where the row starts.
};

struct LabelledTable {
  std::vector<LabelledText> rows;
  std::vector<std::string> classes; ///< Class id -> name.
};

/// Reads the table at `path`; `classes` (may be empty) names the classes
/// in id order. Throws RuntimeError naming the line of a bad row or label.
LabelledTable readLabelledTable(const std::string &path,
                                const std::vector<std::string> &classes);

/// Parses table `text` (read from `path`, for messages).
LabelledTable parseLabelledTable(const std::string &text,
                                 const std::string &path,
                                 const std::vector<std::string> &classes);

/// The rows of every class undersampled to the smallest class's count
/// (seeded), in file order.
std::vector<LabelledText> balanceClasses(const LabelledTable &table,
                                         uint64_t seed);

/// How many of `rows` rows of `classes` logits have their largest logit
/// (the first of equals, as torch.argmax) at their label.
template <typename T>
int64_t countCorrect(const T *logits, const int32_t *labels, int64_t rows,
                     int64_t classes) {
  int64_t right = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const T *row = logits + r * classes;
    right += std::max_element(row, row + classes) - row == labels[r];
  }
  return right;
}

/// Texts as token ids, truncated or padded with `pad` to `length`; targets
/// are class ids.
class ClassificationDataset : public Dataset {
public:
  ClassificationDataset(std::vector<std::vector<uint32_t>> texts,
                        std::vector<int32_t> labels, int64_t length,
                        uint32_t pad);

  int64_t size() const override { return static_cast<int64_t>(texts.size()); }
  Batch collate(const std::vector<int64_t> &indices) const override;

private:
  std::vector<std::vector<uint32_t>> texts;
  std::vector<int32_t> labels;
  int64_t length;
  uint32_t pad;
};

} // namespace gptc

#endif // GPTC_RUNTIME_CLASSIFICATIONDATA_H
