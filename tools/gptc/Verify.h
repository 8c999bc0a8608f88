//===- Verify.h - `gptc run --verify`: kernels against the oracle -*- C++
//-*-===//
//
// Checks a user's own model, compiled, against the reference interpreter
// kernel by kernel: the executable writes what every kernel call wrote
// (`--trace`), and the interpreter runs the same compiled IR, comparing
// each call's outputs with its own and continuing from the compiled values,
// so the first kernel that differs is named, with its .gpt line.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_TOOLS_VERIFY_H
#define GPTC_TOOLS_VERIFY_H

#include "Run.h"

#include "gptc/Support/Diagnostics.h"

#include <ostream>

namespace gptc {

struct VerifyOptions {
  RunOptions run;        ///< The inputs the executable ran on, its seed.
  std::string tracePath; ///< What its `--trace` wrote.
  /// Largest accepted |compiled - interpreted| over the output's largest
  /// magnitude (integer outputs must be equal).
  double tolerance = 1e-3;
};

/// Compares the trace with the interpreter on the functions the run
/// contract ran (the contract's function, then @forward). Prints a summary
/// per function to `os` and each differing call as a Diagnostic at the
/// kernel's .gpt line to `err`. Returns the number of differing calls.
/// Throws RuntimeError when the trace does not belong to `module`.
int verifyTrace(mlir::ModuleOp module, const VerifyOptions &options,
                const SourceManager &sm, std::ostream &os, std::ostream &err);

} // namespace gptc

#endif // GPTC_TOOLS_VERIFY_H
