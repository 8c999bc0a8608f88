//===- DataLoaderTest.cpp - The book's dataset, loader and split
//-----------===//

#include "gptc/Runtime/DataLoader.h"
#include "gptc/Runtime/Tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <numeric>
#include <set>
#include <sstream>

using namespace gptc;

namespace {

std::string verdict() {
  std::ifstream in(std::string(GPTC_SOURCE_DIR) + "/data/the-verdict.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const Tokenizer &gpt2() {
  static Tokenizer tok =
      Tokenizer::load(std::string(GPTC_SOURCE_DIR) + "/data/gpt2.tiktoken");
  return tok;
}

// Chapter 2: create_dataloader_v1(raw_text, batch_size=1, max_length=4,
// stride=1, shuffle=False) gives inputs [[40, 367, 2885, 1464]] and targets
// [[367, 2885, 1464, 1807]] first, then [[367, 2885, 1464, 1807]].
TEST(DataLoader, BookChapter2Windows) {
  WindowDataset data(gpt2().encode(verdict()), 4, 1);
  DataLoader loader(data, 1, false, true, 123);
  Batch b = loader.batch(0);
  EXPECT_EQ(b.rows, 1);
  EXPECT_EQ(b.length, 4);
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{40, 367, 2885, 1464}));
  EXPECT_EQ(b.targets, (std::vector<int32_t>{367, 2885, 1464, 1807}));
  EXPECT_EQ(loader.batch(1).tokens,
            (std::vector<int32_t>{367, 2885, 1464, 1807}));
  EXPECT_EQ(data.size(), 5145 - 4);
}

// Chapter 5: train_ratio 0.90, context 256, stride 256, batch 2, drop_last:
// 9 training batches (4,608 tokens) and 1 validation batch (512 tokens).
TEST(DataLoader, BookChapter5Split) {
  auto [train, val] = splitByCharacters(verdict(), 0.90);
  WindowDataset trainSet(gpt2().encode(train), 256, 256);
  WindowDataset valSet(gpt2().encode(val), 256, 256);
  DataLoader trainLoader(trainSet, 2, true, true, 123);
  DataLoader valLoader(valSet, 2, false, false, 123);
  EXPECT_EQ(trainLoader.numBatches(), 9);
  EXPECT_EQ(valLoader.numBatches(), 1);
  EXPECT_EQ(trainLoader.numBatches() * 2 * 256, 4608);
  EXPECT_EQ(valLoader.numBatches() * 2 * 256, 512);
}

TEST(DataLoader, SplitCountsCodePointsNotBytes) {
  auto [a, b] = splitByCharacters("ééééabcdef", 0.5); // 10 characters
  EXPECT_EQ(a, "éééé"
               "a");
  EXPECT_EQ(b, "bcdef");
}

TEST(DataLoader, ShuffleIsASeededPermutationPerEpoch) {
  std::vector<uint32_t> tokens(1001);
  std::iota(tokens.begin(), tokens.end(), 0);
  WindowDataset data(tokens, 10, 10); // 100 windows
  DataLoader a(data, 7, true, false, 42), b(data, 7, true, false, 42);
  EXPECT_EQ(a.numBatches(), 15);
  std::set<int32_t> starts;
  for (int64_t k = 0; k < a.numBatches(); ++k) {
    Batch x = a.batch(k);
    EXPECT_EQ(x.tokens, b.batch(k).tokens);
    EXPECT_EQ(x.rows, k + 1 < a.numBatches() ? 7 : 100 - 7 * 14);
    for (int64_t r = 0; r < x.rows; ++r) {
      starts.insert(x.tokens[r * 10]);
      // Targets shifted by one.
      EXPECT_EQ(x.targets[r * 10], x.tokens[r * 10] + 1);
    }
  }
  EXPECT_EQ(starts.size(), 100u); // every window once
  std::vector<int32_t> epoch0 = a.batch(0).tokens;
  a.startEpoch(1);
  EXPECT_NE(a.batch(0).tokens, epoch0);
}

TEST(DataLoader, ErrorsAreClear) {
  EXPECT_THROW(WindowDataset({1, 2, 3}, 4, 1), RuntimeError);
  EXPECT_THROW(splitByCharacters("abc", 1.5), RuntimeError);
  WindowDataset data({1, 2, 3, 4, 5, 6}, 2, 2);
  EXPECT_THROW(DataLoader(data, 0, false, false, 0), RuntimeError);
}

TEST(TokenShard, RoundTripAndValidation) {
  std::string path = testing::TempDir() + "/tokens.bin";
  std::vector<uint32_t> tokens = gpt2().encode(verdict());
  writeTokenShard(path, tokens);
  EXPECT_EQ(readTokenShard(path), tokens);
  std::ofstream(path, std::ios::binary) << "not a shard";
  EXPECT_THROW(readTokenShard(path), RuntimeError);
  EXPECT_THROW(writeTokenShard(path, {70000}), RuntimeError);
}

} // namespace
