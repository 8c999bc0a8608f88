//===- KernelDesc.h - Serialized descriptions of generated kernels -*- C++
//-*-===//
//
// The compiler (which links MLIR) and the kernel generator (which links
// Halide; the two must not share a process, docs/TOOLCHAIN.md) talk through
// this small text format, one `key = value` per line after a header:
//
//   gptc-kernel 1
//   family = matmul
//   name = mm_qkv
//   k = 768
//   n = 2304
//   epilogue = bias
//
// The text is also the cache key's main ingredient, so it is canonical:
// keys sorted, no comments, no whitespace variation.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_KERNELDESC_H
#define GPTC_BACKENDS_KERNELDESC_H

#include <cstdint>
#include <map>
#include <string>

namespace gptc {

struct KernelDesc {
  std::string family; ///< matmul, ...
  std::string name;   ///< C symbol of the generated function.
  std::map<std::string, std::string> params;

  /// The canonical text form.
  std::string serialize() const;
  /// Parses the text form; throws RuntimeError naming the line on errors.
  static KernelDesc parse(const std::string &text, const std::string &file);

  int64_t intParam(const std::string &key, int64_t fallback) const;
  std::string param(const std::string &key, const std::string &fallback) const;
};

/// The generator's version: bump it whenever generated code can change, so
/// cached kernels are rebuilt.
constexpr const char *kKernelGenVersion = "5";

/// 64-bit FNV-1a of (description, target, generator version, Halide
/// version), as 16 hex digits: the file name of the cached kernel.
std::string kernelCacheKey(const KernelDesc &desc, const std::string &target,
                           const std::string &halideVersion);

} // namespace gptc

#endif // GPTC_BACKENDS_KERNELDESC_H
