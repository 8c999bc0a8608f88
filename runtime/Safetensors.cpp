//===- Safetensors.cpp - Reading and writing .safetensors files -----------===//
//
// The header is read by a small strict JSON reader of our own: it accepts
// exactly the JSON subset safetensors writes (objects, arrays, UTF-8
// strings, integers) with depth and size limits, and rejects duplicate
// keys, so a hostile header cannot make the reader misbehave. It is
// written with nlohmann-json.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Safetensors.h"
#include "gptc/Support/AtomicFile.h"
#include "gptc/Support/Json.h"
#include "gptc/Support/Utf8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gptc {

size_t dtypeSize(DType t) {
  switch (t) {
  case DType::F64:
  case DType::I64:
    return 8;
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F16:
  case DType::BF16:
  case DType::I16:
    return 2;
  case DType::I8:
  case DType::U8:
  case DType::Bool:
    return 1;
  }
  return 1;
}

const char *dtypeName(DType t) {
  switch (t) {
  case DType::F64:
    return "F64";
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  case DType::I64:
    return "I64";
  case DType::I32:
    return "I32";
  case DType::I16:
    return "I16";
  case DType::I8:
    return "I8";
  case DType::U8:
    return "U8";
  case DType::Bool:
    return "BOOL";
  }
  return "?";
}

std::optional<DType> parseDType(std::string_view n) {
  for (DType t : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                  DType::I32, DType::I16, DType::I8, DType::U8, DType::Bool})
    if (n == dtypeName(t))
      return t;
  return std::nullopt;
}

int64_t TensorData::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string TensorData::typeStr() const {
  std::string s = std::string(dtypeName(dtype)) + "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

//===----------------------------------------------------------------------===//
// Element conversion
//===----------------------------------------------------------------------===//

static float halfToFloat(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0)
    v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31)
    v = mant ? std::numeric_limits<float>::quiet_NaN()
             : std::numeric_limits<float>::infinity();
  else
    v = std::ldexp(static_cast<float>(mant | 0x400),
                   static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

static uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint16_t sign = (x >> 16) & 0x8000;
  if (std::isnan(f))
    return sign | 0x7e00;
  float a = std::fabs(f);
  if (a >= 65520.0f) // rounds to infinity
    return sign | 0x7c00;
  if (a < std::ldexp(1.0f, -14)) {
    // Subnormal: a multiple of 2^-24, rounded to nearest even.
    float m = std::nearbyint(std::ldexp(a, 24));
    return sign | static_cast<uint16_t>(m);
  }
  int e;
  float frac = std::frexp(a, &e); // a = frac * 2^e, frac in [0.5, 1)
  float m = std::nearbyint(std::ldexp(frac, 11)); // 11 significant bits
  if (m >= 2048.0f) {
    m /= 2;
    ++e;
  }
  return sign | static_cast<uint16_t>(((e + 14) << 10) |
                                      (static_cast<uint32_t>(m) & 0x3ff));
}

static float bf16ToFloat(uint16_t b) {
  uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

static uint16_t floatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if (std::isnan(f))
    return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1); // round to nearest even
  return static_cast<uint16_t>(x >> 16);
}

float roundToBf16(float f) { return bf16ToFloat(floatToBf16(f)); }

