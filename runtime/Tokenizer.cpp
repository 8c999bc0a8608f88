//===- Tokenizer.cpp - Byte-level BPE (GPT-2, Llama 3) --------------------===//
//
// Algorithm (tiktoken's and the `tokenizers` package's, reimplemented):
//  1. Split the text around allowed special tokens (a tokenizer.json's
//     added tokens).
//  2. Cut each part into pieces with GPT-2's or Llama 3's pattern, matched
//     by hand with Unicode letter/number tables (runtime/UnicodeTables.inc),
//     after splitting off every digit when the tokenizer says so.
//  3. A piece that is itself a token is one id (tiktoken; a tokenizer.json
//     with ignore_merges). Otherwise start from its bytes and repeatedly
//     merge the adjacent pair of lowest priority (leftmost among equals):
//     tiktoken's rank of the concatenation, or the pair's index in a
//     tokenizer.json's merges; a heap of candidate pairs makes it
//     O(n log n) in the piece's length.
//  Pieces repeat a lot in text ("the", " and"), so their ids are cached.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Tokenizer.h"
#include "gptc/Support/Json.h"
#include "gptc/Support/ReadFile.h"
#include "gptc/Support/Utf8.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <queue>
#include <sstream>
#include <unordered_map>

namespace gptc {

namespace {

struct CodeRange {
  uint32_t lo, hi;
};
#include "UnicodeTables.inc"

template <size_t N> bool inTable(const CodeRange (&t)[N], uint32_t cp) {
  auto it = std::upper_bound(
      t, t + N, cp, [](uint32_t c, const CodeRange &r) { return c < r.lo; });
  return it != t && cp <= (it - 1)->hi;
}

bool isLetter(uint32_t cp) {
  if (cp < 0x80)
    return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return inTable(kLetters, cp);
}
bool isNumber(uint32_t cp) {
  if (cp < 0x80)
    return cp >= '0' && cp <= '9';
  return inTable(kNumbers, cp);
}
/// Unicode White_Space, as the regex's \s.
bool isSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/// Hash lookups by string_view without building strings.
struct ViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return std::hash<std::string_view>()(s);
  }
};
using RankMap =
    std::unordered_map<std::string, uint32_t, ViewHash, std::equal_to<>>;

const char *kEndOfText = "<|endoftext|>";

} // namespace

struct Tokenizer::Impl {
  RankMap ranks;                   ///< Bytes of each token -> its id.
  std::vector<std::string> tokens; ///< Bytes of each id.
  uint32_t endOfText = 0;
  /// Special tokens matched in the text before BPE (content, id), longest
  /// first; tiktoken's and encoder.json's only one is <|endoftext|>.
  std::vector<std::pair<std::string, uint32_t>> specials;
  /// Ids a tokenizer.json's template puts before each text (BOS).
  std::vector<uint32_t> prefix;
  /// The pre-tokenizer: GPT-2's pattern or Llama 3's, after an optional
  /// split of every digit into a piece of its own.
  enum class Pattern { Gpt2, Llama3 } pattern = Pattern::Gpt2;
  bool splitDigits = false;
  /// Whether a piece that is a token is taken whole (tiktoken, and
  /// tokenizer.json's ignore_merges) before merging.
  bool wholePieces = true;
  /// tokenizer.json's merges: (left id << 32 | right id) -> priority. Empty
  /// for tiktoken ranks, where a pair's priority is its merged token's id.
  std::unordered_map<uint64_t, uint32_t> merges;
  mutable RankMap::size_type cacheLimit = 1 << 18;
  mutable std::unordered_map<std::string, std::vector<uint32_t>, ViewHash,
                             std::equal_to<>>
      cache;

  uint32_t rankOf(std::string_view s) const {
    auto it = ranks.find(s);
    return it == ranks.end() ? std::numeric_limits<uint32_t>::max()
                             : it->second;
  }

