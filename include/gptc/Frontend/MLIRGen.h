//===- MLIRGen.h - Lowering an elaborated model to the gpt dialect -*- C++
//-*-===//

#ifndef GPTC_FRONTEND_MLIRGEN_H
#define GPTC_FRONTEND_MLIRGEN_H

#include "gptc/Frontend/Sema.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace gptc {

/// Emits one `func.func` per entry point of `prog`. Arguments are the
/// entry's inputs (`gpt.input` = name) followed by the parameters it uses
/// (`gpt.param` = hierarchical name); symbolic dims become `tensor.dim` of
/// the input that binds them; every op carries the location of the .gpt line
/// that made it, wrapped in the instance path (`"h.3.attn"(file:line:col)`).
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context,
                                          const Program &prog);

/// Registers every dialect the gpt IR uses in `context`.
void loadGptDialects(mlir::MLIRContext &context);

} // namespace gptc

#endif // GPTC_FRONTEND_MLIRGEN_H
