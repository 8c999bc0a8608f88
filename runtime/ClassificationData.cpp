//===- ClassificationData.cpp - Labelled texts for classifiers ------------===//

#include "gptc/Runtime/ClassificationData.h"
#include "gptc/Support/Error.h"
#include "gptc/Support/ReadFile.h"
#include "gptc/Support/Utf8.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

namespace gptc {

namespace {

std::string lower(std::string s) {
  for (char &c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Splits `text` into rows of fields separated by `sep`; a field that
/// starts with a quote runs to the closing quote ("" inside is a quote) and
/// may hold separators and newlines, and what follows the closing quote up
/// to the separator is kept, as pandas' reader does. Each row records the
/// line it starts on; blank lines are skipped.
struct Row {
  std::vector<std::string> fields;
  int64_t line;
};

std::vector<Row> splitRows(const std::string &text, char sep,
                           const std::string &path) {
  std::vector<Row> rows;
  size_t i = 0, n = text.size();
  int64_t line = 1;
  while (i < n) {
    Row row{{}, line};
    while (true) {
      std::string field;
      if (i < n && text[i] == '"') {
        int64_t opened = line;
        ++i;
        while (true) {
          if (i >= n)
            throw RuntimeError(path + ":" + std::to_string(opened) +
                               ": a quoted field is not closed");
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          line += text[i] == '\n';
          field += text[i++];
        }
        // As pandas: text after the closing quote belongs to the field.
        while (i < n && text[i] != sep && text[i] != '\n')
          field += text[i++];
        if (!field.empty() && field.back() == '\r')
          field.pop_back();
      } else {
        while (i < n && text[i] != sep && text[i] != '\n')
          field += text[i++];
        if (!field.empty() && field.back() == '\r')
          field.pop_back();
      }
      row.fields.push_back(std::move(field));
      if (i < n && text[i] == sep) {
        ++i;
        continue;
      }
      if (i < n && text[i] == '\r')
        ++i;
      if (i < n && text[i] == '\n') {
        ++i;
        ++line;
      }
      break;
    }
    if (!(row.fields.size() == 1 && row.fields[0].empty()))
      rows.push_back(std::move(row));
  }
  return rows;
}

bool isId(const std::string &s) {
  return !s.empty() && s.size() < 10 &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c));
         });
}

} // namespace

