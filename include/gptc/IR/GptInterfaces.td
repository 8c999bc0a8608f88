//===- GptInterfaces.td - Interfaces of gpt ops ------------*- tablegen -*-===//

#ifndef GPTC_IR_GPTINTERFACES_TD
#define GPTC_IR_GPTINTERFACES_TD

include "mlir/IR/OpBase.td"

def ShapeInferenceOpInterface : OpInterface<"ShapeInference"> {
  let description = [{
    The op's shape rule: computes its result shapes from its operands' types
    (and static size operands), with `ShapedType::kDynamic` for dims known
    only at run time, or emits an error naming both shapes when the operands
    do not fit together. The verifier checks the declared result type
    against it; `--gpt-shape-inference` refines result types with it.
  }];
  let cppNamespace = "::gptc::gpt";
  let methods = [
    InterfaceMethod<"Computes the result shape; emits an error on mismatch.",
      "::llvm::LogicalResult", "inferResultShape",
      (ins "::llvm::SmallVectorImpl<int64_t> &":$shape)>,
    InterfaceMethod<[{Computes the shape of every result, in order (ops with
      several results override it; for the others it is inferResultShape).}],
      "::llvm::LogicalResult", "inferResultShapes",
      (ins "::llvm::SmallVectorImpl<::llvm::SmallVector<int64_t>> &":$shapes),
      [{}], [{
        shapes.emplace_back();
        return $_op.inferResultShape(shapes.back());
      }]>,
  ];
  let verify = [{ return ::gptc::gpt::verifyInferredShape($_op); }];
}

def GradientOpInterface : OpInterface<"Differentiable"> {
  let description = [{
    The op's gradient rule: given the gradient of the loss with respect to
    the op's result, builds (with `b`, after the forward ops) the gradients
    with respect to its operands, reusing forward values rather than
    recomputing them. Operands without a gradient (ids, masks, sizes) get a
    null Value. `--gpt-autodiff` calls it in reverse program order.
  }];
  let cppNamespace = "::gptc::gpt";
  let methods = [
    InterfaceMethod<"Builds the operand gradients from the result gradient.",
      "void", "buildGradients",
      (ins "::mlir::OpBuilder &":$b, "::mlir::Value":$grad,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

#endif // GPTC_IR_GPTINTERFACES_TD
