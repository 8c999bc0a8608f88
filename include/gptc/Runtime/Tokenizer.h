//===- Tokenizer.h - Byte-level BPE (GPT-2, Llama 3) ------------*- C++ -*-===//
//
// Encodes text to token ids and back, bit-exact with tiktoken's "gpt2"
// encoding and with the `tokenizers` package for a byte-level BPE
// tokenizer.json: the text is split by the pre-tokenizer pattern, GPT-2's
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// or Llama 3's (optionally after splitting off every digit), matched by hand
// with no regex engine, and each piece's UTF-8 bytes are merged pairwise by
// lowest rank (tiktoken) or merge priority (tokenizer.json). Special tokens
// (`<|endoftext|>`, a tokenizer.json's added tokens) are matched in the text
// first; the caller allows or rejects them, as tiktoken does.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_TOKENIZER_H
#define GPTC_RUNTIME_TOKENIZER_H

#include "gptc/Support/Error.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gptc {

class Tokenizer {
public:
  /// Loads ranks from a tiktoken file (`base64 rank` per line), GPT-2's
  /// encoder.json or a Hugging Face tokenizer.json (chosen by content);
  /// throws RuntimeError naming the file and line, or the unsupported
  /// part, on malformed input.
  static Tokenizer load(const std::string &path);
  /// As load, for a file's contents already in memory (`name` in errors).
  static Tokenizer parse(const std::string &text, const std::string &name);
  ~Tokenizer();
  Tokenizer(Tokenizer &&);
  Tokenizer &operator=(Tokenizer &&);

  enum class Special {
    Reject, ///< a special token in the text is an error (tiktoken's default)
    Allow,  ///< it becomes its id (`<|endoftext|>`: 50256 for GPT-2)
    AsText, ///< it is encoded as ordinary text
  };

  /// Encodes UTF-8 `text`; throws RuntimeError on invalid UTF-8 (naming the
  /// byte offset) or a rejected special token.
  std::vector<uint32_t> encode(std::string_view text,
                               Special special = Special::Reject) const;
  /// The bytes of `ids`; throws RuntimeError for an id outside the vocabulary.
  std::string decodeBytes(const std::vector<uint32_t> &ids) const;
  /// As decodeBytes, with invalid or partial UTF-8 replaced by U+FFFD, so
  /// any id sequence gives printable text.
  std::string decode(const std::vector<uint32_t> &ids) const;

  uint32_t vocabSize() const; ///< Including the special tokens.
  /// The end-of-text token: 50256 for GPT-2; a tokenizer.json's
  /// <|endoftext|>, <|end_of_text|> or </s>, else vocabSize() (none).
  uint32_t endOfText() const;
  /// Ids a tokenizer.json's post-processor puts before every text (Llama
  /// 3's <|begin_of_text|>); empty for GPT-2.
  const std::vector<uint32_t> &prefix() const;

private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  /// A tokenizer.json's vocabulary, merges, added tokens, pre-tokenizer and
  /// template into `impl`.
  static void readTokenizerJson(const nlohmann::json &root,
                                const std::string &path, Impl &impl);
  std::unique_ptr<Impl> impl;
};

/// Replaces invalid UTF-8 in `text` by U+FFFD (what `--lossy` does).
std::string toValidUtf8(std::string_view text);

} // namespace gptc

#endif // GPTC_RUNTIME_TOKENIZER_H