LabelledTable parseLabelledTable(const std::string &text,
                                 const std::string &path,
                                 const std::vector<std::string> &classes) {
  if (size_t bad = findInvalidUtf8(text); bad != std::string::npos)
    throw RuntimeError(
        path + ":" +
        std::to_string(1 + std::count(text.begin(), text.begin() + bad, '\n')) +
        ": not UTF-8 (invalid byte at offset " + std::to_string(bad) + ")");
  char sep = lower(std::filesystem::path(path).extension().string()) == ".csv"
                 ? ','
                 : '\t';
  std::vector<Row> rows = splitRows(text, sep, path);
  const char *sepName = sep == ',' ? "comma" : "tab";
  // A header row naming both columns picks them; else label, text.
  size_t labelCol = 0, textCol = 1, first = 0;
  if (!rows.empty()) {
    const std::vector<std::string> &h = rows[0].fields;
    auto find = [&](const char *name) {
      for (size_t c = 0; c < h.size(); ++c)
        if (lower(h[c]) == name)
          return c;
      return h.size();
    };
    if (find("label") < h.size() && find("text") < h.size()) {
      labelCol = find("label");
      textCol = find("text");
      first = 1;
    }
  }
  std::vector<std::string> labels; // per row of the table
  LabelledTable table;
  for (size_t r = first; r < rows.size(); ++r) {
    Row &row = rows[r];
    if (row.fields.size() != (first ? rows[0].fields.size() : 2))
      throw RuntimeError(
          path + ":" + std::to_string(row.line) + ": expected " +
          (first ? "the header's " + std::to_string(rows[0].fields.size())
                 : std::string("2")) +
          " " + sepName + "-separated fields (" +
          (first ? "with label and text columns" : "label, text") +
          "), found " + std::to_string(row.fields.size()));
    table.rows.push_back({row.fields[textCol], 0, row.line});
    labels.push_back(row.fields[labelCol]);
  }
  if (table.rows.empty())
    throw RuntimeError(path + ": no labelled texts (expected rows of label " +
                       std::string(sepName) + " text)");

  std::map<std::string, int32_t> ids;
  if (!classes.empty()) {
    for (size_t c = 0; c < classes.size(); ++c)
      ids[classes[c]] = static_cast<int32_t>(c);
    table.classes = classes;
  } else if (std::all_of(labels.begin(), labels.end(), isId)) {
    int32_t top = 0;
    for (const std::string &l : labels)
      top = std::max(top, static_cast<int32_t>(std::stol(l)));
    for (int32_t c = 0; c <= top; ++c) {
      ids[std::to_string(c)] = c;
      table.classes.push_back(std::to_string(c));
    }
  } else {
    std::set<std::string> names;
    names.insert(labels.begin(), labels.end());
    for (const std::string &n : names) {
      ids[n] = static_cast<int32_t>(table.classes.size());
      table.classes.push_back(n);
    }
  }
  for (size_t r = 0; r < labels.size(); ++r) {
    auto it = ids.find(labels[r]);
    if (it == ids.end()) {
      std::string known;
      for (const std::string &c : table.classes)
        known += (known.empty() ? "" : ", ") + c;
      throw RuntimeError(path + ":" + std::to_string(table.rows[r].line) +
                         ": label '" + labels[r] +
                         "' is not one of the classes (" + known +
                         ", the training key `classes`)");
    }
    table.rows[r].label = it->second;
  }
  return table;
}

LabelledTable readLabelledTable(const std::string &path,
                                const std::vector<std::string> &classes) {
  return parseLabelledTable(
      readFileBounded(path, kMaxTextBytes, "the labelled data"), path, classes);
}

std::vector<LabelledText> balanceClasses(const LabelledTable &table,
                                         uint64_t seed) {
  std::vector<std::vector<int64_t>> byClass(table.classes.size());
  for (size_t r = 0; r < table.rows.size(); ++r)
    byClass[table.rows[r].label].push_back(static_cast<int64_t>(r));
  size_t smallest = table.rows.size();
  for (const std::vector<int64_t> &rows : byClass)
    if (!rows.empty())
      smallest = std::min(smallest, rows.size());
  std::vector<int64_t> kept;
  for (std::vector<int64_t> &rows : byClass) {
    shuffleOrder(rows, seed);
    kept.insert(kept.end(), rows.begin(),
                rows.begin() + std::min(smallest, rows.size()));
  }
  std::sort(kept.begin(), kept.end());
  std::vector<LabelledText> out;
  for (int64_t r : kept)
    out.push_back(table.rows[r]);
  return out;
}

ClassificationDataset::ClassificationDataset(
    std::vector<std::vector<uint32_t>> t, std::vector<int32_t> l, int64_t n,
    uint32_t p)
    : texts(std::move(t)), labels(std::move(l)), length(n), pad(p) {
  if (length < 1)
    throw RuntimeError("the padded length must be positive");
}

Batch ClassificationDataset::collate(
    const std::vector<int64_t> &indices) const {
  Batch b;
  b.rows = static_cast<int64_t>(indices.size());
  b.length = length;
  b.classTargets = true;
  b.tokens.assign(b.rows * length, static_cast<int32_t>(pad));
  for (int64_t r = 0; r < b.rows; ++r) {
    const std::vector<uint32_t> &t = texts[indices[r]];
    for (int64_t k = 0; k < length && k < static_cast<int64_t>(t.size()); ++k)
      b.tokens[r * length + k] = static_cast<int32_t>(t[k]);
    b.targets.push_back(labels[indices[r]]);
  }
  return b;
}

} // namespace gptc
