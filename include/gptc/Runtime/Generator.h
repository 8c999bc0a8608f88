//===- Generator.h - Text generation in built executables -------*- C++ -*-===//
//
// `gptc build --task=generate` executables continue prompts with the book's
// generate loop (the last context_length tokens condition each new token,
// top-k before temperature), streaming text as it is produced. They use the
// functions `--gpt-kv-cache` derived: @prefill reads the prompts, @decode
// feeds one token per sequence against the KV cache. Prompts of different
// lengths share a batch without padding: each sequence has its own
// positions, so the cache slots past a sequence's position are masked for
// it, and the longer prompts' extra tokens go through decode steps. Once a
// sequence fills the context, every window restarts from its last 3/4 of
// the context (a new prefill). Executables without those functions (train
// executables) recompute the window for every token with @forward.
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

/// Appends up to `count` tokens to `ids`, running `forward` on `state`
/// (which holds the parameters) over the last `context` tokens; calls
/// `emit` with each new token. Stops after emitting one of `stops` (the
/// end-of-sequence ids; empty: never).
void generateTokens(Executor &exec, SafetensorsFile &state,
                    std::vector<uint32_t> &ids, int64_t count, int64_t context,
                    const SamplingOptions &sampling, std::mt19937_64 &rng,
                    const std::vector<uint32_t> &stops,
                    const std::function<void(uint32_t)> &emit);

/// The ids generation stops at: the tokenizer's end of text, and when
/// `weights` is a Hugging Face folder, its config.json's `eos_token_id`
/// (a number or a list).
std::vector<uint32_t> stopIds(uint32_t endOfText, const std::string &weights);

struct GeneratorOptions {
  std::string weights;                          ///< Required.
  std::vector<std::string> prompts;             ///< Text prompts, or
  std::vector<std::vector<uint32_t>> promptIds; ///< token-id prompts.
  int64_t maxNewTokens = 50;
  SamplingOptions sampling;
  uint64_t seed = 0;
  bool stopAtEos = true;
  bool printIds = false; ///< Also print each prompt's generated ids.
  bool kvCache = true;   ///< Use @prefill/@decode when the plan has them.
  /// How the matmuls hold the weights (Executor::packConstantParameters).
  WeightFormat weightFormat = WeightFormat::F32;
  /// Writes `logits.I` [new tokens, V]: what each token was sampled from.
  std::string logitsOut;
  std::string tokenizer;
};

/// Generates a continuation of every prompt, as one batch when cached: text
/// to stdout (streamed for one prompt), speeds to stderr. Returns the exit
/// status.
int runGenerator(Executor &exec, const GeneratorOptions &options);

} // namespace gptc

#endif // GPTC_RUNTIME_GENERATOR_H
