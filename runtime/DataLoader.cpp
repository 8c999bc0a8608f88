//===- DataLoader.cpp - Datasets, batches and the book's loader -----------===//

#include "gptc/Runtime/DataLoader.h"
#include "gptc/Support/AtomicFile.h"
#include "gptc/Support/Utf8.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

namespace gptc {

std::pair<std::string, std::string> splitByCharacters(std::string_view text,
                                                      double trainRatio) {
  if (!(trainRatio > 0 && trainRatio < 1))
    throw RuntimeError("the train ratio must be in (0, 1)");
  std::vector<size_t> starts; // byte offset of each code point
  uint32_t cp;
  for (size_t i = 0; i < text.size();) {
    size_t len = decodeUtf8(text, i, cp);
    if (!len)
      throw RuntimeError("invalid UTF-8 at byte offset " + std::to_string(i));
    starts.push_back(i);
    i += len;
  }
  // Python's int() truncates toward zero.
  size_t split = static_cast<size_t>(trainRatio * starts.size());
  size_t at = split < starts.size() ? starts[split] : text.size();
  return {std::string(text.substr(0, at)), std::string(text.substr(at))};
}

WindowDataset::WindowDataset(std::vector<uint32_t> t, int64_t maxLength,
                             int64_t s)
    : tokens(std::move(t)), length(maxLength), stride(s) {
  if (maxLength < 1 || stride < 1)
    throw RuntimeError("max_length and stride must be positive");
  int64_t n = static_cast<int64_t>(tokens.size()) - maxLength;
  numWindows = n > 0 ? (n + stride - 1) / stride : 0;
  if (numWindows == 0)
    throw RuntimeError(std::to_string(tokens.size()) +
                       " tokens are too few for one window of " +
                       std::to_string(maxLength) +
                       " (+1 for the targets); use a shorter context or more "
                       "text");
}

Batch WindowDataset::collate(const std::vector<int64_t> &indices) const {
  Batch b;
  b.rows = static_cast<int64_t>(indices.size());
  b.length = length;
  b.tokens.resize(b.rows * length);
  b.targets.resize(b.rows * length);
  for (int64_t r = 0; r < b.rows; ++r) {
    int64_t start = indices[r] * stride;
    for (int64_t k = 0; k < length; ++k) {
      b.tokens[r * length + k] = static_cast<int32_t>(tokens[start + k]);
      b.targets[r * length + k] = static_cast<int32_t>(tokens[start + k + 1]);
    }
  }
  return b;
}

DataLoader::DataLoader(const Dataset &d, int64_t b, bool sh, bool dl,
                       uint64_t sd)
    : data(d), batchSize(b), shuffle(sh), dropLast(dl), seed(sd) {
  if (batchSize < 1)
    throw RuntimeError("the batch size must be positive");
  startEpoch(0);
}

int64_t DataLoader::numBatches() const {
  int64_t n = data.size();
  return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
}

void shuffleOrder(std::vector<int64_t> &order, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i) {
    // Uniform in [0, i] without modulo bias.
    std::uniform_int_distribution<int64_t> pick(0, i);
    std::swap(order[i], order[pick(rng)]);
  }
}

void DataLoader::startEpoch(int64_t epoch) {
  order.resize(data.size());
  for (int64_t i = 0; i < data.size(); ++i)
    order[i] = i;
  if (shuffle)
    shuffleOrder(order, seed + static_cast<uint64_t>(epoch));
}

Batch DataLoader::batch(int64_t b) const {
  if (b < 0 || b >= numBatches())
    throw RuntimeError("batch " + std::to_string(b) + " is out of range");
  int64_t first = b * batchSize;
  int64_t rows = std::min<int64_t>(batchSize, data.size() - first);
  return data.collate(std::vector<int64_t>(order.begin() + first,
                                           order.begin() + first + rows));
}

std::vector<int64_t> splitSizes(int64_t n,
                                const std::vector<double> &fractions) {
  std::vector<int64_t> sizes;
  int64_t used = 0;
  for (size_t i = 0; i + 1 < fractions.size(); ++i) {
    // Python's int() truncates toward zero.
    sizes.push_back(
        static_cast<int64_t>(static_cast<double>(n) * fractions[i]));
    used += sizes.back();
  }
  sizes.push_back(std::max<int64_t>(0, n - used));
  return sizes;
}

//===----------------------------------------------------------------------===//
// Token shards
//===----------------------------------------------------------------------===//

constexpr int32_t kShardMagic = 20240520, kShardVersion = 1;

void writeTokenShard(const std::string &path,
                     const std::vector<uint32_t> &tokens) {
  std::vector<int32_t> header(256, 0);
  header[0] = kShardMagic;
  header[1] = kShardVersion;
  if (tokens.size() > static_cast<size_t>(INT32_MAX))
    throw RuntimeError("too many tokens for one shard");
  header[2] = static_cast<int32_t>(tokens.size());
  std::vector<uint16_t> body(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] > 0xFFFF)
      throw RuntimeError("token " + std::to_string(tokens[i]) +
                         " does not fit a uint16 shard");
    body[i] = static_cast<uint16_t>(tokens[i]);
  }
  AtomicFile out(path);
  out.write(header.data(), 1024);
  out.write(body.data(), body.size() * 2);
  out.commit();
}

std::vector<uint32_t> readTokenShard(const std::string &path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in)
    throw RuntimeError("cannot open '" + path + "': " + std::strerror(errno));
  std::streamoff size = in.tellg();
  in.seekg(0);
  std::vector<int32_t> header(256);
  if (size < 1024 || !in.read(reinterpret_cast<char *>(header.data()), 1024))
    throw RuntimeError(path +
                       ": shorter than a token shard's 1024-byte header");
  if (header[0] != kShardMagic || header[1] != kShardVersion)
    throw RuntimeError(path + ": not a token shard (magic " +
                       std::to_string(header[0]) + ", version " +
                       std::to_string(header[1]) + "; expected " +
                       std::to_string(kShardMagic) + ", 1)");
  int64_t n = header[2];
  if (n < 0 || 1024 + 2 * n != size)
    throw RuntimeError(path + ": the header says " + std::to_string(n) +
                       " tokens but the file holds " +
                       std::to_string((size - 1024) / 2));
  std::vector<uint16_t> body(n);
  in.read(reinterpret_cast<char *>(body.data()), 2 * n);
  return std::vector<uint32_t>(body.begin(), body.end());
}

} // namespace gptc
