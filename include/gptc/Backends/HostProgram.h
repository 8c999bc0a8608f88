//===- HostProgram.h - Lowering fused functions to kernels and a plan -*- C++
//-*-===//
//
// The last step on the compiler side: every `gpt.kernel` of a fused module
// becomes a kernel description (KernelDesc.h) and every function a list of
// kernel calls over named buffers whose sizes are monomials in the input
// dims (B, T). The plan is a small text (runtime/Plan.h parses it) that the
// executable embeds; the runtime places the buffers in one arena once it
// knows B and T.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOSTPROGRAM_H
#define GPTC_BACKENDS_HOSTPROGRAM_H

#include "gptc/Backends/KernelDesc.h"
#include "gptc/Runtime/Plan.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace gptc {

struct HostProgram {
  Plan plan;                       ///< Its functions and kernels (Plan.h).
  std::vector<KernelDesc> kernels; ///< Distinct kernels, in first-use order.
  /// Where each kernel first occurs (for errors of the kernel generator).
  std::vector<mlir::Location> origins;

  /// The kernel descriptions, then the plan: what `gptc emit
  /// --stage=kernels` and the gpt-lower-to-host-program pass print.
  std::string serialize() const;
};

/// Lowers the functions `entries` of a module that went through
/// gpt-fuse. Throws RuntimeError naming the op for anything the CPU
/// backend cannot run yet.
HostProgram lowerToHostProgram(mlir::ModuleOp module,
                               const std::vector<std::string> &entries);

/// Registers gpt-lower-to-host-program, the lowering as a pass for gptc-opt:
/// it prints HostProgram::serialize() of the module's public functions (or
/// of `entries=...`) and reports failures as errors at the op.
void registerLowerToHostProgramPass();

} // namespace gptc

#endif // GPTC_BACKENDS_HOSTPROGRAM_H
