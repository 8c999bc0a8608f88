//===- SymbolicShapes.cpp - Every value's dims in the entry's symbols -----===//
//
// Algorithm:
//  1. Each argument's dims: static sizes as constants, `?` dims as the
//     symbol `gpt.dims` names.
//  2. In program order (kernel bodies where the kernel stands, their
//     arguments bound to the kernel's operands): index ops give dims
//     (tensor.dim reads its source's, arith.muli multiplies, arith.addi adds
//     like monomials), tensor.empty has its type's and size operands' dims,
//     every gpt op's shape rule gives its results' dims
//     from its operands', and a kernel's results are what its body yields.
//  3. A rule that fails, a sum of unlike monomials or a dim the rules leave
//     unknown is an error at the op (the front end checked the model with
//     the same rules, so this means hand-written or mis-transformed IR).
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/SymbolicShapes.h"
#include "gptc/IR/SourceLoc.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Pass/Pass.h"

#include <set>

using namespace mlir;

namespace gptc::gpt {

[[noreturn]] static void failAt(Operation *op, const std::string &what) {
  throw LocatedError(op->getLoc(),
                     op->getName().getStringRef().str() + ": " + what);
}

SymbolicShapes::SymbolicShapes(func::FuncOp func) {
  std::set<std::string> bound;
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    Value arg = func.getArgument(i);
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type)
      continue;
    auto dims = func.getArgAttrOfType<ArrayAttr>(i, "gpt.dims");
    shapes::Shape shape;
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (!type.isDynamicDim(d)) {
        shape.push_back(Dim(type.getDimSize(d)));
        continue;
      }
      auto name = dims && d < static_cast<int64_t>(dims.size())
                      ? dyn_cast<StringAttr>(dims[d])
                      : StringAttr();
      if (!name)
        failAt(func, "argument " + std::to_string(i) + " has a dynamic dim " +
                         std::to_string(d) + " that gpt.dims does not name");
      shape.push_back(Dim::symbol(name.str()));
      bound.insert(name.str());
    }
    shapes[arg] = shape;
  }
  names.assign(bound.begin(), bound.end());
  evaluate(func.getBody().front());
}

shapes::Shape SymbolicShapes::shape(Value tensor) const {
  auto it = shapes.find(tensor);
  return it == shapes.end() ? StaticDims().shape(tensor) : it->second;
}

Dim SymbolicShapes::index(Value size) const {
  auto it = indices.find(size);
  return it == indices.end() ? StaticDims().index(size) : it->second;
}

void SymbolicShapes::evaluate(Block &block) {
  for (Operation &op : block)
    evaluate(&op);
}

void SymbolicShapes::evaluate(Operation *op) {
  auto indexOf = [&](Value v) {
    Dim d = index(v);
    if (d.isUnknown())
      failAt(op, "a size operand that is not a product of the input dims");
    return d;
  };
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (auto n = getConstantIntValue(c.getResult()))
      indices[c.getResult()] = Dim(*n);
  } else if (auto dim = dyn_cast<tensor::DimOp>(op)) {
    auto k = getConstantIntValue(dim.getIndex());
    shapes::Shape s = shape(dim.getSource());
    if (!k || *k < 0 || *k >= static_cast<int64_t>(s.size()))
      failAt(op, "a dim index that is not a constant within the rank");
    indices[dim.getResult()] = s[*k];
  } else if (auto mul = dyn_cast<arith::MulIOp>(op)) {
    indices[mul.getResult()] = indexOf(mul.getLhs()) * indexOf(mul.getRhs());
  } else if (auto add = dyn_cast<arith::AddIOp>(op)) {
    std::optional<Dim> sum =
        addDims(indexOf(add.getLhs()), indexOf(add.getRhs()));
    if (!sum)
      failAt(op, "a sum of " + indexOf(add.getLhs()).str() + " and " +
                     indexOf(add.getRhs()).str() +
                     ", not a product of the input dims");
    indices[add.getResult()] = *sum;
  } else if (auto empty = dyn_cast<tensor::EmptyOp>(op)) {
    // A shape-only operand inside a kernel (gpt-fuse): its dims are its
    // type's, `?` ones from its size operands.
    shapes::Shape s;
    auto sizes = empty.getDynamicSizes();
    size_t next = 0;
    for (int64_t d : empty.getType().getShape())
      s.push_back(ShapedType::isDynamic(d) ? indexOf(sizes[next++]) : Dim(d));
    shapes[empty.getResult()] = s;
  } else if (auto kernel = dyn_cast<KernelOp>(op)) {
    Block &body = kernel.getBody().front();
    for (auto [arg, v] : llvm::zip(body.getArguments(), kernel.getInputs())) {
      if (isa<IndexType>(v.getType()))
        indices[arg] = indexOf(v);
      else
        shapes[arg] = shape(v);
    }
    evaluate(body);
    auto yield = cast<YieldOp>(body.getTerminator());
    for (auto [result, value] :
         llvm::zip(kernel.getResults(), yield.getValues()))
      shapes[result] = shape(value);
  } else if (auto rule = dyn_cast<ShapeInference>(op)) {
    std::vector<shapes::Result> rules = rule.shapeRules(*this);
    for (const shapes::Result &r : rules)
      if (r.failed())
        failAt(op, r.error);
    for (auto [result, r] : llvm::zip(op->getResults(), rules)) {
      for (const Dim &d : r.shape)
        if (d.isUnknown())
          failAt(op, "a result dim the shape rule leaves unknown (" +
                         shapeStr(r.shape) + ")");
      shapes[result] = r.shape;
    }
  } else if (!isa<YieldOp, func::ReturnOp>(op)) {
    for (Value r : op->getResults())
      if (isa<RankedTensorType, IndexType>(r.getType()))
        failAt(op, "an op without a shape rule");
  }
}

namespace {

/// Test and inspection aid: the derived dims as remarks, for FileCheck and
/// -verify-diagnostics.
struct PrintSymbolicShapesPass
    : PassWrapper<PrintSymbolicShapesPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PrintSymbolicShapesPass)

  StringRef getArgument() const final { return "gpt-print-symbolic-shapes"; }
  StringRef getDescription() const final {
    return "Report every value's dims in the entry's symbols (B, T, ...)";
  }

  void runOnOperation() final {
    func::FuncOp func = getOperation();
    try {
      SymbolicShapes dims(func);
      func.walk([&](Operation *op) {
        std::string text;
        for (Value r : op->getResults()) {
          if (isa<RankedTensorType>(r.getType()))
            text += (text.empty() ? "" : ", ") + shapeStr(dims.shape(r));
          else if (isa<IndexType>(r.getType()) && dims.hasIndex(r))
            text += (text.empty() ? "" : ", ") + dims.index(r).str();
        }
        if (!text.empty())
          op->emitRemark() << text;
      });
    } catch (const LocatedError &e) {
      emitError(e.loc) << e.message;
      signalPassFailure();
    }
  }
};

} // namespace

void registerPrintSymbolicShapesPass() {
  PassRegistration<PrintSymbolicShapesPass>();
}

} // namespace gptc::gpt
