//===- Philox.h - The counter-based RNG behind dropout ----------*- C++ -*-===//
//
// Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2,
// 3", SC'11): a bijection of a 128-bit counter under a 64-bit key, so any
// element's random number is computed directly from its coordinates. That
// lets the interpreter, the CPU kernels (fused or not) and the GPU draw
// bit-identical dropout masks. docs/RNG.md states the exact mapping.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_PHILOX_H
#define GPTC_RUNTIME_PHILOX_H

#include <array>
#include <cstdint>

// The CUDA kernels (backends/cuda) draw the same numbers on the device.
#ifdef __CUDACC__
#define GPTC_HOST_DEVICE __host__ __device__
#else
#define GPTC_HOST_DEVICE
#endif

namespace gptc {

/// Ten rounds of Philox4x32 on `ctr` under `key`.
GPTC_HOST_DEVICE inline std::array<uint32_t, 4>
philox4x32(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
  constexpr uint32_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57;
  constexpr uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
  for (int round = 0; round < 10; ++round) {
    if (round) {
      key[0] += kWeyl0;
      key[1] += kWeyl1;
    }
    uint64_t p0 = static_cast<uint64_t>(kMul0) * ctr[0];
    uint64_t p1 = static_cast<uint64_t>(kMul1) * ctr[2];
    ctr = {static_cast<uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0],
           static_cast<uint32_t>(p1),
           static_cast<uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1],
           static_cast<uint32_t>(p0)};
  }
  return ctr;
}

/// The uniform number in [0, 1) that dropout op `opId` draws for element
/// `index` at training step `step` under `seed` (docs/RNG.md).
GPTC_HOST_DEVICE inline double dropoutUniform(uint64_t seed, uint64_t step,
                                              uint32_t opId, uint64_t index) {
  uint64_t group = index >> 2;
  std::array<uint32_t, 4> r = philox4x32(
      {static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32), opId,
       static_cast<uint32_t>(step)},
      {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  // 24 bits: exactly representable in float, so fp32 backends agree.
  return static_cast<double>(r[index & 3] >> 8) * (1.0 / (1 << 24));
}

/// Whether dropout with probability `p` keeps that element.
GPTC_HOST_DEVICE inline bool dropoutKeeps(double p, uint64_t seed,
                                          uint64_t step, uint32_t opId,
                                          uint64_t index) {
  return dropoutUniform(seed, step, opId, index) >= p;
}

} // namespace gptc

#endif // GPTC_RUNTIME_PHILOX_H
