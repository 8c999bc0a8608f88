//===- FusedKernel.h - The fused kernel family ------------------*- C++ -*-===//
//
// Any group that is not a matrix product: its body, serialized op by op by
// HostProgram.cpp, becomes one Halide pipeline. Description keys:
//   syms = B,T                 the int32 size arguments, in order
//   in.000 = f32 B,T,768       the buffer arguments, in order
//   op.000 = v0 = add a0 a1 : f32 B,T,768
//   out = v0
// Arguments: the inputs, the sizes, (seed_lo, seed_hi, step) when a dropout
// is active, then the output.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_FUSEDKERNEL_H
#define GPTC_BACKENDS_CPU_FUSEDKERNEL_H

#include "gptc/Backends/KernelDesc.h"

#include "Halide.h"

namespace gptc {

/// Writes `prefix.o` and `prefix.h` for `target`.
void compileFusedKernel(const KernelDesc &desc, const std::string &prefix,
                        const Halide::Target &target);

} // namespace gptc

#endif // GPTC_BACKENDS_CPU_FUSEDKERNEL_H
