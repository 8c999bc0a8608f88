//===- TokenizerTest.cpp - Byte-level BPE against tiktoken and tokenizers ===//
//
// Goldens from tests/reference/make_tokenizer_goldens.py (tiktoken, "gpt2")
// and make_tokenizer_json_goldens.py (the `tokenizers` package: GPT-2's
// tokenizer.json, and BPEs trained with Llama 3's pattern and SmolLM2's
// digit split): the shipped corpora, a generated corpus of mixed Unicode
// and text with special tokens must encode to exactly the same ids and
// decode back to the same text.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Tokenizer.h"
#include "gptc/Support/Json.h"
#include "gptc/Support/Utf8.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace gptc;

namespace {

std::string root() { return GPTC_SOURCE_DIR; }

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<uint32_t> readIds(const std::string &path) {
  std::string bytes = readFile(path);
  std::vector<uint32_t> ids;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2)
    ids.push_back(static_cast<uint8_t>(bytes[i]) |
                  (static_cast<uint8_t>(bytes[i + 1]) << 8));
  return ids;
}

const Tokenizer &gpt2() {
  static Tokenizer tok = Tokenizer::load(root() + "/data/gpt2.tiktoken");
  return tok;
}

TEST(Tokenizer, KnownVectors) {
  using V = std::vector<uint32_t>;
  EXPECT_EQ(gpt2().encode("Hello world"), (V{15496, 995}));
  EXPECT_EQ(gpt2().encode("Hello, world!"), (V{15496, 11, 995, 0}));
  EXPECT_EQ(gpt2().encode("The quick brown fox jumps over the lazy dog."),
            (V{464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13}));
  EXPECT_EQ(gpt2().encode(""), V{});
  EXPECT_EQ(gpt2().vocabSize(), 50257u);
  EXPECT_EQ(gpt2().endOfText(), 50256u);
}

struct Corpus {
  const char *name, *text;
  Tokenizer::Special special;
};

class TiktokenGolden : public testing::TestWithParam<Corpus> {};

TEST_P(TiktokenGolden, SameIdsAndRoundTrip) {
  std::string text = readFile(root() + "/" + GetParam().text);
  std::vector<uint32_t> want = readIds(root() + "/tests/reference/tokenizer/" +
                                       GetParam().name + ".u16");
  std::vector<uint32_t> ids = gpt2().encode(text, GetParam().special);
  ASSERT_EQ(ids.size(), want.size());
  for (size_t i = 0; i < ids.size(); ++i)
    ASSERT_EQ(ids[i], want[i]) << "first difference at token " << i;
  EXPECT_EQ(gpt2().decode(ids), text);
}

