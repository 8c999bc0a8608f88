//===- MatmulKernel.h - The matmul kernel family ----------------*- C++ -*-===//
//
// out[m, n] = epilogue(sum_k a[m, k] * b[k, n] + bias[n]), fp32, row-major,
// M dynamic (B*T), K and N from the buffers. Description keys:
//   trans_a = true   a is stored [K, M]   (weight gradients: x^T dy)
//   trans_b = true   b is stored [N, K]   (x w^T: LM head, input gradients)
//   epilogue = none | bias | bias_gelu
//   batch = true     a, b and out carry a leading batch dim [Bt, ., .]
//                    (attention's per-head products); no epilogue
// The kernel is C++ (Gemm.h, and Gemv.h for a few rows) compiled for the
// target by the system compiler, on the Halide runtime's thread pool.
// Arguments (halide_buffer_t): a, b, (bias), out; besides NAME_argv the
// object defines NAME(a, b, [bias,] out) for callers holding buffers.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_MATMULKERNEL_H
#define GPTC_BACKENDS_CPU_MATMULKERNEL_H

#include "gptc/Backends/KernelDesc.h"

#include <string>

namespace gptc {

/// Writes `prefix.o` and `prefix.h` for `target` (host, cpu-avx2 or
/// cpu-avx512). Throws RuntimeError for a description it cannot build.
void compileMatmulKernel(const KernelDesc &desc, const std::string &prefix,
                         const std::string &target);

} // namespace gptc

#endif // GPTC_BACKENDS_CPU_MATMULKERNEL_H
