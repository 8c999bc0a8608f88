//===- GptOps.h - Operations of the gpt dialect -----------------*- C++ -*-===//

#ifndef GPTC_IR_GPTOPS_H
#define GPTC_IR_GPTOPS_H

#include "gptc/IR/GptDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace gptc::gpt {
/// The verifier shared by every op with a shape rule: the declared result
/// type must agree with the inferred shape wherever both are static.
llvm::LogicalResult verifyInferredShape(mlir::Operation *op);

/// `[?, 768]`: a shape in messages, `?` for dynamic dims.
std::string formatShape(llvm::ArrayRef<int64_t> shape);
} // namespace gptc::gpt

#include "gptc/IR/GptInterfaces.h.inc"
#include "gptc/IR/GptTraits.h"

#define GET_OP_CLASSES
#include "gptc/IR/GptOps.h.inc"

#endif // GPTC_IR_GPTOPS_H
