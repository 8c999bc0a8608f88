//===- Passes.h - gptc's passes ---------------------------------*- C++ -*-===//

#ifndef GPTC_PASSES_PASSES_H
#define GPTC_PASSES_PASSES_H

#include "gptc/Frontend/TrainConfig.h"
#include "gptc/IR/GptOps.h"

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
/// step: what the backends generate code from.
void buildKernelPipeline(mlir::OpPassManager &pm);

} // namespace gptc

#endif // GPTC_PASSES_PASSES_H
