//===- Passes.h - gptc's passes ---------------------------------*- C++ -*-===//

#ifndef GPTC_PASSES_PASSES_H
#define GPTC_PASSES_PASSES_H

#include "gptc/IR/GptOps.h"
#include "gptc/Support/TrainConfig.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace gptc {

#define GEN_PASS_DECL
#include "gptc/Passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "gptc/Passes/Passes.h.inc"

/// The front-end pipeline that `gptc emit --stage=ir` shows: shape
/// inference, canonicalization and CSE on the output of MLIRGen.
void buildFrontendPipeline(mlir::OpPassManager &pm);

/// What `gptc emit --stage=grad` adds: @loss_grad (gpt-autodiff over the
/// config's trainable parameters), @train_step (gpt-training-step with its
/// AdamW settings and clipping), then canonicalization and CSE.
void buildTrainingPipeline(mlir::OpPassManager &pm, const TrainConfig &config);

/// Groups ops into kernels (`gpt.kernel`), after autodiff and the training
/// step, and runs reductions next to what they reduce: what the backends
/// generate code from.
void buildKernelPipeline(mlir::OpPassManager &pm);

/// What the driver's commands and stages differ in, after the front end.
struct CompileOptions {
  bool fuseAttention = false; ///< gpt-fuse-attention (flash attention)
  bool kvCache = false;       ///< gpt-kv-cache: @prefill and @decode
  bool training = false;      ///< @loss_grad and @train_step
  bool kernels = false;       ///< gpt-fuse
  TrainConfig train;
};

/// The passes after the front end, in the one order that works: attention
/// fusion before autodiff (the backward is the flash backward) and before
/// the KV cache (which caches fused attention), kernels last, then (for a
/// training config's precision bf16) gpt-mixed-precision on them.
void buildCompilePipeline(mlir::OpPassManager &pm, const CompileOptions &o);

/// Fixes symbolic dims (`NAME=SIZE` each) and propagates the static shapes
/// through the module, the backward's reshapes included (`gptc info`).
void buildSpecializePipeline(mlir::OpPassManager &pm,
                             const std::vector<std::string> &dims);

} // namespace gptc

#endif // GPTC_PASSES_PASSES_H
