//===- GptDialect.td - The gpt dialect ---------------------*- tablegen -*-===//
//
// Tensor-level operations of GPT-style models. Tensors are builtin ranked
// tensors whose batch and sequence dims may be dynamic (`?`); sizes that a
// result needs and its operands do not carry (reshape targets, mask sizes)
// are `index` operands, as in MLIR's tensor dialect.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_GPTDIALECT_TD
#define GPTC_IR_GPTDIALECT_TD

include "mlir/IR/OpBase.td"

def Gpt_Dialect : Dialect {
  let name = "gpt";
  let summary = "Tensor operations of GPT-style language models";
  let description = [{
    The `gpt` dialect is what gptc's front end produces from a `.gpt` model:
    one `func.func` per entry point (`forward`, `loss`), whose arguments are
    the model inputs (`gpt.input = "tokens"`) and its parameters
    (`gpt.param = "h.0.attn.c_attn.weight"`), and whose body is a graph of
    `gpt` operations. Every later stage (autodiff, fusion, code generation)
    and the reference interpreter work on it.
  }];
  let cppNamespace = "::gptc::gpt";
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
  let hasConstantMaterializer = 1;
}

class Gpt_Op<string mnemonic, list<Trait> traits = []>
    : Op<Gpt_Dialect, mnemonic, traits>;

#endif // GPTC_IR_GPTDIALECT_TD