  /// The priority of merging `left` and `right` (lower first), kNone when
  /// they do not merge.
  uint32_t pairRank(std::string_view piece, size_t left, size_t mid,
                    size_t end) const {
    if (merges.empty())
      return rankOf(piece.substr(left, end - left));
    uint32_t l = rankOf(piece.substr(left, mid - left));
    uint32_t r = rankOf(piece.substr(mid, end - mid));
    auto it = merges.find(static_cast<uint64_t>(l) << 32 | r);
    return it == merges.end() ? std::numeric_limits<uint32_t>::max()
                              : it->second;
  }

  /// Byte-pair merge of one piece (steps 3 of the algorithm).
  void encodePiece(std::string_view piece, std::vector<uint32_t> &out) const {
    auto whole = wholePieces ? ranks.find(piece) : ranks.end();
    if (whole != ranks.end()) {
      out.push_back(whole->second);
      return;
    }
    auto cached = cache.find(piece);
    if (cached != cache.end()) {
      out.insert(out.end(), cached->second.begin(), cached->second.end());
      return;
    }
    constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
    // Parts as a linked list over the piece's bytes (part i covers
    // [start[i], start[next[i]])), and a min-heap of candidate merges keyed
    // by (rank, start): the lowest rank, leftmost among equals, as the
    // quadratic scan picks it. An entry is stale once either part changed;
    // each merge pushes the (at most two) pairs it creates. O(n log n).
    size_t n = piece.size();
    std::vector<size_t> start(n + 1), next(n + 1), prev(n + 1);
    for (size_t i = 0; i <= n; ++i) {
      start[i] = i;
      next[i] = i + 1;
      prev[i] = i == 0 ? n + 1 : i - 1;
    }
    std::vector<bool> alive(n + 1, true);
    struct Candidate {
      uint32_t rank;
      size_t left, right, end; // the pair (left, right) and right's end
      bool operator>(const Candidate &o) const {
        return rank != o.rank ? rank > o.rank : left > o.left;
      }
    };
    std::priority_queue<Candidate, std::vector<Candidate>,
                        std::greater<Candidate>>
        heap;
    auto push = [&](size_t left) {
      size_t right = next[left];
      if (left >= n || right >= n)
        return;
      size_t end = start[next[right]];
      uint32_t r = pairRank(piece, start[left], start[right], end);
      if (r != kNone)
        heap.push({r, left, right, end});
    };
    for (size_t i = 0; i + 1 < n; ++i)
      push(i);
    while (!heap.empty()) {
      Candidate c = heap.top();
      heap.pop();
      if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right ||
          start[next[c.right]] != c.end)
        continue;
      // `left` absorbs `right`.
      alive[c.right] = false;
      next[c.left] = next[c.right];
      prev[next[c.right]] = c.left;
      if (prev[c.left] <= n)
        push(prev[c.left]);
      push(c.left);
    }
    std::vector<uint32_t> ids;
    for (size_t i = 0; i < n; i = next[i])
      ids.push_back(rankOf(piece.substr(start[i], start[next[i]] - start[i])));
    out.insert(out.end(), ids.begin(), ids.end());
    if (cache.size() < cacheLimit)
      cache.emplace(std::string(piece), std::move(ids));
  }

  /// Length in bytes of the piece at `i` by GPT-2's pattern (step 2).
  static size_t gpt2PieceLength(std::string_view s, size_t i) {
    auto cpAt = [&](size_t p, uint32_t &cp) { return decodeUtf8(s, p, cp); };
    // The text is valid UTF-8 (checked by encode), so decoding succeeds.
    uint32_t cp = 0;
    cpAt(i, cp);
    // 's 't 're 've 'm 'll 'd
    if (s[i] == '\'' && i + 1 < s.size()) {
      char a = s[i + 1], b = i + 2 < s.size() ? s[i + 2] : '\0';
      if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') ||
          (a == 'l' && b == 'l'))
        return 3;
    }
    // An optional leading space, then a run of one class.
    size_t start = i;
    uint32_t first = cp;
    if (cp == ' ' && i + 1 < s.size()) {
      cpAt(i + 1, first);
      start = i + 1;
    }
    auto run = [&](auto pred) {
      size_t p = start;
      uint32_t c = 0;
      while (p < s.size()) {
        size_t l = cpAt(p, c);
        if (!pred(c))
          break;
        p += l;
      }
      return p - i;
    };
    if (isLetter(first))
      return run(isLetter);
    if (isNumber(first))
      return run(isNumber);
    if (!isSpace(first))
      return run([](uint32_t c) {
        return !isSpace(c) && !isLetter(c) && !isNumber(c);
      });
    // Whitespace: \s+(?!\S) leaves the last space for the next word, \s+
    // takes what is left.
    size_t p = i, last = i;
    while (p < s.size()) {
      size_t l = cpAt(p, cp);
      if (!isSpace(cp))
        break;
      last = p;
      p += l;
    }
    if (p == s.size() || last == i)
      return p - i;
    return last - i;
  }

  /// Length in bytes of the piece at `i` by Llama 3's pattern:
  ///   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
  ///   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  /// (alternatives tried in order at `i`, as the regex engine does).
  static size_t llama3PieceLength(std::string_view s, size_t i) {
    auto at = [&](size_t p) {
      uint32_t c = 0;
      size_t l = p < s.size() ? decodeUtf8(s, p, c) : 0;
      return std::pair<uint32_t, size_t>{c, l};
    };
    auto run = [&](size_t p, auto pred, size_t most = SIZE_MAX) {
      size_t count = 0;
      while (p < s.size() && count < most) {
        auto [c, l] = at(p);
        if (!pred(c))
          break;
        p += l;
        ++count;
      }
      return p;
    };
    auto newline = [](uint32_t c) { return c == '\r' || c == '\n'; };
    auto [cp, len] = at(i);
    // Contractions, case-insensitive (U+017F folds to s).
    if (cp == '\'') {
      auto [a, la] = at(i + 1);
      auto [b, lb] = at(i + 1 + la);
      auto is = [](uint32_t c, char x) {
        return c == static_cast<uint32_t>(x) ||
               c == static_cast<uint32_t>(x - 'a' + 'A') ||
               (x == 's' && c == 0x17F);
      };
      if (is(a, 's') || is(a, 't') || is(a, 'm') || is(a, 'd'))
        return 1 + la;
      if ((is(a, 'r') && is(b, 'e')) || (is(a, 'v') && is(b, 'e')) ||
          (is(a, 'l') && is(b, 'l')))
        return 1 + la + lb;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (isLetter(cp))
      return run(i, isLetter) - i;
    if (!newline(cp) && !isNumber(cp) && isLetter(at(i + len).first))
      return run(i + len, isLetter) - i;
    // \p{N}{1,3}
    if (isNumber(cp))
      return run(i, isNumber, 3) - i;
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    auto other = [](uint32_t c) {
      return !isSpace(c) && !isLetter(c) && !isNumber(c);
    };
    size_t p = cp == ' ' ? i + 1 : i;
    if (other(at(p).first))
      return run(run(p, other), newline) - i;
    // \s*[\r\n]+: up to the last newline of the whitespace run.
    size_t end = run(i, isSpace), lastNewline = SIZE_MAX;
    for (size_t q = i; q < end;) {
      auto [c, l] = at(q);
      if (newline(c))
        lastNewline = q + l;
      q += l;
    }
    if (lastNewline != SIZE_MAX)
      return lastNewline - i;
    // \s+(?!\S) leaves the last space for the next piece; \s+ the rest.
    if (end == s.size())
      return end - i;
    size_t last = i;
    for (size_t q = i; q < end;) {
      last = q;
      q += at(q).second;
    }
    return last > i ? last - i : end - i;
  }

  /// The pre-tokenizer's pieces of `text`, each merged (steps 2 and 3).
  void encodeOrdinary(std::string_view text, std::vector<uint32_t> &out) const {
    if (splitDigits) {
      // Every digit is a piece; the pattern splits the text between them.
      size_t from = 0;
      for (size_t i = 0; i < text.size();) {
        uint32_t c = 0;
        size_t l = decodeUtf8(text, i, c);
        if (isNumber(c)) {
          encodeSegment(text.substr(from, i - from), out);
          encodePiece(text.substr(i, l), out);
          from = i + l;
        }
        i += l;
      }
      encodeSegment(text.substr(from), out);
      return;
    }
    encodeSegment(text, out);
  }

  void encodeSegment(std::string_view text, std::vector<uint32_t> &out) const {
    for (size_t i = 0; i < text.size();) {
      size_t n = pattern == Pattern::Llama3 ? llama3PieceLength(text, i)
                                            : gpt2PieceLength(text, i);
      encodePiece(text.substr(i, n), out);
      i += n;
    }
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> i) : impl(std::move(i)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer &&) = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) = default;

