//===- CxxKernel.h - Kernels written in C++ ---------------------*- C++ -*-===//
//
// Some kernels are C++ templates rather than Halide pipelines (flash
// attention, the KV-cache kernels, the few-row matmul): gptc-kernelgen
// writes a translation unit that instantiates them for one description
// and compiles it with the system compiler for the target's ISA. They run
// on the Halide runtime's thread pool and report errors through
// halide_error, like the Halide kernels, so the executor treats every
// kernel alike.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_CXXKERNEL_H
#define GPTC_BACKENDS_CPU_CXXKERNEL_H

#include <string>
#include <vector>

namespace gptc {

/// The start of every C++ kernel's translation unit: Halide's runtime
/// header and helpers (parallelFor on its thread pool; data, ids and
/// extent of a halide_buffer_t; scalar of an int32 argument).
std::string cxxKernelPrelude();

/// Writes `prefix.h`, declaring the kernel's `NAME_argv` entry and then
/// `declarations`. Throws RuntimeError when it cannot.
void writeKernelHeader(const std::string &name, const std::string &prefix,
                       const std::string &declarations = "");

/// `v` as a C++ float literal that reads back as the same float.
std::string cxxFloatLiteral(double v);

/// Compiles `source`, which defines `extern "C" int NAME_argv(void **)`,
/// for `target` (host, cpu-avx2 or cpu-avx512) at -O3 into `prefix.o`
/// (relocatably linked with `linkObjects`), and writes `prefix.h` declaring
/// the entry and `declarations`. `features` are ISA extensions past the
/// target's that the kernel needs (GCC's names: avx512bf16). Throws
/// RuntimeError with the compiler's output on failure.
void compileCxxKernel(const std::string &name, const std::string &source,
                      const std::string &prefix, const std::string &target,
                      const std::vector<std::string> &linkObjects = {},
                      const std::string &declarations = "",
                      const std::vector<std::string> &features = {});

} // namespace gptc

#endif // GPTC_BACKENDS_CPU_CXXKERNEL_H
