//===- Pipelines.cpp - The pass pipelines gptc runs -----------------------===//
//
// The one place that decides which passes run, and in which order, for each
// of the driver's commands and stages.
//
//===----------------------------------------------------------------------===//

#include "gptc/Passes/Passes.h"

#include "mlir/Transforms/Passes.h"

void gptc::buildFrontendPipeline(mlir::OpPassManager &pm) {
  pm.addPass(createGptShapeInference());
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
}

void gptc::buildTrainingPipeline(mlir::OpPassManager &pm,
                                 const TrainConfig &config) {
  GptAutodiffOptions autodiff;
  autodiff.trainable.assign(config.trainable.begin(), config.trainable.end());
  pm.addPass(createGptAutodiff(autodiff));
  GptTrainingStepOptions step;
  step.beta1 = config.beta1;
  step.beta2 = config.beta2;
  step.eps = config.eps;
  step.clip = config.clipGradNorm > 0;
  step.decay.assign(config.decay.begin(), config.decay.end());
  pm.addPass(createGptTrainingStep(step));
  // Operand gradients nobody uses (of inputs, of frozen values) go here.
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
}

void gptc::buildKernelPipeline(mlir::OpPassManager &pm) {
  pm.addPass(createGptFuse());
  pm.addPass(createGptScheduleReductions());
}

void gptc::buildCompilePipeline(mlir::OpPassManager &pm,
                                const CompileOptions &o) {
  if (o.fuseAttention)
    pm.addPass(createGptFuseAttention());
  if (o.kvCache)
    pm.addPass(createGptKVCache());
  if (o.training)
    buildTrainingPipeline(pm, o.train);
  if (o.kernels) {
    buildKernelPipeline(pm);
    if (o.training && o.train.precision == "bf16")
      pm.addPass(createGptMixedPrecision());
  }
}

void gptc::buildSpecializePipeline(mlir::OpPassManager &pm,
                                   const std::vector<std::string> &dims) {
  GptSpecializeOptions opts;
  opts.dims.assign(dims.begin(), dims.end());
  pm.addPass(createGptSpecialize(opts));
  // Sizes flow through tensor.dim folds and shape rules alternately; the
  // backward's reshapes need two rounds, the Llama backward's rotary
  // slices three.
  for (int round = 0; round < 3; ++round) {
    pm.addPass(mlir::createCanonicalizerPass());
    pm.addPass(createGptShapeInference());
  }
  pm.addPass(mlir::createCanonicalizerPass());
}