uint32_t Tokenizer::vocabSize() const {
  return static_cast<uint32_t>(impl->tokens.size());
}
uint32_t Tokenizer::endOfText() const { return impl->endOfText; }
const std::vector<uint32_t> &Tokenizer::prefix() const { return impl->prefix; }

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

namespace {

std::string base64Decode(std::string_view in, bool &ok) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  ok = in.size() % 4 == 0 && !in.empty();
  for (size_t i = 0; i < in.size() && ok; ++i) {
    char c = in[i];
    if (c == '=') {
      ok = i >= in.size() - 2;
      continue;
    }
    size_t v = alphabet.find(c);
    if (v == std::string::npos) {
      ok = false;
      break;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

/// GPT-2's byte <-> printable-unicode mapping used by encoder.json.
std::vector<uint32_t> byteToUnicode() {
  std::vector<uint32_t> map(256);
  std::vector<bool> direct(256, false);
  for (int b = '!'; b <= '~'; ++b)
    direct[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b)
    direct[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b)
    direct[b] = true;
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b)
    map[b] = direct[b] ? b : next++;
  return map;
}

/// The bytes of `key`, a token in GPT-2's byte-to-unicode alphabet
/// (`u2b` inverts it); characters outside the alphabet (special tokens)
/// stay as written.
std::string alphabetBytes(const std::string &key,
                          const std::unordered_map<uint32_t, char> &u2b,
                          const std::string &path) {
  std::string bytes;
  for (size_t p = 0; p < key.size();) {
    uint32_t cp;
    size_t len = decodeUtf8(key, p, cp);
    if (!len) // the JSON parser checks UTF-8; this keeps the loop finite
      throw RuntimeError(path + ": invalid UTF-8 in a token");
    auto it = u2b.find(cp);
    if (it == u2b.end())
      bytes += key.substr(p, len);
    else
      bytes += it->second;
    p += len;
  }
  return bytes;
}

/// GPT-2's byte alphabet inverted: code point -> byte.
std::unordered_map<uint32_t, char> unicodeToByte() {
  std::vector<uint32_t> b2u = byteToUnicode();
  std::unordered_map<uint32_t, char> u2b;
  for (int b = 0; b < 256; ++b)
    u2b[b2u[b]] = static_cast<char>(b);
  return u2b;
}

/// Ranks and ids beyond this are not a vocabulary but a typo or an attack:
/// tables are sized by them.
constexpr unsigned long kMaxRank = 1ul << 24;

void addToken(RankMap &ranks, std::vector<std::string> &tokens,
              std::string bytes, unsigned long rank, const std::string &where) {
  if (rank >= kMaxRank)
    throw RuntimeError(where + ": rank " + std::to_string(rank) +
                       " is implausibly large");
  if (tokens.size() <= rank)
    tokens.resize(rank + 1);
  if (!tokens[rank].empty() || !ranks.emplace(bytes, rank).second)
    throw RuntimeError(where + ": duplicate token or rank " +
                       std::to_string(rank));
  tokens[rank] = std::move(bytes);
}

/// Llama 3's pre-tokenizer pattern, as its tokenizer.json spells it.
const char *kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/// Refuses what a byte-level BPE tokenizer.json may not hold, naming it.
[[noreturn]] void unsupported(const std::string &path, const std::string &what,
                              const Json &value) {
  std::string shown = value.dump();
  if (shown.size() > 200)
    shown = shown.substr(0, 200) + "...";
  throw RuntimeError(path + ": " + what + " " + shown +
                     " is not supported (gptc reads byte-level BPE "
                     "tokenizers: GPT-2's and Llama 3's pre-tokenizer "
                     "patterns, optionally after splitting digits)");
}

} // namespace

Tokenizer Tokenizer::load(const std::string &path) {
  return parse(readFileBounded(path, kMaxTokenizerBytes, "tokenizer"), path);
}

Tokenizer Tokenizer::parse(const std::string &text, const std::string &path) {
  auto impl = std::make_unique<Impl>();
  size_t firstChar = text.find_first_not_of(" \t\r\n");
  bool json = firstChar != std::string::npos && text[firstChar] == '{';
  // A tokenizer.json is an object with a "model"; encoder.json maps tokens
  // to numbers.
  Json root =
      json ? Json::parse(text, nullptr, /*allow_exceptions=*/false) : Json();
  if (root.is_object() && root.contains("model") && root["model"].is_object()) {
    readTokenizerJson(root, path, *impl);
    return Tokenizer(std::move(impl));
  }
  if (json) {
    // encoder.json: {"token": id, ...} with tokens in the byte-to-unicode
    // alphabet. The pairs are taken as the parser meets them and dropped,
    // so a duplicated token is seen (an object would keep one silently).
    std::unordered_map<uint32_t, char> u2b = unicodeToByte();
    std::string key;
    auto pair = [&](int depth, Json::parse_event_t event, Json &value) {
      using Event = Json::parse_event_t;
      if (depth != 1)
        return true;
      if (event == Event::key) {
        key = value.get<std::string>();
        return false;
      }
      if (event == Event::object_start || event == Event::array_start)
        throw RuntimeError(path + ": the id of token '" + key +
                           "' is not a number");
      if (event != Event::value)
        return true;
      if (!value.is_number_unsigned())
        throw RuntimeError(path + ": the id of token '" + key +
                           "' is not a non-negative integer: " + value.dump());
      uint64_t id = value.get<uint64_t>();
      if (id >= kMaxRank)
        throw RuntimeError(path + ": token id " + std::to_string(id) +
                           " is implausibly large");
      if (key == kEndOfText) {
        impl->endOfText = static_cast<uint32_t>(id);
        return false;
      }
      addToken(impl->ranks, impl->tokens, alphabetBytes(key, u2b, path), id,
               path);
      return false;
    };
    parseJson(text, path, pair);
    if (!impl->endOfText)
      impl->endOfText = static_cast<uint32_t>(impl->tokens.size());
  } else {
    std::istringstream lines(text);
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
      ++number;
      if (line.empty())
        continue;
      std::string where = path + ":" + std::to_string(number);
      size_t sp = line.find(' ');
      bool ok = sp != std::string::npos;
      std::string bytes = ok ? base64Decode(line.substr(0, sp), ok) : "";
      size_t used = 0;
      unsigned long rank = 0;
      if (ok) {
        try {
          rank = std::stoul(line.substr(sp + 1), &used);
        } catch (...) {
          ok = false;
        }
        ok = ok && used == line.size() - sp - 1;
      }
      if (!ok)
        throw RuntimeError(where +
                           ": expected 'BASE64 RANK', as in tiktoken files");
      addToken(impl->ranks, impl->tokens, bytes, rank, where);
    }
    impl->endOfText = static_cast<uint32_t>(impl->tokens.size());
  }
  for (size_t r = 0; r < impl->tokens.size(); ++r)
    if (impl->tokens[r].empty())
      throw RuntimeError(path + ": rank " + std::to_string(r) +
                         " is missing; ranks must be 0..N-1");
  if (impl->tokens.size() < 256)
    throw RuntimeError(path + ": " + std::to_string(impl->tokens.size()) +
                       " tokens; a byte-level BPE needs at least the 256 "
                       "single bytes");
  // Any text must encode: every byte is a token by itself.
  for (int b = 0; b < 256; ++b)
    if (!impl->ranks.count(std::string(1, static_cast<char>(b)))) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", b);
      throw RuntimeError(path + ": byte " + hex +
                         " is not a token; a byte-level BPE needs all 256 "
                         "single bytes");
    }
  // <|endoftext|> follows the byte-pair tokens (50256 in GPT-2's).
  if (impl->endOfText != impl->tokens.size())
    throw RuntimeError(path + ": <|endoftext|> has id " +
                       std::to_string(impl->endOfText) + "; expected " +
                       std::to_string(impl->tokens.size()) +
                       ", the id after the last of the " +
                       std::to_string(impl->tokens.size()) + " tokens");
  impl->tokens.push_back(kEndOfText);
  impl->specials = {{kEndOfText, impl->endOfText}};
  return Tokenizer(std::move(impl));
}

