//===- AttentionKernel.h - The flash-attention kernel families --*- C++ -*-===//
//
// `attention` and `attention_grad` kernels are C++ (FlashAttention.h)
// instantiated for one head dim and compiled for the target by the system
// compiler; they use the Halide runtime's thread pool, so the executable
// has one pool and --threads governs both. Description keys:
//   causal = true   head_dim = 64   scale = 0.125   p = 0.1
// Arguments (halide_buffer_t, as the executor passes them):
//   attention:      q, k, v [B*H, T|S, D], (seed_lo, seed_hi, step, id)
//                   when p > 0, then out [B*H, T, D] and lse [B*H, T];
//   attention_grad: dout, q, k, v, out, lse, (seed...), then dq, dk, dv.
// The dropout's id is an argument, so the layers share one kernel.
// The decode step's KV-cache kernels (CachedAttention.h) come the same way;
// keys heads = 12, head_dim = 64 (and scale, or positions = true):
//   cache_write:      new [B*H, T, D], (positions [B, T]), cache [B*H, S, D]
//                     (the output, written in place);
//   cached_attention: q [B*H, T, D], k and v caches, positions, out.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_ATTENTIONKERNEL_H
#define GPTC_BACKENDS_CPU_ATTENTIONKERNEL_H

#include "gptc/Backends/KernelDesc.h"

#include <string>

namespace gptc {

/// Writes `prefix.o` and `prefix.h` for `target` (host, cpu-avx2 or
/// cpu-avx512). Throws RuntimeError with the compiler's output on failure.
void compileAttentionKernel(const KernelDesc &desc, const std::string &prefix,
                            const std::string &target);

} // namespace gptc

#endif // GPTC_BACKENDS_CPU_ATTENTIONKERNEL_H