template <typename T> static T load(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T> static void store(uint8_t *p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

std::vector<double> TensorData::toDoubles() const {
  size_t n = static_cast<size_t>(numel()), w = dtypeSize(dtype);
  std::vector<double> out(n);
  const uint8_t *p = bytes.data();
  for (size_t i = 0; i < n; ++i, p += w) {
    switch (dtype) {
    case DType::F64:
      out[i] = load<double>(p);
      break;
    case DType::F32:
      out[i] = load<float>(p);
      break;
    case DType::F16:
      out[i] = halfToFloat(load<uint16_t>(p));
      break;
    case DType::BF16:
      out[i] = bf16ToFloat(load<uint16_t>(p));
      break;
    case DType::I64:
      out[i] = static_cast<double>(load<int64_t>(p));
      break;
    case DType::I32:
      out[i] = load<int32_t>(p);
      break;
    case DType::I16:
      out[i] = load<int16_t>(p);
      break;
    case DType::I8:
      out[i] = load<int8_t>(p);
      break;
    case DType::U8:
    case DType::Bool:
      out[i] = *p;
      break;
    }
  }
  return out;
}

TensorData TensorData::fromDoubles(DType dtype, std::vector<int64_t> shape,
                                   const std::vector<double> &values) {
  TensorData t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  size_t w = dtypeSize(dtype);
  t.bytes.resize(values.size() * w);
  uint8_t *p = t.bytes.data();
  for (double v : values) {
    switch (dtype) {
    case DType::F64:
      store<double>(p, v);
      break;
    case DType::F32:
      store<float>(p, static_cast<float>(v));
      break;
    case DType::F16:
      store<uint16_t>(p, floatToHalf(static_cast<float>(v)));
      break;
    case DType::BF16:
      store<uint16_t>(p, floatToBf16(static_cast<float>(v)));
      break;
    case DType::I64:
      store<int64_t>(p, static_cast<int64_t>(v));
      break;
    case DType::I32:
      store<int32_t>(p, static_cast<int32_t>(v));
      break;
    case DType::I16:
      store<int16_t>(p, static_cast<int16_t>(v));
      break;
    case DType::I8:
      store<int8_t>(p, static_cast<int8_t>(v));
      break;
    case DType::U8:
    case DType::Bool:
      *p = static_cast<uint8_t>(v);
      break;
    }
    p += w;
  }
  return t;
}

const TensorData *SafetensorsFile::find(const std::string &name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

//===----------------------------------------------------------------------===//
// The header's JSON
//===----------------------------------------------------------------------===//

namespace {

struct HeaderValue {
  enum class Kind { Object, Array, String, Int } kind = Kind::Int;
  std::vector<std::string> keys;     ///< Object keys, in order ...
  std::vector<HeaderValue> elements; ///< ... and their values; or array items.
  std::string str;
  int64_t integer = 0;
};

class HeaderParser {
public:
  HeaderParser(std::string_view text, const std::string &file)
      : s(text), file(file) {}

  HeaderValue parseDocument() {
    HeaderValue v = value(0);
    skipSpace();
    if (pos != s.size())
      fail("unexpected text after the JSON header");
    return v;
  }

private:
  [[noreturn]] void fail(const std::string &what) {
    throw RuntimeError(file + ": invalid safetensors header: " + what +
                       " (at header byte " + std::to_string(pos) + ")");
  }
  void skipSpace() {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\n' ||
                              s[pos] == '\r' || s[pos] == '\t'))
      ++pos;
  }
  bool eat(char c) {
    skipSpace();
    if (pos < s.size() && s[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }

  HeaderValue value(int depth) {
    if (depth > 8)
      fail("nested too deeply");
    skipSpace();
    if (pos >= s.size())
      fail("unexpected end of the header");
    char c = s[pos];
    if (c == '{')
      return object(depth);
    if (c == '[')
      return array(depth);
    if (c == '"') {
      HeaderValue j;
      j.kind = HeaderValue::Kind::String;
      j.str = string();
      return j;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
      return number();
    fail(std::string("unexpected character '") + c + "'");
  }

  HeaderValue object(int depth) {
    HeaderValue j;
    j.kind = HeaderValue::Kind::Object;
    ++pos;
    if (eat('}'))
      return j;
    do {
      skipSpace();
      if (pos >= s.size() || s[pos] != '"')
        fail("expected a quoted key");
      std::string key = string();
      if (std::find(j.keys.begin(), j.keys.end(), key) != j.keys.end())
        fail("duplicate key \"" + key + "\"");
      if (!eat(':'))
        fail("expected ':' after a key");
      j.keys.push_back(std::move(key));
      j.elements.push_back(value(depth + 1));
    } while (eat(','));
    if (!eat('}'))
      fail("expected ',' or '}' in an object");
    return j;
  }

  HeaderValue array(int depth) {
    HeaderValue j;
    j.kind = HeaderValue::Kind::Array;
    ++pos;
    if (eat(']'))
      return j;
    do {
      if (j.elements.size() > 64)
        fail("array too long");
      j.elements.push_back(value(depth + 1));
    } while (eat(','));
    if (!eat(']'))
      fail("expected ',' or ']' in an array");
    return j;
  }

  std::string string() {
    ++pos; // opening quote
    std::string out;
    while (true) {
      if (pos >= s.size())
        fail("unterminated string");
      char c = s[pos++];
      if (c == '"') {
        // JSON is UTF-8 (the reference reader refuses anything else), and
        // names are written back as read.
        if (findInvalidUtf8(out) != std::string::npos)
          fail("a string that is not UTF-8");
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20)
        fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos >= s.size())
        fail("unterminated escape");
      char e = s[pos++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        if (pos + 4 > s.size())
          fail("short \\u escape");
        unsigned cp = 0;
        for (int i = 0; i < 4; ++i) {
          char h = s[pos++];
          cp <<= 4;
          if (h >= '0' && h <= '9')
            cp |= h - '0';
          else if (h >= 'a' && h <= 'f')
            cp |= h - 'a' + 10;
          else if (h >= 'A' && h <= 'F')
            cp |= h - 'A' + 10;
          else
            fail("bad \\u escape");
        }
        if (cp >= 0xD800 && cp <= 0xDFFF)
          fail("a \\u escape of a UTF-16 surrogate (not supported)");
        // Names in practice are ASCII; encode BMP code points as UTF-8.
        if (cp < 0x80) {
          out += static_cast<char>(cp);
        } else if (cp < 0x800) {
          out += static_cast<char>(0xC0 | (cp >> 6));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
          out += static_cast<char>(0xE0 | (cp >> 12));
          out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        }
        break;
      }
      default:
        fail(std::string("unknown escape '\\") + e + "'");
      }
    }
  }

  HeaderValue number() {
    size_t start = pos;
    if (s[pos] == '-')
      ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
      ++pos;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == 'e' || s[pos] == 'E'))
      fail("expected an integer");
    std::string digits(s.substr(start, pos - start));
    if (digits.empty() || digits == "-")
      fail("expected a number");
    HeaderValue j;
    j.kind = HeaderValue::Kind::Int;
    errno = 0;
    j.integer = std::strtoll(digits.c_str(), nullptr, 10);
    if (errno == ERANGE)
      fail("integer out of range");
    return j;
  }

  std::string_view s;
  const std::string &file;
  size_t pos = 0;
};

} // namespace