void Tokenizer::readTokenizerJson(const Json &root, const std::string &path,
                                  Impl &impl) {
  const Json &model = root["model"];
  auto isNullOr = [](const Json &j, const char *key, const Json &ok) {
    return !j.contains(key) || j[key].is_null() || j[key] == ok;
  };
  if (model.value("type", "") != "BPE")
    unsupported(path, "the model", model.value("type", Json("(no type)")));
  if (!isNullOr(model, "byte_fallback", false) ||
      !isNullOr(model, "continuing_subword_prefix", "") ||
      !isNullOr(model, "end_of_word_suffix", "") ||
      !isNullOr(model, "dropout", 0.0))
    unsupported(path, "the BPE options",
                Json{{"byte_fallback", model.value("byte_fallback", Json())},
                     {"dropout", model.value("dropout", Json())}});
  if (!root.value("normalizer", Json()).is_null())
    unsupported(path, "the normalizer", root["normalizer"]);

  // 1. The vocabulary: tokens in GPT-2's byte alphabet.
  std::unordered_map<uint32_t, char> u2b = unicodeToByte();
  if (!model.contains("vocab") || !model["vocab"].is_object())
    throw RuntimeError(path + ": the model has no \"vocab\" object");
  for (auto &[key, id] : model["vocab"].items()) {
    if (!id.is_number_unsigned() || id.get<uint64_t>() >= kMaxRank)
      throw RuntimeError(path + ": the id of token '" + key +
                         "' is not an integer below " +
                         std::to_string(kMaxRank) + ": " + id.dump());
    addToken(impl.ranks, impl.tokens, alphabetBytes(key, u2b, path),
             id.get<uint64_t>(), path);
  }
  auto idOf = [&](const std::string &token) -> uint32_t {
    auto it = model["vocab"].find(token);
    if (it == model["vocab"].end())
      throw RuntimeError(path + ": the merge of '" + token +
                         "' names a token outside the vocabulary");
    return it->get<uint32_t>();
  };

  // 2. Merges, in priority order: "a b" or ["a", "b"].
  const Json &merges = model.value("merges", Json::array());
  if (!merges.is_array())
    throw RuntimeError(path + ": the model's \"merges\" is not a list");
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Json &m = merges[rank];
    std::string a, b;
    if (m.is_string()) {
      std::string s = m.get<std::string>();
      size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != s.npos)
        throw RuntimeError(path + ": merge " + std::to_string(rank) + " '" + s +
                           "' is not two tokens separated by a space");
      a = s.substr(0, space), b = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() &&
               m[1].is_string()) {
      a = m[0].get<std::string>(), b = m[1].get<std::string>();
    } else {
      throw RuntimeError(path + ": merge " + std::to_string(rank) +
                         " is not a pair of tokens: " + m.dump());
    }
    idOf(a + b); // the merged token must exist
    impl.merges.emplace(static_cast<uint64_t>(idOf(a)) << 32 | idOf(b),
                        static_cast<uint32_t>(rank));
  }
  impl.wholePieces = model.value("ignore_merges", false);

  // 3. Added tokens: matched in the text before anything else.
  for (const Json &t : root.value("added_tokens", Json::array())) {
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_unsigned() ||
        !t.contains("content") || !t["content"].is_string() ||
        t["id"].get<uint64_t>() >= kMaxRank)
      throw RuntimeError(path +
                         ": an added token is not {\"id\": N, "
                         "\"content\": \"...\"}: " +
                         t.dump().substr(0, 200));
    uint32_t id = t["id"].get<uint32_t>();
    std::string content = t["content"].get<std::string>();
    if (impl.tokens.size() <= id)
      impl.tokens.resize(id + 1);
    if (!impl.tokens[id].empty() && impl.tokens[id] != content)
      throw RuntimeError(path + ": added token '" + content + "' has id " +
                         std::to_string(id) +
                         ", which the vocabulary gives "
                         "another token");
    impl.tokens[id] = content;
    impl.specials.push_back({content, id});
  }
  std::stable_sort(
      impl.specials.begin(), impl.specials.end(),
      [](auto &x, auto &y) { return x.first.size() > y.first.size(); });
  impl.endOfText = static_cast<uint32_t>(impl.tokens.size());
  for (const char *eot : {"<|endoftext|>", "<|end_of_text|>", "</s>"}) {
    auto it = std::find_if(impl.specials.begin(), impl.specials.end(),
                           [&](auto &s) { return s.first == eot; });
    if (it != impl.specials.end()) {
      impl.endOfText = it->second;
      break;
    }
  }

  // 4. The pre-tokenizer: ByteLevel with GPT-2's pattern; Llama 3's
  //    pattern as a Split before a ByteLevel without one; digits split off
  //    before either.
  const Json &pre = root.value("pre_tokenizer", Json());
  std::vector<Json> steps;
  if (pre.is_object() && pre.value("type", "") == "Sequence")
    steps = pre.value("pretokenizers", std::vector<Json>{});
  else
    steps = {pre};
  bool byteLevel = false, pattern = false;
  for (const Json &s : steps) {
    std::string type = s.is_object() ? s.value("type", "") : "";
    if (type == "Digits" && s.value("individual_digits", false) && !pattern &&
        !impl.splitDigits) {
      impl.splitDigits = true;
    } else if (type == "Split" && !pattern && s.contains("pattern") &&
               s["pattern"].is_object() &&
               s["pattern"].value("Regex", "") == std::string(kLlama3Pattern) &&
               s.value("behavior", "") == "Isolated" &&
               !s.value("invert", false)) {
      impl.pattern = Impl::Pattern::Llama3;
      pattern = true;
    } else if (type == "ByteLevel" && !byteLevel &&
               !s.value("add_prefix_space", false) &&
               s.value("use_regex", true) != pattern) {
      byteLevel = true;
      pattern = true; // GPT-2's, unless a Split gave Llama 3's
    } else {
      unsupported(path, "the pre-tokenizer step", s);
    }
  }
  if (!byteLevel)
    unsupported(path, "the pre-tokenizer", pre);

  // 5. The template: special tokens before the text (BOS).
  std::vector<Json> processors;
  const Json &post = root.value("post_processor", Json());
  if (post.is_object() && post.value("type", "") == "Sequence")
    processors = post.value("processors", std::vector<Json>{});
  else if (!post.is_null())
    processors = {post};
  for (const Json &p : processors) {
    std::string type = p.is_object() ? p.value("type", "") : "";
    if (type == "ByteLevel")
      continue;
    if (type != "TemplateProcessing" || !p.contains("single") ||
        !p["single"].is_array())
      unsupported(path, "the post-processor", p);
    bool text = false;
    for (const Json &item : p["single"]) {
      if (item.contains("Sequence")) {
        text = true;
        continue;
      }
      std::string name = item.contains("SpecialToken")
                             ? item["SpecialToken"].value("id", "")
                             : "";
      const Json &ids = p.value("special_tokens", Json::object())
                            .value(name, Json::object())
                            .value("ids", Json::array());
      if (name.empty() || text || ids.empty())
        unsupported(path, "the template", p["single"]);
      for (const Json &id : ids)
        impl.prefix.push_back(id.get<uint32_t>());
    }
  }
  const Json &decoder = root.value("decoder", Json());
  if (!decoder.is_null() && decoder.value("type", "") != "ByteLevel")
    unsupported(path, "the decoder", decoder);

  for (size_t r = 0; r < impl.tokens.size(); ++r)
    if (impl.tokens[r].empty())
      throw RuntimeError(path + ": id " + std::to_string(r) +
                         " is missing; ids must be 0..N-1");
  for (int b = 0; b < 256; ++b)
    if (!impl.ranks.count(std::string(1, static_cast<char>(b))))
      throw RuntimeError(path + ": byte " + std::to_string(b) +
                         " is not a token; a byte-level BPE needs all 256 "
                         "single bytes");
}