INSTANTIATE_TEST_SUITE_P(
    Corpora, TiktokenGolden,
    testing::Values(Corpus{"the-verdict", "data/the-verdict.txt",
                           Tokenizer::Special::Reject},
                    Corpus{"tinyshakespeare", "data/tinyshakespeare.txt",
                           Tokenizer::Special::Reject},
                    Corpus{"mixed", "tests/reference/tokenizer/mixed.txt",
                           Tokenizer::Special::AsText}),
    [](const auto &info) {
      std::string n = info.param.name;
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

TEST(Tokenizer, SpecialToken) {
  std::string text = "a<|endoftext|>b";
  EXPECT_EQ(gpt2().encode(text, Tokenizer::Special::Allow),
            (std::vector<uint32_t>{64, 50256, 65}));
  std::vector<uint32_t> asText =
      gpt2().encode(text, Tokenizer::Special::AsText);
  EXPECT_GT(asText.size(), 3u);
  EXPECT_EQ(gpt2().decode(asText), text);
  try {
    gpt2().encode(text);
    FAIL();
  } catch (const RuntimeError &e) {
    EXPECT_NE(std::string(e.what()).find("at byte offset 1"), std::string::npos)
        << e.what();
  }
}

TEST(Tokenizer, InvalidUtf8IsAnErrorOrReplaced) {
  std::string bad = "ok \xff\xfe there";
  try {
    gpt2().encode(bad);
    FAIL();
  } catch (const RuntimeError &e) {
    EXPECT_NE(std::string(e.what()).find("byte offset 3"), std::string::npos)
        << e.what();
  }
  std::string fixed = toValidUtf8(bad);
  EXPECT_EQ(fixed, "ok \xEF\xBF\xBD\xEF\xBF\xBD there");
  EXPECT_EQ(gpt2().decode(gpt2().encode(fixed)), fixed);
}

TEST(Tokenizer, DecodingAnyIdsNeverCrashes) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> id(0, 50256);
  for (int t = 0; t < 200; ++t) {
    std::vector<uint32_t> ids(1 + rng() % 20);
    for (auto &i : ids)
      i = id(rng);
    std::string text = gpt2().decode(ids);
    EXPECT_EQ(findInvalidUtf8(text), std::string::npos);
  }
  // Half of a multi-byte character decodes to U+FFFD, not to garbage.
  std::vector<uint32_t> emoji = gpt2().encode("😀");
  ASSERT_GT(emoji.size(), 1u);
  EXPECT_EQ(gpt2().decode({emoji[0]}).substr(0, 3), "\xEF\xBF\xBD");
  EXPECT_THROW(gpt2().decode({50257}), RuntimeError);
}

/// GPT-2's encoder.json for the shipped ranks: each token's bytes in the
/// byte-to-unicode alphabet (printable bytes as themselves, the others as
/// U+0100 onwards in byte order), as OpenAI's file writes them.
std::string encoderJson(const Tokenizer &tok) {
  std::vector<uint32_t> alphabet(256);
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
                     (b >= 174 && b <= 255);
    alphabet[b] = printable ? b : next++;
  }
  OrderedJson json = OrderedJson::object();
  for (uint32_t id = 0; id < tok.endOfText(); ++id) {
    std::string key;
    for (unsigned char c : tok.decodeBytes({id})) {
      uint32_t cp = alphabet[c];
      if (cp < 0x80) {
        key += static_cast<char>(cp);
      } else {
        key += static_cast<char>(0xC0 | (cp >> 6));
        key += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    json[key] = id;
  }
  json["<|endoftext|>"] = tok.endOfText();
  return json.dump();
}

TEST(Tokenizer, EncoderJsonGivesTheSameTokenizer) {
  std::string path = testing::TempDir() + "/encoder.json";
  std::ofstream(path, std::ios::binary) << encoderJson(gpt2());
  Tokenizer fromJson = Tokenizer::load(path);
  std::string text = readFile(root() + "/tests/reference/tokenizer/mixed.txt");
  EXPECT_EQ(fromJson.encode(text, Tokenizer::Special::AsText),
            gpt2().encode(text, Tokenizer::Special::AsText));
  EXPECT_EQ(fromJson.endOfText(), 50256u);
}

/// Loading `content` as the tokenizer file `name` fails with a message
/// holding `what`.
void expectLoadError(const std::string &name, const std::string &content,
                     const std::string &what) {
  std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  try {
    Tokenizer::load(path);
    FAIL() << "expected: " << what;
  } catch (const RuntimeError &e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(Tokenizer, MalformedFilesAreClearErrors) {
  std::string dir = testing::TempDir();
  auto expectError = [](const std::string &content, const std::string &what) {
    expectLoadError("bad.tiktoken", content, what);
  };
  expectError("IQ== 0\nnot-base64! 1\n", ":2: expected 'BASE64 RANK'");
  expectError("IQ== 0\nIg== 0\n", "duplicate token or rank 0");
  expectError("IQ== 1\n", "rank 0 is missing");
  expectError("IQ== 0\n", "at least the 256 single bytes");
  expectError("IQ== 4294967296\n", "rank 4294967296 is implausibly large");
  // 256 tokens, but byte 0x00 is not one of them ("AAA=" decodes to two
  // zero bytes): text with that byte could not be encoded.
  std::string noZero;
  for (int b = 1; b < 256; ++b) {
    static const char *kB64 =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    noZero += std::string{kB64[b >> 2], kB64[(b & 3) << 4], '=', '='} + " " +
              std::to_string(b - 1) + "\n";
  }
  noZero += "AAA= 255\n";
  expectError(noZero, "byte 0x00 is not a token");
  // encoder.json: ids beyond any vocabulary (<|endoftext|> at 2^32-1 once
  // wrote out of bounds; 2^32+5 became 5) and \\u escapes without four hex
  // digits (std::stoul aborted on them).
  expectError(R"({"<|endoftext|>": 4294967295})",
              "token id 4294967295 is implausibly large");
  expectError(R"({"!": 4294967301})", "token id 4294967301 is implausibly");
  expectError(R"({"\u00zz": 0})", "invalid JSON: parse error at line 1");
  expectError(R"({"\u0)", "invalid JSON: parse error at line 1, column 6");
  expectError(R"({"a": 1, "a": 2})", "duplicate token or rank");
  expectError(R"({"a": -1})", "the id of token 'a' is not a non-negative");
  expectError(R"({"a": 1.5})", "the id of token 'a' is not a non-negative");
  expectError(R"({"a": {"b": 1}})", "the id of token 'a' is not a number");
  EXPECT_THROW(Tokenizer::load(dir + "/does-not-exist"), RuntimeError);
}

std::vector<uint32_t> readIds32(const std::string &path) {
  std::string bytes = readFile(path);
  std::vector<uint32_t> ids(bytes.size() / 4);
  std::memcpy(ids.data(), bytes.data(), ids.size() * 4);
  return ids;
}

class TokenizerJson : public testing::TestWithParam<const char *> {};

TEST_P(TokenizerJson, EncodesAndDecodesAsTokenizers) {
  std::string dir = root() + "/tests/reference/tokenizer/";
  Tokenizer tok = Tokenizer::load(dir + GetParam() + ".tokenizer.json");
  for (const char *text : {"the-verdict", "mixed", "specials"}) {
    SCOPED_TRACE(text);
    std::string path = dir + GetParam() + "." + text + ".u32";
    std::vector<uint32_t> want = readIds32(path);
    std::string input = std::string(text) == "the-verdict"
                            ? readFile(root() + "/data/the-verdict.txt")
                        : std::string(text) == "mixed"
                            ? readFile(dir + "mixed.txt")
                            : tok.decode(want);
    std::vector<uint32_t> got = tok.encode(input, Tokenizer::Special::Allow);
    ASSERT_EQ(got.size(), want.size());
    size_t first = 0;
    while (first < got.size() && got[first] == want[first])
      ++first;
    EXPECT_EQ(first, got.size()) << "first difference at token " << first;
    EXPECT_EQ(tok.decode(got), input);
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, TokenizerJson,
                         testing::Values("gpt2", "llama3", "smollm"));

TEST(TokenizerJson, SpecialTokensTemplateAndEndOfText) {
  std::string dir = root() + "/tests/reference/tokenizer/";
  Tokenizer llama = Tokenizer::load(dir + "llama3.tokenizer.json");
  // The template's BOS, <|end_of_text|> as the end of text, and a special
  // token in text that rejects them named.
  EXPECT_EQ(llama.prefix(), std::vector<uint32_t>{1500});
  EXPECT_EQ(llama.endOfText(), 1501u);
  EXPECT_EQ(llama.vocabSize(), 1510u);
  try {
    llama.encode("a<|reserved_special_token_3|>b");
    FAIL() << "expected a rejected special token";
  } catch (const RuntimeError &e) {
    EXPECT_NE(std::string(e.what()).find("<|reserved_special_token_3|> at "
                                         "byte offset 1"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(llama.encode("<|end_of_text|>", Tokenizer::Special::Allow),
            std::vector<uint32_t>{1501});
  Tokenizer smol = Tokenizer::load(dir + "smollm.tokenizer.json");
  EXPECT_EQ(smol.prefix(), std::vector<uint32_t>{});
  EXPECT_EQ(smol.endOfText(), 0u);
  Tokenizer gpt2json = Tokenizer::load(dir + "gpt2.tokenizer.json");
  EXPECT_EQ(gpt2json.endOfText(), 50256u);
  std::string text = readFile(root() + "/data/tinyshakespeare.txt");
  EXPECT_EQ(gpt2json.encode(text), gpt2().encode(text));
}

TEST(TokenizerJson, UnsupportedTokenizersAreNamed) {
  auto expectError = [](const std::string &json, const std::string &what) {
    expectLoadError("tokenizer.json", json, what);
  };
  // A SentencePiece-style BPE (TinyLlama's): byte fallback, a normalizer.
  expectError(R"({"model": {"type": "BPE", "vocab": {}, "merges": [],
                  "byte_fallback": true}})",
              "the BPE options");
  expectError(R"({"normalizer": {"type": "NFC"},
                  "model": {"type": "BPE", "vocab": {}, "merges": []}})",
              "the normalizer {\"type\":\"NFC\"} is not supported");
  expectError(R"({"model": {"type": "WordPiece", "vocab": {}}})",
              "the model \"WordPiece\" is not supported");
  expectError(R"({"model": {"type": "BPE", "vocab": {"a": 0},
                  "merges": ["a b"]}})",
              "names a token outside the vocabulary");
  expectError(R"({"model": {"type": "BPE", "vocab": {"a": 0},
                  "merges": ["ab"]}})",
              "merge 0 'ab' is not two tokens separated by a space");
  expectError(R"({"pre_tokenizer": {"type": "Whitespace"},
                  "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})",
              "the pre-tokenizer step {\"type\":\"Whitespace\"}");
  expectError(R"({"pre_tokenizer": {"type": "ByteLevel",
                  "add_prefix_space": true},
                  "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})",
              "the pre-tokenizer step");
  expectError(R"({"pre_tokenizer": {"type": "ByteLevel"},
                  "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})",
              "byte 0 is not a token");
}

} // namespace
