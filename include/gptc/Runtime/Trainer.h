//===- Trainer.h - The pretraining driver of built executables --*- C++ -*-===//
//
// The book's chapter 5 (with appendix D's schedule) around a compiled
// training step: text to GPT-2 tokens, the book's train/validation split
// and sliding windows, AdamW steps with warmup and cosine decay, periodic
// evaluation and greedy samples, a JSONL log and an SVG loss curve, and
// atomic checkpoints that resume bitwise-identically.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_TRAINER_H
#define GPTC_RUNTIME_TRAINER_H

#include "gptc/Runtime/Executor.h"

#include <string>

namespace gptc {

/// Run-time training settings: the training YAML's run-time keys, then
/// flags on top.
struct TrainerOptions {
  std::string data;      ///< Text file (UTF-8) to train on.
  std::string tokenizer; ///< gpt2.tiktoken or encoder.json.
  std::string outDir = "run";
  std::string checkpoint; ///< Default: OUT/checkpoint.safetensors.
  std::string resume;     ///< A checkpoint to continue from.
  std::string initFrom;   ///< Starting weights (safetensors) instead of init.
  /// --init-from: the tensors matching by name and shape; the other
  /// parameters from their initializers.
  std::string initMatching;
  bool evalOnly = false; ///< Loss and perplexity of the weights on `data`.
  double lr = 4e-4, initialLr = 0, minLr = 0, weightDecay = 0.1;
  double clipGradNorm = 1.0;
  int64_t warmupSteps = 0;
  int64_t batchSize = 2, contextLength = 256, stride = 256;
  int64_t epochs = 10, maxSteps = 0;
  double trainRatio = 0.9;
  int64_t evalInterval = 5, evalIters = 5;
  int64_t checkpointInterval = 0;
  int64_t sampleInterval = 0, sampleTokens = 50;
  std::string samplePrompt = "Every effort moves you";
  int64_t seed = 123;
  bool progress = true;  ///< Progress line on a terminal.
  int64_t stopAfter = 0; ///< Stop (checkpointing) after this step.
};

/// Trains (or with evalOnly evaluates) with the executor's plan, which must
/// have `train_step`, `loss` and `forward`. Returns the exit status; throws
/// RuntimeError for bad data, weights or checkpoints.
int runTrainer(Executor &exec, const TrainerOptions &options);

} // namespace gptc

#endif // GPTC_RUNTIME_TRAINER_H
