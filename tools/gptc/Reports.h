//===- Reports.h - Human-readable summaries printed by gptc ------*- C++
//-*-===//
//
// The tables behind `gptc info` (config, entries, parameters, costs and
// memory plans) and `gptc emit --stage=params`. They are
// part of the user interface: keep columns aligned and numbers grouped.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_TOOLS_REPORTS_H
#define GPTC_TOOLS_REPORTS_H

#include "gptc/Frontend/Sema.h"
#include "gptc/IR/CostModel.h"
#include "gptc/Support/TrainConfig.h"

#include "mlir/IR/BuiltinOps.h"

#include <map>

#include <ostream>

namespace gptc {

/// `1234567` -> `1,234,567`.
std::string groupDigits(int64_t n);

/// `1.5 GiB`: a byte count in binary units.
std::string formatBytes(double bytes);

/// One line per parameter: name, shape, initializer, mapped names.
void printParamTable(std::ostream &os, const Program &prog);

/// Config values, entry points with their run-time checks, and the
/// parameter count per top-level group.
void printInfo(std::ostream &os, const Program &prog,
               const std::string &modelPath, const std::string &configPath);

/// `gptc info`'s costs: FLOPs and activation memory of each entry at
/// fixed dims (1, T the context length, raised to what the model requires,
/// then `dims`), the KV cache's memory per token, and the CPU backend's
/// arena with and without attention fusion. `module` is the front end's
/// output.
void printCosts(std::ostream &os, const Program &prog, mlir::ModuleOp module,
                const TrainConfig &train,
                const std::map<std::string, int64_t> &dims);

/// FLOPs per token and activation memory of one entry point.
void printCost(std::ostream &os, const std::string &entry, const Cost &cost,
               int64_t tokens);

} // namespace gptc

#endif // GPTC_TOOLS_REPORTS_H
