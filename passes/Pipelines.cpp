//===- Pipelines.cpp - The pass pipelines gptc runs
//------------------------===//

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
}
