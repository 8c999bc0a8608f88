//===- GptOps.h - Operations of the gpt dialect -----------------*- C++ -*-===//

#ifndef GPTC_IR_GPTOPS_H
#define GPTC_IR_GPTOPS_H

#include "gptc/IR/GptDialect.h"
#include "gptc/IR/ShapeRules.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace gptc::gpt {
/// Where a shape rule reads its operands' dims: the dims of a tensor value
/// and the value of an index operand (a size or a slice bound).
class DimEnv {
public:
  virtual ~DimEnv() = default;
  virtual shapes::Shape shape(mlir::Value tensor) const = 0;
  virtual Dim index(mlir::Value size) const = 0;
};

/// The IR's own view: static sizes, `?` (Dim::unknown()) for dynamic dims,
/// constant index operands and unknown other ones.
class StaticDims : public DimEnv {
public:
  shapes::Shape shape(mlir::Value tensor) const override;
  Dim index(mlir::Value size) const override;
};

/// Every result's shape rule under StaticDims as static sizes (kDynamic
/// where unknown); emits the rule's error at `op`.
llvm::LogicalResult
inferStaticShapes(mlir::Operation *op,
                  llvm::SmallVectorImpl<llvm::SmallVector<int64_t>> &shapes);

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