//===----------------------------------------------------------------------===//
// Reading and writing
//===----------------------------------------------------------------------===//

/// The `__metadata__` object `v` of file `name`: strings only.
static std::map<std::string, std::string> metadataOf(const HeaderValue &v,
                                                     const std::string &name) {
  if (v.kind != HeaderValue::Kind::Object)
    throw RuntimeError(name + ": __metadata__ must be an object of strings");
  std::map<std::string, std::string> out;
  for (size_t k = 0; k < v.keys.size(); ++k) {
    if (v.elements[k].kind != HeaderValue::Kind::String)
      throw RuntimeError(name + ": __metadata__ value of '" + v.keys[k] +
                         "' must be a string");
    out[v.keys[k]] = v.elements[k].str;
  }
  return out;
}

SafetensorsFile parseSafetensors(std::string_view bytes,
                                 const std::string &name) {
  auto fail = [&](const std::string &what) -> RuntimeError {
    return RuntimeError(name + ": " + what);
  };
  if (bytes.size() < 8)
    throw fail("not a safetensors file: " + std::to_string(bytes.size()) +
               " bytes, shorter than the 8-byte header length");
  uint64_t n = load<uint64_t>(reinterpret_cast<const uint8_t *>(bytes.data()));
  if (n > kMaxSafetensorsHeader)
    throw fail("header length " + std::to_string(n) + " exceeds the " +
               std::to_string(kMaxSafetensorsHeader) + "-byte limit");
  if (n > bytes.size() - 8)
    throw fail("truncated: the header needs " + std::to_string(n) +
               " bytes but the file has " + std::to_string(bytes.size() - 8) +
               " after the length");
  HeaderValue root = HeaderParser(bytes.substr(8, n), name).parseDocument();
  if (root.kind != HeaderValue::Kind::Object)
    throw fail("invalid safetensors header: expected a JSON object");
  std::string_view data = bytes.substr(8 + n);

  SafetensorsFile out;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (size_t m = 0; m < root.keys.size(); ++m) {
    const std::string key = root.keys[m];
    const HeaderValue &v = root.elements[m];
    if (key == "__metadata__") {
      out.metadata = metadataOf(v, name);
      continue;
    }
    auto bad = [&](const std::string &what) {
      return fail("tensor '" + key + "': " + what);
    };
    if (v.kind != HeaderValue::Kind::Object)
      throw bad("expected an object with dtype, shape and data_offsets");
    const HeaderValue *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
    for (size_t k = 0; k < v.keys.size(); ++k) {
      const std::string &fk = v.keys[k];
      if (fk == "dtype")
        dtype = &v.elements[k];
      else if (fk == "shape")
        shape = &v.elements[k];
      else if (fk == "data_offsets")
        offsets = &v.elements[k];
      else
        throw bad("unknown field '" + fk + "'");
    }
    if (!dtype || dtype->kind != HeaderValue::Kind::String)
      throw bad("missing or non-string 'dtype'");
    auto dt = parseDType(dtype->str);
    if (!dt)
      throw bad("unsupported dtype '" + dtype->str +
                "'; expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or "
                "BOOL");
    if (!shape || shape->kind != HeaderValue::Kind::Array)
      throw bad("missing or non-array 'shape'");
    if (shape->elements.size() > kMaxTensorRank)
      throw bad("rank " + std::to_string(shape->elements.size()) +
                " exceeds the limit of " + std::to_string(kMaxTensorRank));
    TensorData t;
    t.dtype = *dt;
    uint64_t numel = 1;
    for (auto &d : shape->elements) {
      if (d.kind != HeaderValue::Kind::Int || d.integer < 0)
        throw bad("shape entries must be non-negative integers");
      t.shape.push_back(d.integer);
      if (__builtin_mul_overflow(numel, static_cast<uint64_t>(d.integer),
                                 &numel))
        throw bad("shape overflows");
    }
    if (!offsets || offsets->kind != HeaderValue::Kind::Array ||
        offsets->elements.size() != 2 ||
        offsets->elements[0].kind != HeaderValue::Kind::Int ||
        offsets->elements[1].kind != HeaderValue::Kind::Int)
      throw bad("'data_offsets' must be [begin, end]");
    int64_t b = offsets->elements[0].integer, e = offsets->elements[1].integer;
    if (b < 0 || e < b || static_cast<uint64_t>(e) > data.size())
      throw bad(
          "data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
          "] are outside the " + std::to_string(data.size()) +
          "-byte data section" +
          (static_cast<uint64_t>(e) > data.size() ? " (truncated file?)" : ""));
    uint64_t want;
    if (__builtin_mul_overflow(numel, dtypeSize(*dt), &want) ||
        want != static_cast<uint64_t>(e - b))
      throw bad("has " + std::to_string(e - b) + " bytes but " + t.typeStr() +
                " needs " + std::to_string(want));
    t.bytes.assign(data.begin() + b, data.begin() + e);
    // An empty tensor occupies no bytes, wherever its offsets point.
    if (e > b)
      spans.push_back(
          {static_cast<uint64_t>(b), static_cast<uint64_t>(e), key});
    out.tensors.emplace(key, std::move(t));
  }
  // The tensors tile the data section exactly, as the format requires: no
  // overlap, and no bytes that belong to no tensor.
  std::sort(spans.begin(), spans.end(),
            [](const Span &a, const Span &b) { return a.begin < b.begin; });
  uint64_t covered = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (i > 0 && spans[i].begin < spans[i - 1].end)
      throw fail("tensors '" + spans[i - 1].name + "' and '" + spans[i].name +
                 "' overlap in the data section");
    if (spans[i].begin > covered)
      throw fail("bytes " + std::to_string(covered) + " to " +
                 std::to_string(spans[i].begin) +
                 " of the data section belong to no tensor");
    covered = spans[i].end;
  }
  if (covered < data.size())
    throw fail("bytes " + std::to_string(covered) + " to " +
               std::to_string(data.size()) +
               " of the data section belong to no tensor");
  return out;
}

