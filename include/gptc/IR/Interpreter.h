//===- Interpreter.h - Reference evaluation of gpt functions -----*- C++
//-*-===//
//
// The oracle every pass and backend is tested against: evaluates a `gpt`
// function naively, op by op, in double precision (or rounding every result
// to float32, to model a float32 backend). Deterministic: dropout is the
// identity outside a training step and seeded (Philox) inside one.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_INTERPRETER_H
#define GPTC_IR_INTERPRETER_H

#include "gptc/Runtime/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace gptc {

/// A dense row-major tensor; element values as doubles whatever the IR
/// element type (i32 ids and i1 masks included).
struct Buffer {
  std::vector<int64_t> shape;
  std::vector<double> data;

  int64_t numel() const;
};

struct InterpreterOptions {
  /// Round every op's result to float32 (models an fp32 backend).
  bool float32 = false;
  /// Dropout is active only in a training step; its masks are drawn from
  /// Philox keyed by (seed, step, op id, element index), see docs/RNG.md.
  bool training = false;
  uint64_t seed = 0;
  uint64_t step = 0;
  /// The slice of a larger batch this run computes (a micro-batch or a
  /// rank's share): its first row there and its row count. Mask indices
  /// count in the whole batch, so slices draw the whole batch's masks.
  uint64_t firstRow = 0, rows = 1;
  /// Called after each top-level op of the function with the buffers of its
  /// tensor results, which it may replace (same shapes): `gptc run
  /// --verify` compares them with the compiled kernels' and continues from
  /// the compiled values, so one kernel's error does not spread.
  std::function<void(mlir::Operation *, std::vector<Buffer> &)> afterOp;
};

/// Evaluates `func` on `args` (one per function argument, in order) and
/// returns its result. Throws RuntimeError, naming the op's source location,
/// for an op it does not support or a run-time error (an id out of range,
/// sizes that do not fit the IR's types).
Buffer interpret(mlir::func::FuncOp func, const std::vector<Buffer> &args,
                 const InterpreterOptions &options = {});

/// As interpret, returning every result of a multi-result function.
std::vector<Buffer> interpretAll(mlir::func::FuncOp func,
                                 const std::vector<Buffer> &args,
                                 const InterpreterOptions &options = {});

/// Collects the arguments of `func` from `file` by their `gpt.input` and
/// `gpt.param` names. Throws RuntimeError naming the tensor (and both shapes)
/// when one is missing, has the wrong kind of dtype, or a wrong static dim;
/// `path` names the file in those messages.
std::vector<Buffer> bindArguments(mlir::func::FuncOp func,
                                  const SafetensorsFile &file,
                                  const std::string &path);

} // namespace gptc

#endif // GPTC_IR_INTERPRETER_H
