//===- Safetensors.h - Reading and writing .safetensors files ---*- C++ -*-===//
//
// The format (github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON mapping tensor names to
// {dtype, shape, data_offsets}, then the data. Weights, checkpoints and the
// run contract's inputs and outputs all use it. Every field of an untrusted
// file is checked (header size, JSON, dtypes, shapes, offsets in range, no
// overlaps, sizes matching shapes) and a violation is a RuntimeError naming
// the file and the tensor.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_SAFETENSORS_H
#define GPTC_RUNTIME_SAFETENSORS_H

#include "gptc/Support/Error.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gptc {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

/// Bytes per element.
size_t dtypeSize(DType t);
/// The safetensors spelling: "F32", "BF16", "BOOL", ...
const char *dtypeName(DType t);

/// `f` rounded to the nearest bf16 (ties to even; a NaN stays one), as a
/// float: what BF16 files store, and what bf16 matmuls multiply.
float roundToBf16(float f);
std::optional<DType> parseDType(std::string_view name);

/// A tensor as stored: dtype, shape and little-endian bytes.
struct TensorData {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numel() const;
  /// Every element converted to double (F16/BF16 exactly, ints by value).
  std::vector<double> toDoubles() const;
  /// Stores `values` as `dtype` (floats rounded to nearest even).
  static TensorData fromDoubles(DType dtype, std::vector<int64_t> shape,
                                const std::vector<double> &values);
  /// `F32[2, 3]`.
  std::string typeStr() const;
};

/// The contents of one .safetensors file.
struct SafetensorsFile {
  std::map<std::string, TensorData> tensors;
  std::map<std::string, std::string> metadata;

  const TensorData *find(const std::string &name) const;
};

/// Limits on untrusted headers.
constexpr uint64_t kMaxSafetensorsHeader = 100 << 20;
constexpr size_t kMaxTensorRank = 16;

/// Parses a whole file's bytes; `name` appears in error messages.
SafetensorsFile parseSafetensors(std::string_view bytes,
                                 const std::string &name);
SafetensorsFile readSafetensors(const std::string &path);
/// The `__metadata__` of the file at `path`, reading its header only.
std::map<std::string, std::string>
readSafetensorsMetadata(const std::string &path);

std::string serializeSafetensors(const SafetensorsFile &file);
void writeSafetensors(const std::string &path, const SafetensorsFile &file);

} // namespace gptc

#endif // GPTC_RUNTIME_SAFETENSORS_H
