//===- Generator.h - Text generation in built executables -------*- C++ -*-===//
//
// `gptc build --task=generate` executables continue prompts with the model's
// forward function: the book's generate loop (the last context_length
// tokens in, the last position's logits out, one token sampled per step),
// streaming text as it is produced. Each step still runs the whole window;
// the KV-cached decode step derived by the compiler is to come.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_GENERATOR_H
#define GPTC_RUNTIME_GENERATOR_H

#include "gptc/Runtime/Executor.h"
#include "gptc/Runtime/Sampling.h"

#include <functional>
#include <random>
#include <string>
#include <vector>

namespace gptc {

/// GPT-2's `<|endoftext|>`.
constexpr uint32_t kEndOfText = 50256;

/// Appends up to `count` tokens to `ids`, running `forward` on `state`
/// (which holds the parameters) over the last `context` tokens; calls
/// `emit` with each new token. With `stopAtEos`, stops after emitting
/// `<|endoftext|>`.
void generateTokens(Executor &exec, SafetensorsFile &state,
                    std::vector<uint32_t> &ids, int64_t count, int64_t context,
                    const SamplingOptions &sampling, std::mt19937_64 &rng,
                    bool stopAtEos, const std::function<void(uint32_t)> &emit);

struct GeneratorOptions {
  std::string weights;                          ///< Required.
  std::vector<std::string> prompts;             ///< Text prompts, or
  std::vector<std::vector<uint32_t>> promptIds; ///< token-id prompts.
  int64_t maxNewTokens = 50;
  SamplingOptions sampling;
  uint64_t seed = 0;
  bool stopAtEos = true;
  bool printIds = false; ///< Also print each prompt's generated ids.
  std::string tokenizer;
};

/// Generates a continuation of every prompt in turn: text to stdout as it
/// is produced, speeds to stderr. Returns the exit status.
int runGenerator(Executor &exec, const GeneratorOptions &options);

} // namespace gptc

#endif // GPTC_RUNTIME_GENERATOR_H
