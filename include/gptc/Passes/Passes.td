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

#endif // GPTC_PASSES_PASSES_TD