/// A safetensors file that cannot be mapped (a pipe, `<(cat x)`), read
/// exactly as far as its header says: 8 bytes of length, the header, then
/// the data up to the largest end offset it declares.
/// The most tensor bytes read from a stream (a file can be mapped instead).
static constexpr uint64_t kMaxStreamedBytes = 64ull << 30;

static std::string readStream(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw RuntimeError("cannot open '" + path + "': " + std::strerror(errno));
  std::string bytes(8, '\0');
  if (!in.read(bytes.data(), 8))
    return bytes.substr(0, static_cast<size_t>(in.gcount()));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n == 0 || n > kMaxSafetensorsHeader)
    return bytes; // the parser names the problem
  bytes.resize(8 + n);
  if (!in.read(bytes.data() + 8, static_cast<std::streamsize>(n)))
    return bytes.substr(0, 8 + static_cast<size_t>(in.gcount()));
  // The data section ends at the largest declared end offset.
  uint64_t end = 0;
  std::string header = bytes.substr(8);
  for (size_t p = header.find("\"data_offsets\""); p != std::string::npos;
       p = header.find("\"data_offsets\"", p + 1)) {
    size_t comma = header.find(',', p);
    if (comma != std::string::npos)
      end = std::max<uint64_t>(
          end, std::strtoull(header.c_str() + comma + 1, nullptr, 10));
  }
  if (end > kMaxStreamedBytes)
    throw RuntimeError(path + ": declares " + std::to_string(end) +
                       " bytes of tensors, more than gptc reads from a "
                       "stream; save it to a file first");
  bytes.resize(8 + n + end);
  in.read(bytes.data() + 8 + n, static_cast<std::streamsize>(end));
  bytes.resize(8 + n + static_cast<size_t>(in.gcount()));
  return bytes;
}

