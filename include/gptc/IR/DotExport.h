//===- DotExport.h - A Graphviz picture of a gpt module ----------*- C++
//-*-===//

#ifndef GPTC_IR_DOTEXPORT_H
#define GPTC_IR_DOTEXPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace gptc {

/// Writes `module` as one Graphviz digraph: a cluster per function, nested
/// clusters per instance path (h.3, then h.3.attn, ...), one node per gpt op
/// labelled with its name and result shape, inputs as ellipses and
/// parameters as boxes named by their hierarchical names.
void exportDot(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace gptc

#endif // GPTC_IR_DOTEXPORT_H
