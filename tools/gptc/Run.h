//===- Run.h - `gptc run`: executing a model in process ---------*- C++ -*-===//

#ifndef GPTC_TOOLS_RUN_H
#define GPTC_TOOLS_RUN_H

#include "gptc/IR/Interpreter.h"
#include "gptc/Runtime/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace gptc {

struct RunOptions {
  std::string inputPath;  ///< Parameters by name, `tokens`, optional `targets`.
  std::string outputPath; ///< `logits`, and `loss` when targets are given.
  bool float32 = false;   ///< Round every op to float32 (models a backend).
  uint64_t seed = 0;      ///< Dropout seed of a training step.
};

/// The function the run contract runs for the tensors of `in`: @forward;
/// @loss with `targets`; @train_step with `lr` too, whose dropout is active
/// (seeded by `options.seed` and the step number in `in`).
struct ContractFunction {
  mlir::func::FuncOp func;
  InterpreterOptions interp;
};
ContractFunction contractFunction(mlir::ModuleOp module,
                                  const SafetensorsFile &in,
                                  const RunOptions &options);

/// The run contract (docs/Architecture.md) on the reference interpreter:
/// evaluates
/// `@forward` for the logits; with `targets`, `@loss` for the loss; with
/// `lr` too, one `@train_step` (dropout active), writing every result under
/// its `gpt.output` name (loss, parameters, adam.m/v.*, grad.*).
/// Throws RuntimeError for missing or misshapen tensors, naming the tensor
/// and both shapes.
void runInterpreted(mlir::ModuleOp module, const RunOptions &options);

} // namespace gptc

#endif // GPTC_TOOLS_RUN_H
