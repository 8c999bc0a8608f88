//===- Passes.td - gptc's passes ---------------------------*- tablegen -*-===//

#ifndef GPTC_PASSES_PASSES_TD
#define GPTC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def GptShapeInference : Pass<"gpt-shape-inference", "mlir::ModuleOp"> {
  let summary = "Refines result types with each op's shape rule";
  let description = [{
    Visits every op with a shape rule in order and gives its result the most
    static type that both the declared type and the rule allow (a `?` the
    rule can compute becomes static). A result type that contradicts the
    rule is an error. Function result types follow their returned values.

    ```mlir
    %m = gpt.causal_mask %c8 : tensor<?x?xi1>   // %c8 = arith.constant 8
    // becomes
    %m = gpt.causal_mask %c8 : tensor<8x8xi1>
    ```
  }];
  let dependentDialects = ["::gptc::gpt::GptDialect"];
}

def GptSpecialize : Pass<"gpt-specialize", "mlir::ModuleOp"> {
  let summary = "Gives symbolic input dims (B, T) fixed sizes";
  let description = [{
    Replaces the `?` dims of entry inputs named in `gpt.dims` by the sizes
    given in `dims` (e.g. `dims=B=4,T=64`), so that canonicalization folds
    their `tensor.dim`s and shape inference makes every type static. Cost
    estimates (`gptc info`) and static-shape code generation use it. A name
    that no input uses is an error.

    ```mlir
    func.func @f(%x: tensor<?x?xi32> {gpt.dims = ["B", "T"], gpt.input = "x"})
    // with dims=B=2,T=8 becomes
    func.func @f(%x: tensor<2x8xi32> {gpt.dims = ["B", "T"], gpt.input = "x"})
    ```
  }];
  let options = [
    ListOption<"dims", "dims", "std::string",
               "NAME=SIZE bindings of symbolic dims">,
  ];
}

#endif // GPTC_PASSES_PASSES_TD
