//===- CpuFeatures.h - The x86 vector ISA a machine has and a build needs -===//
//
// Kernels for --target=cpu use every vector extension of the machine that
// built them; run elsewhere they would die with SIGILL. The compiler records
// the features a build needs in the plan, and the executable compares them
// with the CPU it starts on. Names are GCC's (-mavx512f -> avx512f).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_SUPPORT_CPUFEATURES_H
#define GPTC_SUPPORT_CPUFEATURES_H

#include <string>
#include <vector>

namespace gptc {

/// The vector-ISA features of this CPU that the OS also enables (cpuid, and
/// xgetbv for the AVX, AVX-512 and AMX register state): a subset of sse4.1,
/// avx, f16c, fma, avx2, avx512f, avx512dq, avx512cd, avx512bw, avx512vl,
/// avx512vnni, avx512bf16, avx512fp16, amx-tile, amx-int8, amx-bf16.
std::vector<std::string> hostCpuFeatures();

/// The features kernels for `target` need: the build machine's for host and
/// cpu, AVX2 (Haswell) for cpu-avx2 and cuda's host code, AVX-512 (Skylake)
/// for cpu-avx512. Throws RuntimeError for another target.
std::vector<std::string> targetCpuFeatures(const std::string &target);

/// The features of `required` that `available` lacks, in order.
std::vector<std::string>
missingCpuFeatures(const std::vector<std::string> &required,
                   const std::vector<std::string> &available);

} // namespace gptc

#endif // GPTC_SUPPORT_CPUFEATURES_H
