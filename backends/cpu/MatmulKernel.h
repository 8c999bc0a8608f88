//===- MatmulKernel.h - The matmul kernel family ----------------*- C++ -*-===//
//
// out[m, n] = epilogue(sum_k a[m, k] * b[k, n] + bias[n]), fp32, row-major,
// M dynamic (B*T), K and N from the buffers. Description keys:
//   trans_a = true   a is stored [K, M]   (weight gradients: x^T dy)
//   trans_b = true   b is stored [N, K]   (x w^T: LM head, input gradients)
//   epilogue = none | bias | bias_gelu
//   batch = true     a, b and out carry a leading batch dim [Bt, ., .]
//                    (attention's per-head products); no epilogue
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_MATMULKERNEL_H
#define GPTC_BACKENDS_CPU_MATMULKERNEL_H

#include "gptc/Backends/KernelDesc.h"

#include "Halide.h"

namespace gptc {

class MatmulKernel {
public:
  explicit MatmulKernel(const KernelDesc &desc);

  /// Writes `prefix.o` and `prefix.h` for `target` (named `targetName`:
  /// host, cpu-avx2 or cpu-avx512).
  void compile(const std::string &prefix, const Halide::Target &target,
               const std::string &targetName);

private:
  KernelDesc desc;
  bool transA, transB, batched;
  std::string epilogue;
};

} // namespace gptc

#endif // GPTC_BACKENDS_CPU_MATMULKERNEL_H