SafetensorsFile readSafetensors(const std::string &path) {
  // Mapped rather than read into a buffer: weights and training states are
  // gigabytes, and only the parsed tensors need to stay in memory.
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0)
    throw RuntimeError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    throw RuntimeError("'" + path + "' is a folder; give a .safetensors file");
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
    // A pipe, a device or an empty file: read as a stream, bounded by the
    // sizes its header declares (so /dev/zero fails at once).
    close(fd);
    return parseSafetensors(readStream(path), path);
  }
  size_t size = static_cast<size_t>(st.st_size);
  void *p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED)
    throw RuntimeError("cannot map '" + path + "': " + std::strerror(errno));
  madvise(p, size, MADV_SEQUENTIAL);
  try {
    SafetensorsFile f =
        parseSafetensors({static_cast<const char *>(p), size}, path);
    munmap(p, size);
    return f;
  } catch (...) {
    munmap(p, size);
    throw;
  }
}

std::map<std::string, std::string>
readSafetensorsMetadata(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw RuntimeError("cannot open '" + path + "': " + std::strerror(errno));
  uint64_t n = 0;
  if (!in.read(reinterpret_cast<char *>(&n), 8))
    throw RuntimeError(path + ": not a safetensors file");
  if (n > kMaxSafetensorsHeader)
    throw RuntimeError(path + ": header length " + std::to_string(n) +
                       " exceeds the " + std::to_string(kMaxSafetensorsHeader) +
                       "-byte limit");
  std::string header(n, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(n)))
    throw RuntimeError(path + ": truncated header");
  HeaderValue root = HeaderParser(header, path).parseDocument();
  if (root.kind != HeaderValue::Kind::Object)
    throw RuntimeError(path +
                       ": invalid safetensors header: expected a JSON object");
  for (size_t m = 0; m < root.keys.size(); ++m)
    if (root.keys[m] == "__metadata__")
      return metadataOf(root.elements[m], path);
  return {};
}

/// The 8-byte header length and the JSON header of `file`.
static std::string headerOf(const SafetensorsFile &file) {
  OrderedJson root = OrderedJson::object();
  if (!file.metadata.empty())
    root["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  for (auto &[name, t] : file.tensors) {
    root[name] = {{"dtype", dtypeName(t.dtype)},
                  {"shape", t.shape},
                  {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  // Names and metadata made here (a producer's path) may not be UTF-8;
  // what was read is, and round-trips unchanged.
  std::string header =
      root.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
  // Pad so the data section starts 8-byte aligned, as the reference writer.
  while ((8 + header.size()) % 8)
    header += ' ';
  std::string out(8, '\0');
  store<uint64_t>(reinterpret_cast<uint8_t *>(out.data()), header.size());
  return out + header;
}

std::string serializeSafetensors(const SafetensorsFile &file) {
  std::string out = headerOf(file);
  for (auto &[name, t] : file.tensors)
    out.append(reinterpret_cast<const char *>(t.bytes.data()), t.bytes.size());
  return out;
}

void writeSafetensors(const std::string &path, const SafetensorsFile &file) {
  // Streamed tensor by tensor: no second copy of gigabytes of weights. A
  // kill or a full disk leaves the previous file, never a truncated one.
  AtomicFile out(path);
  out.write(headerOf(file));
  for (auto &[name, t] : file.tensors)
    out.write(t.bytes.data(), t.bytes.size());
  out.commit();
}

} // namespace gptc
