//===- Utf8.h - Decoding and validating UTF-8 -------------------*- C++ -*-===//

#ifndef GPTC_SUPPORT_UTF8_H
#define GPTC_SUPPORT_UTF8_H

#include <cstdint>
#include <string_view>

namespace gptc {

/// Decodes the code point at `s[i]`; returns its length in bytes, or 0 when
/// the bytes there are not valid UTF-8 (truncated, overlong, surrogate, or
/// past U+10FFFF).
inline size_t decodeUtf8(std::string_view s, size_t i, uint32_t &cp) {
  unsigned char c = s[i];
  size_t len;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size())
    return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  static const uint32_t minForLen[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < minForLen[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

/// Returns the byte offset of the first invalid UTF-8 sequence, or npos.
inline size_t findInvalidUtf8(std::string_view s) {
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    size_t len = decodeUtf8(s, i, cp);
    if (!len)
      return i;
    i += len;
  }
  return std::string_view::npos;
}

} // namespace gptc

#endif // GPTC_SUPPORT_UTF8_H
