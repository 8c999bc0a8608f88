//===- Sampling.h - Choosing the next token from logits ---------*- C++ -*-===//
//
// The book's generate (chapter 5): top-k first (logits below the k-th
// largest become -inf), then temperature (0 means greedy: the argmax), then
// a draw from the softmax. Top-p (nucleus) sampling, after temperature,
// keeps the smallest set of most likely tokens whose probability reaches p.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_SAMPLING_H
#define GPTC_RUNTIME_SAMPLING_H

#include <cstdint>
#include <random>

namespace gptc {

struct SamplingOptions {
  double temperature = 0; ///< 0: greedy.
  int64_t topK = 0;       ///< 0: no top-k.
  double topP = 1.0;      ///< 1: no nucleus cut.
};

/// The next token for `logits[vocab]`; draws from `rng` unless greedy.
uint32_t sampleToken(const float *logits, int64_t vocab,
                     const SamplingOptions &options, std::mt19937_64 &rng);

} // namespace gptc

#endif // GPTC_RUNTIME_SAMPLING_H
