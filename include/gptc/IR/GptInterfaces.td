//===- GptInterfaces.td - Interfaces of gpt ops ------------*- tablegen -*-===//

#ifndef GPTC_IR_GPTINTERFACES_TD
#define GPTC_IR_GPTINTERFACES_TD

include "mlir/IR/OpBase.td"

def ShapeInferenceOpInterface : OpInterface<"ShapeInference"> {
  let description = [{
    The op's shape rule: computes its result shape from its operands' types
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
  ];
  let verify = [{ return ::gptc::gpt::verifyInferredShape($_op); }];
}

#endif // GPTC_IR_GPTINTERFACES_TD
