//===- SymbolicShapes.h - Every value's dims in the entry's symbols -*- C++
//-*-===//
//
// How the IR keeps symbolic dims. An entry's arguments name each of their
// dims in `gpt.dims` (`["B", "T", "768"]`); a `?` dim is the symbol its name
// gives. Every other size is derived, not stored: the ops' shape rules
// (ShapeRules.h, the same functions the front end and the verifier run)
// evaluated over those symbols give each value's dims as monomials (`B*T`,
// `3*C`), and index operands (tensor.dim, arith.muli/addi, constants) become
// dims the same way. Printed types keep `?`; `--gpt-print-symbolic-shapes`
// shows the derived dims.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_SYMBOLICSHAPES_H
#define GPTC_IR_SYMBOLICSHAPES_H

#include "gptc/IR/GptOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/DenseMap.h"

#include <string>
#include <vector>

namespace gptc::gpt {

/// The symbolic dims of every value of one function, kernel bodies included.
class SymbolicShapes : public DimEnv {
public:
  /// Evaluates the shape rules of `func` in order. Throws LocatedError at
  /// the first op whose rule fails, whose size is not a monomial in the
  /// symbols, or that has no shape rule.
  explicit SymbolicShapes(mlir::func::FuncOp func);

  shapes::Shape shape(mlir::Value tensor) const override;
  Dim index(mlir::Value size) const override;
  /// Whether `size` is an index value with a known dim.
  bool hasIndex(mlir::Value size) const { return indices.count(size) != 0; }
  /// The symbols the arguments bind, sorted.
  const std::vector<std::string> &symbols() const { return names; }

private:
  void evaluate(mlir::Block &block);
  void evaluate(mlir::Operation *op);

  llvm::DenseMap<mlir::Value, shapes::Shape> shapes;
  llvm::DenseMap<mlir::Value, Dim> indices;
  std::vector<std::string> names;
};

/// Registers gpt-print-symbolic-shapes: a remark at every op with a tensor
/// or index result, giving its dims in the entry's symbols.
void registerPrintSymbolicShapesPass();

} // namespace gptc::gpt

#endif // GPTC_IR_SYMBOLICSHAPES_H
