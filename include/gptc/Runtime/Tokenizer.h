//===- Tokenizer.h - GPT-2 byte-level BPE -----------------------*- C++ -*-===//
//
// Encodes text to GPT-2 token ids and back, bit-exact with tiktoken's "gpt2"
// encoding: the text is split by GPT-2's pre-tokenizer pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (matched by hand, no regex engine), and each piece's UTF-8 bytes are
// merged pairwise by lowest rank. `<|endoftext|>` (50256) is a special
// token that the caller allows or rejects, as tiktoken does.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_TOKENIZER_H
#define GPTC_RUNTIME_TOKENIZER_H

#include "gptc/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gptc {

class Tokenizer {
public:
  /// Loads ranks from a tiktoken file (`base64 rank` per line) or from
  /// GPT-2's encoder.json (chosen by the file's first byte); throws
  /// RuntimeError naming the file and line on malformed input.
  static Tokenizer load(const std::string &path);
  /// As load, for a file's contents already in memory (`name` in errors).
  static Tokenizer parse(const std::string &text, const std::string &name);
  ~Tokenizer();
  Tokenizer(Tokenizer &&);
  Tokenizer &operator=(Tokenizer &&);

  enum class Special {
    Reject, ///< `<|endoftext|>` in the text is an error (tiktoken's default)
    Allow,  ///< it becomes token 50256
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

  uint32_t vocabSize() const; ///< Including the special token.
  uint32_t endOfText() const; ///< 50256 for GPT-2.

private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

/// Replaces invalid UTF-8 in `text` by U+FFFD (what `--lossy` does).
std::string toValidUtf8(std::string_view text);

} // namespace gptc

#endif // GPTC_RUNTIME_TOKENIZER_H
