//===- Tokenizer.cpp - GPT-2 byte-level BPE -------------------------------===//
//
// Algorithm (tiktoken's, reimplemented):
//  1. Split the text around allowed special tokens.
//  2. Cut each part into pieces with GPT-2's pattern, matched by hand with
//     Unicode letter/number tables (runtime/UnicodeTables.inc).
//  3. A piece that is itself a token is one id. Otherwise start from its
//     bytes and repeatedly merge the adjacent pair whose concatenation has
//     the lowest rank (leftmost among equals), until no pair is a token; a
//     heap of candidate pairs makes it O(n log n) in the piece's length.
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
  RankMap ranks;
  std::vector<std::string> tokens; ///< Bytes of each id.
  uint32_t endOfText = 0;
  mutable RankMap::size_type cacheLimit = 1 << 18;
  mutable std::unordered_map<std::string, std::vector<uint32_t>, ViewHash,
                             std::equal_to<>>
      cache;

  uint32_t rankOf(std::string_view s) const {
    auto it = ranks.find(s);
    return it == ranks.end() ? std::numeric_limits<uint32_t>::max()
                             : it->second;
  }

  /// Byte-pair merge of one piece (steps 3 of the algorithm).
  void encodePiece(std::string_view piece, std::vector<uint32_t> &out) const {
    auto whole = ranks.find(piece);
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
      uint32_t r = rankOf(piece.substr(start[left], end - start[left]));
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

  /// Length in bytes of the piece at `i` (step 2).
  static size_t pieceLength(std::string_view s, size_t i) {
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

  void encodeOrdinary(std::string_view text, std::vector<uint32_t> &out) const {
    for (size_t i = 0; i < text.size();) {
      size_t n = pieceLength(text, i);
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

} // namespace

Tokenizer Tokenizer::load(const std::string &path) {
  return parse(readFileBounded(path, kMaxTokenizerBytes, "tokenizer"), path);
}

Tokenizer Tokenizer::parse(const std::string &text, const std::string &path) {
  auto impl = std::make_unique<Impl>();
  size_t firstChar = text.find_first_not_of(" \t\r\n");
  if (firstChar != std::string::npos && text[firstChar] == '{') {
    // encoder.json: {"token": id, ...} with tokens in the byte-to-unicode
    // alphabet. The pairs are taken as the parser meets them and dropped,
    // so a duplicated token is seen (an object would keep one silently).
    std::vector<uint32_t> b2u = byteToUnicode();
    std::unordered_map<uint32_t, char> u2b;
    for (int b = 0; b < 256; ++b)
      u2b[b2u[b]] = static_cast<char>(b);
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
      // Characters outside the alphabet (special tokens) stay as written.
      std::string bytes;
      for (size_t p = 0; p < key.size();) {
        uint32_t cp;
        size_t len = decodeUtf8(key, p, cp);
        if (!len) // the parser checks UTF-8; this keeps the loop finite
          throw RuntimeError(path + ": invalid UTF-8 in a token");
        auto it = u2b.find(cp);
        if (it == u2b.end())
          bytes += key.substr(p, len);
        else
          bytes += it->second;
        p += len;
      }
      addToken(impl->ranks, impl->tokens, bytes, id, path);
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
  return Tokenizer(std::move(impl));
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
  size_t start = 0;
  while (true) {
    size_t hit = text.find(kEndOfText, start);
    if (hit == std::string_view::npos)
      break;
    if (special == Special::Reject)
      throw RuntimeError("the text contains the special token <|endoftext|> "
                         "at byte offset " +
                         std::to_string(hit) +
                         "; allow it (--allow-special) or encode it as text "
                         "(--special-as-text)");
    impl->encodeOrdinary(text.substr(start, hit - start), out);
    out.push_back(impl->endOfText);
    start = hit + std::strlen(kEndOfText);
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
