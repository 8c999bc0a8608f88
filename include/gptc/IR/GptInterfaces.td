//===- GptInterfaces.td - Interfaces and traits of gpt ops -*- tablegen -*-===//
//
// What passes and backends ask of an op: its shape rule and gradient rule
// (interfaces), whether it is elementwise, a pure layout change, treats
// sequence positions independently or is a cheap generator (traits), and
// the properties every gpt tensor op must declare (Gpt_TensorOp's fields,
// checked by gptc-tblgen, which also writes them into the MLIR-free op
// table that the front end and the kernel generator read).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_GPTINTERFACES_TD
#define GPTC_IR_GPTINTERFACES_TD

include "mlir/IR/OpBase.td"

def ShapeInferenceOpInterface : OpInterface<"ShapeInference"> {
  let description = [{
    The op's shape rule: computes its result shapes from its operands' dims
    (and size operands) as a DimEnv gives them, or says why the operands do
    not fit together. With StaticDims (the IR's sizes, `?` for dims known
    only at run time) the verifier checks the declared result types against
    it and `--gpt-shape-inference` refines them; with SymbolicShapes (the
    entry's dims B, T, ...) the host lowering reads every size as a product
    of those dims.
  }];
  let cppNamespace = "::gptc::gpt";
  let methods = [
    InterfaceMethod<"The shape of the (first) result over `env`'s dims.",
      "::gptc::shapes::Result", "shapeRule",
      (ins "const ::gptc::gpt::DimEnv &":$env)>,
    InterfaceMethod<[{The shape of every result, in order (ops with several
      results override it; for the others it is shapeRule).}],
      "std::vector<::gptc::shapes::Result>", "shapeRules",
      (ins "const ::gptc::gpt::DimEnv &":$env), [{}], [{
        return {$_op.shapeRule(env)};
      }]>,
    InterfaceMethod<[{Every result's static shape (`ShapedType::kDynamic`
      where unknown); emits the rule's error at the op on a mismatch.}],
      "::llvm::LogicalResult", "inferResultShapes",
      (ins "::llvm::SmallVectorImpl<::llvm::SmallVector<int64_t>> &":$shapes),
      [{}], [{
        return ::gptc::gpt::inferStaticShapes($_op, shapes);
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

//===----------------------------------------------------------------------===//
// Traits (C++ in GptTraits.h)
//===----------------------------------------------------------------------===//

class Gpt_Trait<string name> : NativeOpTrait<name> {
  let cppNamespace = "::gptc::gpt::OpTrait";
}

/// Each result element reads each operand at the same index (under
/// broadcasting) and nothing else: fusion inlines it into its consumer.
def Gpt_Elementwise : Gpt_Trait<"Elementwise">;
/// A layout change or gather: each result element copies one input element
/// (or a zero); fusion inlines it like an elementwise op.
def Gpt_Injective : Gpt_Trait<"Injective">;
/// The result at a sequence position reads only that position of the
/// operands of the result's rank (lower-rank operands are broadcast): the
/// KV-cache pass may compute it on the last position alone.
def Gpt_PositionWise : Gpt_Trait<"PositionWise">;
/// Costs less to recompute than to load (constants, masks, ids): every
/// kernel that reads it computes its own copy.
def Gpt_Generator : Gpt_Trait<"Generator">;

//===----------------------------------------------------------------------===//
// Properties every tensor op declares
//===----------------------------------------------------------------------===//

/// FLOPs of an op for `gptc info` and the roofline figures.
class Gpt_Cost<string kind, int flops> {
  /// "result": flops per result element; "input": per element of operand 0;
  /// "none"; "custom": computed in ir/CostModel.cpp (products, attention).
  string basis = kind;
  int flopsPerElement = flops;
}
class Gpt_CostPerResult<int flops> : Gpt_Cost<"result", flops>;
class Gpt_CostPerInput<int flops> : Gpt_Cost<"input", flops>;
def Gpt_NoCost : Gpt_Cost<"none", 0>;
def Gpt_CustomCost : Gpt_Cost<"custom", 0>;

#endif // GPTC_IR_GPTINTERFACES_TD