//===----------------------------------------------------------------------===//
// Encoding and decoding
//===----------------------------------------------------------------------===//

std::vector<uint32_t> Tokenizer::encode(std::string_view text,
                                        Special special) const {
  size_t bad = findInvalidUtf8(text);
  if (bad != std::string_view::npos)
    throw RuntimeError("invalid UTF-8 at byte offset " + std::to_string(bad) +
                       " (use --lossy to replace it with U+FFFD)");
  std::vector<uint32_t> out;
  out.reserve(text.size() / 4);
  if (special == Special::AsText) {
    impl->encodeOrdinary(text, out);
    return out;
  }
  // The first special token at or after `from`, longest among those
  // starting at one place; specials' first bytes screen the positions.
  std::string firsts;
  for (auto &[content, id] : impl->specials)
    if (firsts.find(content[0]) == std::string::npos)
      firsts += content[0];
  auto nextSpecial =
      [&](size_t from, size_t &at) -> const std::pair<std::string, uint32_t> * {
    for (at = text.find_first_of(firsts, from); at != std::string_view::npos;
         at = text.find_first_of(firsts, at + 1))
      for (auto &s : impl->specials)
        if (text.compare(at, s.first.size(), s.first) == 0)
          return &s;
    return nullptr;
  };
  size_t start = 0, hit = 0;
  while (auto *s = firsts.empty() ? nullptr : nextSpecial(start, hit)) {
    if (special == Special::Reject)
      throw RuntimeError("the text contains the special token " + s->first +
                         " at byte offset " + std::to_string(hit) +
                         "; allow it (--allow-special) or encode it as text "
                         "(--special-as-text)");
    impl->encodeOrdinary(text.substr(start, hit - start), out);
    out.push_back(s->second);
    start = hit + s->first.size();
  }
  impl->encodeOrdinary(text.substr(start), out);
  return out;
}

std::string Tokenizer::decodeBytes(const std::vector<uint32_t> &ids) const {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= impl->tokens.size())
      throw RuntimeError("token id " + std::to_string(ids[i]) +
                         " at position " + std::to_string(i) +
                         " is outside the vocabulary of " +
                         std::to_string(impl->tokens.size()));
    out += impl->tokens[ids[i]];
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<uint32_t> &ids) const {
  return toValidUtf8(decodeBytes(ids));
}

std::string toValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  uint32_t cp;
  for (size_t i = 0; i < text.size();) {
    size_t len = decodeUtf8(text, i, cp);
    if (len) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

} // namespace gptc
