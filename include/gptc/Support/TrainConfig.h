//===- TrainConfig.h - Training configs (models/train/*.yaml) ---*- C++ -*-===//
//
// A training config holds compile-time keys, which shape the training step
// the compiler builds (which parameters train and decay, AdamW's betas and
// eps, whether gradients are clipped), and run-time keys, which the trainer
// feeds in every step (learning-rate schedule, weight decay, clip norm,
// batches, intervals). Unknown keys, wrong types and bad values are errors
// pointing at the YAML line, as for model configs.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_SUPPORT_TRAINCONFIG_H
#define GPTC_SUPPORT_TRAINCONFIG_H

#include "gptc/Support/Config.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gptc {

struct TrainConfig {
  // Compile time.
  std::vector<std::string> trainable{"*"}; ///< Parameter patterns to train.
  std::vector<std::string> decay{"*"};     ///< Weight-decayed (the book: all).
  Location trainableLoc, decayLoc;         ///< Where they were given, if so.
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double clipGradNorm = 1.0; ///< Also run time; 0 builds no clipping.
  /// The matmuls' operands: f32, or bf16 (mixed precision: operands rounded
  /// to bf16, sums, weights, moments and the loss in fp32).
  std::string precision = "f32";
  Location precisionLoc;

  // Run time (the book's chapter 5 and appendix D defaults).
  double lr = 4e-4;     ///< Peak learning rate.
  double initialLr = 0; ///< Warmup start; 0 means lr (no warmup ramp).
  double minLr = 0;     ///< Cosine decay floor.
  int64_t warmupSteps = 0;
  double weightDecay = 0.1;
  int64_t batchSize = 2; ///< The global batch: over every rank and micro-batch.
  /// Rows per forward and backward on one rank (gradient accumulation); 0:
  /// the rank's whole share of the batch.
  int64_t microBatchSize = 0;
  int64_t contextLength = 256;
  int64_t stride = 256;
  int64_t epochs = 10;
  int64_t maxSteps = 0; ///< 0: run all epochs.
  double trainRatio = 0.9;
  int64_t evalInterval = 5;
  int64_t evalIters = 5;
  int64_t checkpointInterval = 0;
  int64_t sampleInterval = 0;
  std::string samplePrompt; ///< Empty: the trainer's default.
  int64_t seed = 123;
  /// Labelled texts and instructions: train/validation/test fractions
  /// (empty: the book's, 0.7/0.1/0.2 and 0.85/0.05/0.1).
  std::vector<double> split;
  bool balance = false;             ///< Undersample classes to the smallest.
  std::vector<std::string> classes; ///< Class names in id order.
  bool maskInstruction = false;     ///< Ignore the prompt's targets.
  int64_t responseTokens = 256;     ///< Test responses' new tokens at most.

  /// Where the config came from, for messages.
  std::string path;
};

/// Reads and validates a training config; throws CompileError.
TrainConfig loadTrainConfig(SourceManager &sm, const std::string &path);

/// Validates the training config in `file` (loaded by a SourceManager);
/// throws CompileError.
TrainConfig parseTrainConfig(const SourceFile &file);

/// Checks that every trainable and decay pattern names at least one of
/// `params` (a typo must not silently freeze the model), and every
/// trainable pattern one that is not in `frozen` (the model's own frozen
/// parameters); throws CompileError at the pattern's YAML line.
void checkParameterPatterns(const TrainConfig &config,
                            const std::vector<std::string> &params,
                            const std::set<std::string> &frozen = {});

/// The CPU features past `target`'s that the config's precision needs:
/// avx512bf16 for bf16 (vdpbf16ps), none for f32. Throws CompileError at the
/// precision line when `target` cannot have them: bf16 on cpu-avx2 or
/// cuda, or on cpu (this machine's features) where this CPU lacks them.
std::vector<std::string> precisionCpuFeatures(const TrainConfig &config,
                                              const std::string &target);

} // namespace gptc

#endif // GPTC_SUPPORT_TRAINCONFIG_H
