//===- CudaKernel.h - CUDA C++ kernels for --target=cuda --------*- C++ -*-===//
//
// Attention, its gradient and the KV-cache kernels for the CUDA target are
// CUDA C++ (Attention.cuh) instantiated per description and compiled with
// nvcc; the fused family goes through Halide's CUDA backend and matmuls
// call cuBLASLt. Description keys as for the CPU kernels (AttentionKernel.h).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_CUDAKERNEL_H
#define GPTC_BACKENDS_CUDA_CUDAKERNEL_H

#include "gptc/Backends/KernelDesc.h"

#include <string>

namespace gptc {

/// Whether `family` is one of the CUDA C++ kernel families.
bool isCudaKernelFamily(const std::string &family);

/// Writes `prefix.o` (SASS for sm_80 and sm_90 plus PTX), `prefix.ptx` and
/// `prefix.h`. Throws RuntimeError with nvcc's output on failure.
void compileCudaKernel(const KernelDesc &desc, const std::string &prefix);

/// Writes `prefix.o` and `prefix.h` for a matmul description: an entry
/// that calls gptc_cuda_matmul (cuBLASLt, runtime/cuda/CudaDevice.cpp)
/// with the description's transposes, epilogue and batching.
void compileCudaMatmulEntry(const KernelDesc &desc, const std::string &prefix);

} // namespace gptc

#endif // GPTC_BACKENDS_CUDA_CUDAKERNEL_H
