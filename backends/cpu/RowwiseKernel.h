//===- RowwiseKernel.h - Row-wise kernel families ---------------*- C++ -*-===//
//
// Kernels that reduce along the last dim of a row-major [R, C] tensor and
// write a row of the same size, one row per task:
//   layer_norm  y = (x - mean) / sqrt(var + eps) * w + b   (keys: eps)
//   softmax     y = softmax(scale * x), optionally with the causal mask of
//               square attention rows (keys: scale, causal = true|false;
//               row r is query r mod C and sees keys 0..r mod C)
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_ROWWISEKERNEL_H
#define GPTC_BACKENDS_CPU_ROWWISEKERNEL_H

#include "gptc/Backends/KernelDesc.h"

#include "Halide.h"

namespace gptc {

/// Writes `prefix.o` and `prefix.h` for a layer_norm or softmax kernel.
void compileRowwiseKernel(const KernelDesc &desc, const std::string &prefix,
                          const Halide::Target &target);

} // namespace gptc

#endif // GPTC_BACKENDS_CPU_ROWWISEKERNEL_H
