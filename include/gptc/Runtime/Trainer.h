//===- Trainer.h - The training driver of built executables -----*- C++ -*-===//
//
// The book's chapters 5 to 7 around a compiled training step: pretraining
// on text (the book's train/validation split and sliding windows),
// classification fine-tuning on labelled texts (accuracy per epoch,
// classifying texts from the command line) and instruction fine-tuning
// (Alpaca prompts, the book's collate, test-set responses); AdamW steps
// with warmup and cosine decay, periodic evaluation and greedy samples, a
// JSONL log and an SVG loss curve, and atomic checkpoints that resume
// bitwise-identically. Under mpirun it trains data-parallel (each rank a
// share of every global batch), and it sums micro-batches when a batch
// does not fit (docs/Training.md).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_TRAINER_H
#define GPTC_RUNTIME_TRAINER_H

#include "gptc/Runtime/Executor.h"

#include <string>
#include <vector>

namespace gptc {

/// Run-time training settings: the training YAML's run-time keys, then
/// flags on top.
struct TrainerOptions {
  /// Text (UTF-8) or a token shard; labelled texts (TSV/CSV) for a
  /// classifier; instruction records (.json).
  std::string data;
  std::string tokenizer; ///< gpt2.tiktoken or encoder.json.
  std::string outDir = "run";
  std::string checkpoint; ///< Default: OUT/checkpoint.safetensors.
  std::string resume;     ///< A checkpoint to continue from.
  std::string initFrom;   ///< Starting weights (safetensors) instead of init.
  /// --init-from: the tensors matching by name and shape; the other
  /// parameters from their initializers.
  std::string initMatching;
  bool evalOnly = false; ///< Loss and perplexity of the weights on `data`.
  /// How --eval's matmuls hold the weights (packed once, as a generator's).
  WeightFormat weightFormat = WeightFormat::F32;
  double lr = 4e-4, initialLr = 0, minLr = 0, weightDecay = 0.1;
  double clipGradNorm = 1.0;
  int64_t warmupSteps = 0;
  /// The global batch (over every rank and micro-batch) and the rows of
  /// one forward and backward on a rank (0: the rank's whole share).
  int64_t batchSize = 2, microBatchSize = 0;
  int64_t contextLength = 256, stride = 256;
  int64_t epochs = 10, maxSteps = 0;
  double trainRatio = 0.9;
  int64_t evalInterval = 5, evalIters = 5;
  int64_t checkpointInterval = 0;
  int64_t sampleInterval = 0, sampleTokens = 50;
  /// Empty: "Every effort moves you", or for instruction data the first
  /// validation record's prompt (as the book).
  std::string samplePrompt;
  int64_t seed = 123;
  std::vector<double> split; ///< Empty: the book's for the data's kind.
  bool balance = false;
  std::vector<std::string> classes;
  bool maskInstruction = false;
  int64_t responseTokens = 256;
  /// Texts to classify with the weights (a classifier's --classify).
  std::vector<std::string> classifyTexts;
  bool progress = true;  ///< Progress line on a terminal.
  int64_t stopAfter = 0; ///< Stop (checkpointing) after this step.
};

/// Trains (or with evalOnly evaluates) with the executor's plan, which must
/// have `train_step`, `loss` and `forward`. Returns the exit status; throws
/// RuntimeError for bad data, weights or checkpoints.
int runTrainer(Executor &exec, const TrainerOptions &options);

} // namespace gptc

#endif // GPTC_RUNTIME_TRAINER_H
