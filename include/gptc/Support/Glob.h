//===- Glob.h - Matching parameter names against patterns -------*- C++ -*-===//
//
// Parameter patterns (`names` rules, trainable and decay lists) use `*` for
// any run of characters, nothing else: `h.*.attn.*`, `lm_head.*`.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_SUPPORT_GLOB_H
#define GPTC_SUPPORT_GLOB_H

#include <string_view>

namespace gptc {

/// Whether `text` matches `pattern`, where `*` matches any run.
inline bool globMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

/// Whether `text` matches any of `patterns`; an empty list matches all (a
/// pass option left unset means "every parameter").
template <typename Patterns>
bool matchesAny(const Patterns &patterns, std::string_view text) {
  if (patterns.empty())
    return true;
  for (const auto &p : patterns)
    if (globMatch(p, text))
      return true;
  return false;
}

} // namespace gptc

#endif // GPTC_SUPPORT_GLOB_H
