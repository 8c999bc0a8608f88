//===- GptOps.td - Operations of the gpt dialect -----------*- tablegen -*-===//
//
// One definition per op: summary, description with an IR example, operand
// and result types, and (in GptOps.cpp) its shape rule, which is also its
// verifier. Gradient rules are attached with the autodiff interface.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_GPTOPS_TD
#define GPTC_IR_GPTOPS_TD

include "gptc/IR/GptDialect.td"
include "gptc/IR/GptInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/OpBase.td"

def Gpt_F32Tensor : TensorOf<[F32]>;
def Gpt_I32Tensor : TensorOf<[I32]>;
def Gpt_BoolTensor : TensorOf<[I1]>;

/// A tensor op: besides its ODS definition it declares what every stage of
/// gptc needs, once. gptc-tblgen stops the build when one of the unset (`?`)
/// fields is missing, so an op cannot be added half-way.
class Gpt_TensorOp<string mnemonic, list<Trait> traits = []>
    : Gpt_Op<mnemonic, traits> {
  /// Its FLOPs (Gpt_CostPerResult<n>, Gpt_CostPerInput<n>, Gpt_NoCost,
  /// Gpt_CustomCost).
  Gpt_Cost cost = ?;
  /// How the CPU backend computes it: "fused" (a Halide lowering function in
  /// backends/cpu/FusedKernel.cpp), "attention" (the flash kernels),
  /// or "cache" (the KV-cache kernels).
  string cpuLowering = ?;
  /// Elementwise ops: the value on scalars as C++ over `x` (unary) or `a`
  /// and `b` (binary), generic in the scalar type T so that it serves the
  /// interpreter (double), constant folding and Halide expressions.
  string formula = "";
  /// The DSL builtin that calls it, its parameters (`name` or
  /// `name=default`) and the front end's rule that checks them
  /// (frontend/Builtins.cpp).
  string builtin = "";
  list<string> builtinParams = [];
  string builtinRule = "";
  /// Why it has no gradient rule, for ops without the Differentiable
  /// interface.
  string noGradient = "";
}

class Gpt_ShapedOp<string mnemonic, list<Trait> traits = []>
    : Gpt_TensorOp<mnemonic, !listconcat(traits,
        [Pure, DeclareOpInterfaceMethods<ShapeInferenceOpInterface>])>;

/// An op with several results: its shape rule gives each one.
class Gpt_MultiResultOp<string mnemonic, list<Trait> traits = []>
    : Gpt_TensorOp<mnemonic, !listconcat(traits, [Pure,
        DeclareOpInterfaceMethods<ShapeInferenceOpInterface,
                                  ["shapeRules"]>])>;

/// An op with a gradient rule (GptOps.cpp, next to its shape rule).
def Differentiable : DeclareOpInterfaceMethods<GradientOpInterface>;

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

/// An elementwise op of one operand: `math` in the docs, `cxx` its formula.
/// With `isBuiltin`, the DSL calls it by its mnemonic.
class Gpt_UnaryOp<string mnemonic, string math, string cxx, int flops = 1,
                  bit isBuiltin = 1>
    : Gpt_ShapedOp<mnemonic, [SameOperandsAndResultType, Differentiable,
                              Gpt_Elementwise, Gpt_PositionWise]> {
  let summary = "elementwise " # math;
  let description = "Computes `" # math # "` for every element.\n\n"
    # "```mlir\n%y = gpt." # mnemonic # " %x : tensor<?x?x768xf32>\n```";
  let arguments = (ins Gpt_F32Tensor:$input);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let cost = Gpt_CostPerResult<flops>;
  let cpuLowering = "fused";
  let formula = cxx;
  let builtin = !if(isBuiltin, mnemonic, "");
  let builtinParams = !if(isBuiltin, ["x"], []);
  let builtinRule = !if(isBuiltin, "biUnary", "");
}

def Gpt_NegOp : Gpt_UnaryOp<"neg", "-x", "-x", 1, 0>;
def Gpt_ExpOp : Gpt_UnaryOp<"exp", "exp(x)", "exp(x)">;
def Gpt_LogOp : Gpt_UnaryOp<"log", "log(x)", "log(x)">;
def Gpt_SqrtOp : Gpt_UnaryOp<"sqrt", "sqrt(x)", "sqrt(x)">;
def Gpt_TanhOp : Gpt_UnaryOp<"tanh", "tanh(x)", "tanh(x)">;
def Gpt_SinOp : Gpt_UnaryOp<"sin", "sin(x)", "sin(x)">;
def Gpt_CosOp : Gpt_UnaryOp<"cos", "cos(x)", "cos(x)">;
def Gpt_SigmoidOp : Gpt_UnaryOp<"sigmoid", "1 / (1 + exp(-x))",
    "T(1) / (T(1) + exp(-x))", 4>;
def Gpt_SiluOp : Gpt_UnaryOp<"silu", "x / (1 + exp(-x))",
    "x / (T(1) + exp(-x))", 5>;
def Gpt_RsqrtOp : Gpt_UnaryOp<"rsqrt", "1 / sqrt(x)", "T(1) / sqrt(x)", 2>;
def Gpt_ReluOp : Gpt_UnaryOp<"relu", "max(x, 0)",
    "select(x > T(0), x, T(0))">;
def Gpt_GeluOp : Gpt_UnaryOp<"gelu",
    "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
    "T(0.5) * x * (T(1) + tanh(T(kSqrt2OverPi) * "
    "(x + T(0.044715) * x * x * x)))", 8>;

def Gpt_PowOp : Gpt_ShapedOp<"pow", [SameOperandsAndResultType,
                                     Differentiable, Gpt_Elementwise,
                                     Gpt_PositionWise]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let summary = "elementwise power by a constant exponent";
  let description = [{
    `x ** exponent` for every element.

    ```mlir
    %y = gpt.pow %x {exponent = 3.0 : f64} : tensor<?x768xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input, F64Attr:$exponent);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

class Gpt_BinaryOp<string mnemonic, string cxx>
    : Gpt_ShapedOp<mnemonic, [Differentiable, Gpt_Elementwise,
                              Gpt_PositionWise]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let formula = cxx;
  let summary = "elementwise " # cxx # " with broadcasting";
  let description = "Computes `" # cxx # "` with NumPy broadcasting: "
    # "shapes align from the right and each pair of dims is equal or 1.\n\n"
    # "```mlir\n%z = gpt." # mnemonic # " %x, %b : tensor<?x?x768xf32>, "
    # "tensor<768xf32> -> tensor<?x?x768xf32>\n```";
  let arguments = (ins Gpt_F32Tensor:$lhs, Gpt_F32Tensor:$rhs);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat =
    "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)";
}

def Gpt_AddOp : Gpt_BinaryOp<"add", "a + b">;
def Gpt_SubOp : Gpt_BinaryOp<"sub", "a - b">;
def Gpt_MulOp : Gpt_BinaryOp<"mul", "a * b">;
def Gpt_DivOp : Gpt_BinaryOp<"div", "a / b">;

/// Comparisons give masks; broadcasting as the arithmetic ops. `<` on
/// tensors in the DSL.
class Gpt_CompareOp<string mnemonic, string op>
    : Gpt_ShapedOp<mnemonic, [Gpt_Elementwise, Gpt_PositionWise]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let formula = "select(a " # op # " b, T(1), T(0))";
  let noGradient = "a comparison is piecewise constant";
  let summary = "elementwise a " # op # " b as a mask, with broadcasting";
  let description = "The mask of `a " # op # " b`; both operands f32 or "
    # "both i32, broadcast as the arithmetic ops.\n\n"
    # "```mlir\n%m = gpt." # mnemonic # " %pos, %len : tensor<?x?xi32>, "
    # "tensor<?x1xi32> -> tensor<?x?xi1>\n```";
  let arguments = (ins AnyTypeOf<[Gpt_F32Tensor, Gpt_I32Tensor]>:$lhs,
                       AnyTypeOf<[Gpt_F32Tensor, Gpt_I32Tensor]>:$rhs);
  let results = (outs Gpt_BoolTensor:$result);
  let assemblyFormat =
    "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)";
  let hasVerifier = 1;
}

def Gpt_LtOp : Gpt_CompareOp<"lt", "<">;
def Gpt_LeOp : Gpt_CompareOp<"le", "<=">;
def Gpt_GtOp : Gpt_CompareOp<"gt", ">">;
def Gpt_GeOp : Gpt_CompareOp<"ge", ">=">;
def Gpt_EqOp : Gpt_CompareOp<"eq", "==">;
def Gpt_NeOp : Gpt_CompareOp<"ne", "!=">;

def Gpt_WhereOp : Gpt_ShapedOp<"where", [Gpt_Elementwise, Gpt_PositionWise,
                                         Differentiable]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let builtin = "where";
  let builtinParams = ["cond", "a", "b"];
  let builtinRule = "biWhere";
  let summary = "picks a where the mask holds, else b";
  let description = [{
    `cond ? a : b` elementwise; the three operands broadcast together. The
    gradient flows to `a` where the mask holds and to `b` elsewhere.

    ```mlir
    %y = gpt.where %m, %x, %zero : tensor<?x?xi1>, tensor<?x?x8xf32>,
           tensor<f32> -> tensor<?x?x8xf32>
    ```
  }];
  let arguments = (ins Gpt_BoolTensor:$cond, Gpt_F32Tensor:$a,
                       Gpt_F32Tensor:$b);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $cond `,` $a `,` $b attr-dict `:` type($cond) `,` type($a) `,` type($b)
    `->` type($result)
  }];
}

def Gpt_CastOp : Gpt_ShapedOp<"cast", [Gpt_Elementwise, Gpt_PositionWise,
                                       SameOperandsAndResultShape]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let builtin = "cast";
  let builtinParams = ["x", "dtype"];
  let builtinRule = "biCast";
  let noGradient = "the i32 side of a cast carries no gradient";
  let summary = "converts between f32, i32 and bool elements";
  let description = [{
    f32 to i32 rounds toward zero; a mask becomes 0 or 1; a number becomes
    a mask where it is not zero. Float positions for rotary embeddings are
    `cast(arange(T), "f32")`.

    ```mlir
    %p = gpt.cast %ids : tensor<?xi32> -> tensor<?xf32>
    ```
  }];
  let arguments = (ins AnyTypeOf<[Gpt_F32Tensor, Gpt_I32Tensor,
                                  Gpt_BoolTensor]>:$input);
  let results = (outs AnyTypeOf<[Gpt_F32Tensor, Gpt_I32Tensor,
                                 Gpt_BoolTensor]>:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Gpt_FullOp : Gpt_ShapedOp<"full", [Gpt_Generator]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let builtin = "full";
  let builtinParams = ["shape", "value"];
  let builtinRule = "biFull";
  let noGradient = "a constant";
  let summary = "a tensor of one value";
  let description = [{
    Every element is `value`; dynamic dims are `index` operands, static ones
    are listed inline. `zeros(shape)` and `ones(shape)` in the DSL.

    ```mlir
    %z = gpt.full [%B, %T, 8] {value = 0.0 : f64} : tensor<?x?x8xf32>
    ```
  }];
  let arguments = (ins Variadic<Index>:$dynamic_shape,
                       DenseI64ArrayAttr:$static_shape, F64Attr:$value);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    custom<DynamicIndexList>($dynamic_shape, $static_shape) attr-dict `:`
    type($result)
  }];
}

def Gpt_ConstantOp : Gpt_ShapedOp<"constant", [ConstantLike, Gpt_Generator]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let noGradient = "a constant";
  let summary = "a scalar f32 constant";
  let description = [{
    A rank-0 tensor holding `value`; broadcasting makes it act on any shape.

    ```mlir
    %c = gpt.constant 5.000000e-01 : tensor<f32>
    ```
  }];
  let arguments = (ins F64Attr:$value);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = "$value attr-dict `:` type($result)";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Linear algebra and layout
//===----------------------------------------------------------------------===//

def Gpt_MatmulOp : Gpt_ShapedOp<"matmul", [Differentiable]> {
  let cost = Gpt_CustomCost;
  let cpuLowering = "fused";
  let builtin = "matmul";
  let builtinParams = ["a", "b"];
  let builtinRule = "biMatmul";
  let summary = "batched matrix product";
  let description = [{
    `a [..., m, k] @ b [..., k, n] -> [..., m, n]`; the batch dims broadcast.

    ```mlir
    %y = gpt.matmul %x, %w : tensor<?x?x768xf32>, tensor<768x2304xf32>
           -> tensor<?x?x2304xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$lhs, Gpt_F32Tensor:$rhs);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat =
    "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)";
}

def Gpt_TransposeOp : Gpt_ShapedOp<"transpose", [Gpt_Injective, Differentiable]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let builtin = "transpose";
  let builtinParams = ["x", "dim0=-2", "dim1=-1"];
  let builtinRule = "biTranspose";
  let summary = "permutes dims";
  let description = [{
    Result dim `i` is input dim `perm[i]`.

    ```mlir
    %t = gpt.transpose %k {perm = array<i64: 0, 1, 3, 2>}
           : tensor<?x12x?x64xf32> -> tensor<?x12x64x?xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
  let extraClassDeclaration = [{
    /// Whether only the last two dims trade places: a matrix transpose, or
    /// one per batch element (what matmul kernels absorb).
    bool swapsLastTwoDims();
  }];
}

def Gpt_ReshapeOp : Gpt_ShapedOp<"reshape", [Gpt_Injective, Differentiable]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let builtin = "reshape";
  let builtinParams = ["x", "shape"];
  let builtinRule = "biReshape";
  let summary = "reinterprets the elements with a new shape";
  let description = [{
    Row-major reinterpretation; the element count is unchanged. Dynamic
    target dims are `index` operands, static ones are listed inline.

    ```mlir
    %h = gpt.reshape %q to [%B, %T, 12, 64]
           : tensor<?x?x768xf32> -> tensor<?x?x12x64xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, Variadic<Index>:$dynamic_shape,
                       DenseI64ArrayAttr:$static_shape);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `to` custom<DynamicIndexList>($dynamic_shape, $static_shape)
    attr-dict `:` type($input) `->` type($result)
  }];
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Gpt_ConcatOp : Gpt_ShapedOp<"concat", [Gpt_Injective, Differentiable]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let builtin = "concat";
  let builtinParams = ["xs", "axis=-1"];
  let builtinRule = "biConcat";
  let summary = "joins tensors along an axis";
  let description = [{
    The inputs agree on every dim but `axis`, whose sizes add up. Rotary
    embeddings' rotate_half is `concat([-x2, x1])`.

    ```mlir
    %y = gpt.concat %a, %b {axis = 2 : i64}
           : tensor<?x?x32xf32>, tensor<?x?x32xf32> -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins Variadic<Gpt_F32Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $inputs attr-dict `:` type($inputs) `->` type($result)
  }];
}

def Gpt_SplitOp : Gpt_ShapedOp<"split", [Gpt_Injective, Differentiable]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let builtin = "split";
  let builtinParams = ["x", "parts", "axis=-1"];
  let builtinRule = "biSplit";
  let summary = "one of `parts` equal pieces along an axis";
  let description = [{
    Piece `index` of `input` cut into `parts` equal pieces along `axis`.

    ```mlir
    %k = gpt.split %qkv {axis = 2 : i64, parts = 3 : i64, index = 1 : i64}
           : tensor<?x?x2304xf32> -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis, I64Attr:$parts,
                       I64Attr:$index);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Gpt_SliceOp : Gpt_ShapedOp<"slice", [Gpt_Injective, AttrSizedOperandSegments,
                                         Differentiable]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let summary = "a box of elements, optionally dropping dims";
  let description = [{
    Elements `starts[i] <= j < ends[i]` along every dim; the dims listed in
    `squeeze` (each of size 1) are dropped. A negative start on a squeezed
    dim counts from the end (`x[:, -1]`). Dynamic bounds are `index`
    operands.

    ```mlir
    %last = gpt.slice %x [0, -1, 0] [%B, 0, 768] {squeeze = array<i64: 1>}
              : tensor<?x?x768xf32> -> tensor<?x768xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, Variadic<Index>:$dynamic_starts,
                       DenseI64ArrayAttr:$static_starts,
                       Variadic<Index>:$dynamic_ends,
                       DenseI64ArrayAttr:$static_ends,
                       DenseI64ArrayAttr:$squeeze);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input custom<DynamicIndexList>($dynamic_starts, $static_starts)
    custom<DynamicIndexList>($dynamic_ends, $static_ends)
    attr-dict `:` type($input) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Reductions and row-wise operations
//===----------------------------------------------------------------------===//

class Gpt_ReduceOp<string mnemonic, string what>
    : Gpt_ShapedOp<mnemonic, [Differentiable]> {
  let summary = what # " along one axis";
  let description = "The " # what # " of the elements along `axis`; with "
    # "`keepdim` the axis stays with size 1.\n\n```mlir\n%m = gpt."
    # mnemonic # " %x {axis = 2 : i64, keepdim = true}\n"
    # "       : tensor<?x?x768xf32> -> tensor<?x?x1xf32>\n```";
  let arguments = (ins Gpt_F32Tensor:$input, I64Attr:$axis, BoolAttr:$keepdim);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let cost = Gpt_CostPerInput<1>;
  let cpuLowering = "fused";
  let builtin = mnemonic;
  let builtinParams = ["x", "axis=-1", "keepdim=false"];
  let builtinRule = "biReduce";
}

def Gpt_SumOp : Gpt_ReduceOp<"sum", "sum">;
def Gpt_MeanOp : Gpt_ReduceOp<"mean", "mean">;
def Gpt_MaxOp : Gpt_ReduceOp<"max", "maximum">;
def Gpt_VarOp : Gpt_ReduceOp<"var", "biased variance (divides by n)">;

class Gpt_SoftmaxLikeOp<string mnemonic, string math>
    : Gpt_ShapedOp<mnemonic, [SameOperandsAndResultType, Differentiable]> {
  let summary = math # " along one axis";
  let description = "Computes `" # math # "` along `axis`, subtracting "
    # "the maximum first for stability.\n\n```mlir\n%p = gpt." # mnemonic
    # " %scores {axis = 3 : i64} : tensor<?x12x?x?xf32>\n```";
  let arguments = (ins Gpt_F32Tensor:$input, I64Attr:$axis);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let cost = Gpt_CostPerResult<5>;
  let cpuLowering = "fused";
  let builtin = mnemonic;
  let builtinParams = ["x", "axis=-1"];
  let builtinRule = "biSoftmax";
}

def Gpt_SoftmaxOp : Gpt_SoftmaxLikeOp<"softmax", "exp(x) / sum(exp(x))">;
def Gpt_LogSoftmaxOp
    : Gpt_SoftmaxLikeOp<"log_softmax", "x - log(sum(exp(x)))">;

def Gpt_LayerNormOp : Gpt_ShapedOp<"layer_norm", [Gpt_PositionWise, Differentiable]> {
  let cost = Gpt_CostPerResult<8>;
  let cpuLowering = "fused";
  let builtin = "layer_norm";
  let builtinParams = ["x", "scale", "shift", "eps=1e-5"];
  let builtinRule = "biLayerNorm";
  let summary = "layer normalization over the last dim";
  let description = [{
    `(x - mean) / sqrt(var + eps) * scale + shift` over the last dim, with
    the biased variance (the book's LayerNorm and PyTorch's).

    ```mlir
    %y = gpt.layer_norm %x, %w, %b {eps = 1.000000e-05 : f64}
           : tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32>
           -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input, Gpt_F32Tensor:$scale, Gpt_F32Tensor:$shift,
                       F64Attr:$eps);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $scale `,` $shift attr-dict `:` type($input) `,` type($scale)
    `,` type($shift) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Masks, dropout, embeddings and the loss
//===----------------------------------------------------------------------===//

def Gpt_CausalMaskOp : Gpt_ShapedOp<"causal_mask", [Gpt_Generator]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let builtin = "causal_mask";
  let builtinParams = ["n"];
  let builtinRule = "biCausalMask";
  let noGradient = "a mask of positions";
  let summary = "the n x n mask of future positions";
  let description = [{
    `mask[i][j] = j > i`: true where a token must not attend.

    ```mlir
    %m = gpt.causal_mask %T : tensor<?x?xi1>
    ```
  }];
  let arguments = (ins Index:$size);
  let results = (outs Gpt_BoolTensor:$result);
  let assemblyFormat = "$size attr-dict `:` type($result)";
}

def Gpt_MaskedFillOp : Gpt_ShapedOp<"masked_fill", [Gpt_Elementwise, Gpt_PositionWise, Differentiable]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let builtin = "masked_fill";
  let builtinParams = ["x", "mask", "value"];
  let builtinRule = "biMaskedFill";
  let summary = "replaces the masked elements by a constant";
  let description = [{
    `mask ? value : x`; the mask broadcasts to the shape of `x`.

    ```mlir
    %s = gpt.masked_fill %scores, %m {value = 0xFFF0000000000000 : f64}
           : tensor<?x12x?x?xf32>, tensor<?x?xi1> -> tensor<?x12x?x?xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input, Gpt_BoolTensor:$mask, F64Attr:$value);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $mask attr-dict `:` type($input) `,` type($mask) `->`
    type($result)
  }];
}

def Gpt_DropoutOp : Gpt_ShapedOp<"dropout", [Gpt_Elementwise, Gpt_PositionWise, SameOperandsAndResultType,
                                             Differentiable]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let builtin = "dropout";
  let builtinParams = ["x", "p"];
  let builtinRule = "biDropout";
  let summary = "inverted dropout, active only in a training step";
  let description = [{
    In a training step, zeroes each element with probability `p` and scales
    the rest by `1 / (1 - p)`; elsewhere the identity. The keep mask comes
    from Philox4x32-10 keyed by (seed, step, `id`, element index), so every
    backend draws the same mask; `id` is unique within its function.

    ```mlir
    %y = gpt.dropout %x {p = 1.000000e-01 : f64, id = 3 : i64}
           : tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input, F64Attr:$p, I64Attr:$id);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasFolder = 1;
}

def Gpt_ArangeOp : Gpt_ShapedOp<"arange", [Gpt_Generator]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let builtin = "arange";
  let builtinParams = ["n"];
  let builtinRule = "biArange";
  let noGradient = "integer ids";
  let summary = "the ids 0, 1, ..., n-1";
  let description = [{
    ```mlir
    %pos = gpt.arange %T : tensor<?xi32>
    ```
  }];
  let arguments = (ins Index:$size);
  let results = (outs Gpt_I32Tensor:$result);
  let assemblyFormat = "$size attr-dict `:` type($result)";
}

def Gpt_EmbeddingOp : Gpt_ShapedOp<"embedding", [Gpt_Injective, Differentiable]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let builtin = "embedding";
  let builtinParams = ["ids", "table"];
  let builtinRule = "biEmbedding";
  let summary = "rows of a table selected by ids";
  let description = [{
    `result[..., :] = table[ids[...], :]`. Ids outside `[0, rows)` are a
    run-time error.

    ```mlir
    %x = gpt.embedding %tokens, %wte : tensor<?x?xi32>, tensor<50257x768xf32>
           -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Gpt_I32Tensor:$ids, Gpt_F32Tensor:$table);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $ids `,` $table attr-dict `:` type($ids) `,` type($table) `->`
    type($result)
  }];
}

def Gpt_CrossEntropyOp : Gpt_ShapedOp<"cross_entropy", [Differentiable]> {
  let cost = Gpt_CostPerInput<4>;
  let cpuLowering = "fused";
  let builtin = "cross_entropy";
  let builtinParams = ["logits", "targets", "ignore_index=-100"];
  let builtinRule = "biCrossEntropy";
  let summary = "mean cross entropy of logits against target ids";
  let description = [{
    The mean over all positions whose target is not `ignore_index` of
    `logsumexp(logits) - logits[target]` (PyTorch's `cross_entropy` with
    mean reduction); 0/0 (every target ignored) gives NaN, as PyTorch.

    ```mlir
    %loss = gpt.cross_entropy %logits, %targets {ignore_index = -100 : i64}
              : tensor<?x?x50257xf32>, tensor<?x?xi32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$logits, Gpt_I32Tensor:$targets,
                       I64Attr:$ignore_index);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $logits `,` $targets attr-dict `:` type($logits) `,` type($targets) `->`
    type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Backward-pass operations (built by gradient rules)
//===----------------------------------------------------------------------===//

def Gpt_UnbroadcastOp : Gpt_ShapedOp<"unbroadcast"> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let noGradient = "built by autodiff, not differentiated again";
  let summary = "sums a broadcast gradient back to an operand's shape";
  let description = [{
    The adjoint of broadcasting: sums `input` over the dims that
    broadcasting added or stretched from 1, giving the shape of `like`
    (whose values are not read).

    ```mlir
    %db = gpt.unbroadcast %g to %b : tensor<?x?x768xf32>, tensor<768xf32>
            -> tensor<768xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input, AnyRankedTensor:$like);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $input `to` $like attr-dict `:` type($input) `,` type($like) `->`
    type($result)
  }];
}

def Gpt_BroadcastLikeOp : Gpt_ShapedOp<"broadcast_like", [Gpt_Injective,
                                                           Differentiable]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let summary = "broadcasts a tensor to the shape of another";
  let description = [{
    NumPy broadcasting of `input` to the shape of `like` (whose values are
    not read); the adjoint of a reduction with `keepdim`, and the DSL's
    `expand(x, shape)` and `repeat(x, n, axis)` (with a `gpt.full` as
    `like`).

    ```mlir
    %g = gpt.broadcast_like %s to %x : tensor<?x?x1xf32>, tensor<?x?x768xf32>
           -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input, AnyRankedTensor:$like);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $input `to` $like attr-dict `:` type($input) `,` type($like) `->`
    type($result)
  }];
}

def Gpt_UnsqueezeOp : Gpt_ShapedOp<"unsqueeze", [Gpt_Injective]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let noGradient = "built by autodiff, not differentiated again";
  let summary = "inserts a dim of size 1";
  let description = [{
    ```mlir
    %k = gpt.unsqueeze %s {axis = 2 : i64} : tensor<?x?xf32> -> tensor<?x?x1xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input, I64Attr:$axis);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Gpt_StepOp : Gpt_ShapedOp<"step", [Gpt_Elementwise, Gpt_PositionWise, SameOperandsAndResultType]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let noGradient = "built by autodiff, not differentiated again";
  let summary = "1 where x > 0, else 0";
  let description = [{
    The derivative of `relu`.

    ```mlir
    %d = gpt.step %x : tensor<?x3072xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Gpt_ArgmaxMaskOp : Gpt_ShapedOp<"argmax_mask", [SameOperandsAndResultType]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let noGradient = "built by autodiff, not differentiated again";
  let summary = "1 at the first maximum along an axis, else 0";
  let description = [{
    Where a `max` reduction's gradient goes (PyTorch sends it to the first
    maximal element).

    ```mlir
    %m = gpt.argmax_mask %x {axis = 1 : i64} : tensor<?x10xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input, I64Attr:$axis);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Gpt_GatherOp : Gpt_ShapedOp<"gather", [Gpt_Injective, Differentiable]> {
  let cost = Gpt_NoCost;
  let cpuLowering = "fused";
  let builtin = "gather";
  let builtinParams = ["x", "index", "axis"];
  let builtinRule = "biGather";
  let summary = "elements of x picked along an axis by an index tensor";
  let description = [{
    `result[..., j, ...] = x[..., index[..., j, ...], ...]` along `axis`
    (torch.gather); `index` has the rank of `x`, its other dims 1
    (broadcast) or equal to x's. The result has x's dims, `axis` sized as
    the index's. An index outside `[0, n)` is an error in the interpreter
    and gives NaN in compiled code.

    ```mlir
    %last = gpt.gather %h, %pos {axis = 1 : i64}
              : tensor<?x?x768xf32>, tensor<?x1x1xi32> -> tensor<?x1x768xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input, Gpt_I32Tensor:$index,
                       I64Attr:$axis);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $index attr-dict `:` type($input) `,` type($index) `->`
    type($result)
  }];
}

def Gpt_GatherGradOp : Gpt_ShapedOp<"gather_grad"> {
  let cost = Gpt_CostPerInput<1>;
  let cpuLowering = "fused";
  let noGradient = "built by autodiff, not differentiated again";
  let summary = "the gradient of a gather";
  let description = [{
    Scatter-adds each gradient element back to the position its index
    picked: `result[..., index[..., j, ...], ...] += grad[..., j, ...]`
    along `axis`, zero elsewhere; shaped like `like`.

    ```mlir
    %dh = gpt.gather_grad %g, %pos, %h {axis = 1 : i64}
            : tensor<?x1x768xf32>, tensor<?x1x1xi32>, tensor<?x?x768xf32>
            -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$grad, Gpt_I32Tensor:$index,
                       Gpt_F32Tensor:$like, I64Attr:$axis);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $index `,` $like attr-dict `:` type($grad) `,` type($index) `,`
    type($like) `->` type($result)
  }];
}

def Gpt_EmbeddingGradOp : Gpt_ShapedOp<"embedding_grad"> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let noGradient = "built by autodiff, not differentiated again";
  let summary = "the gradient of an embedding table";
  let description = [{
    Scatter-adds each gradient row into the table row its id selected:
    `result[ids[i], :] += grad[i, :]`, in the order of i, onto `base` when
    given and onto zeros otherwise; shaped like `table`, which is read for
    its shape only. A tied embedding's gradient is the LM head's weight
    gradient plus this scatter: autodiff passes the former as `base`, so
    one pass writes the sum instead of a zero-filled table and an add.

    ```mlir
    %dw = gpt.embedding_grad %g, %ids, %wte
            : tensor<?x?x768xf32>, tensor<?x?xi32>, tensor<50257x768xf32>
            -> tensor<50257x768xf32>
    %dt = gpt.embedding_grad %g, %ids, %wte base %dhead
            : tensor<?x?x768xf32>, tensor<?x?xi32>, tensor<50257x768xf32>,
              tensor<50257x768xf32> -> tensor<50257x768xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$grad, Gpt_I32Tensor:$ids,
                       Gpt_F32Tensor:$table, Optional<Gpt_F32Tensor>:$base);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $ids `,` $table (`base` $base^)? attr-dict `:` type($grad) `,`
    type($ids) `,` type($table) (`,` type($base)^)? `->` type($result)
  }];
}

def Gpt_CrossEntropyGradOp : Gpt_ShapedOp<"cross_entropy_grad"> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let noGradient = "built by autodiff, not differentiated again";
  let summary = "the gradient of cross_entropy with respect to the logits";
  let description = [{
    `grad * (softmax(logits) - onehot(target)) / count` for every position
    whose target is not `ignore_index` (zero for the others), `count` the
    number of such positions.

    ```mlir
    %dl = gpt.cross_entropy_grad %g, %logits, %targets {ignore_index = -100 : i64}
            : tensor<f32>, tensor<?x?x50257xf32>, tensor<?x?xi32>
            -> tensor<?x?x50257xf32>
    ```
  }];
  let arguments = (ins 0DTensorOf<[F32]>:$grad, Gpt_F32Tensor:$logits,
                       Gpt_I32Tensor:$targets, I64Attr:$ignore_index);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $logits `,` $targets attr-dict `:` type($grad) `,`
    type($logits) `,` type($targets) `->` type($result)
  }];
}

def Gpt_UnsplitOp : Gpt_ShapedOp<"unsplit", [Gpt_Injective]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let noGradient = "built by autodiff, not differentiated again";
  let summary = "places a piece's gradient into zeros shaped like the input";
  let description = [{
    The adjoint of `gpt.split`: a tensor shaped like `like`, zero except
    piece `index` of `parts` along `axis`, which holds `input`.

    ```mlir
    %dq = gpt.unsplit %g to %qkv {axis = 2 : i64, parts = 3 : i64, index = 0 : i64}
            : tensor<?x?x768xf32>, tensor<?x?x2304xf32> -> tensor<?x?x2304xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input, AnyRankedTensor:$like,
                       I64Attr:$axis, I64Attr:$parts, I64Attr:$index);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $input `to` $like attr-dict `:` type($input) `,` type($like) `->`
    type($result)
  }];
}

def Gpt_UnsliceOp : Gpt_ShapedOp<"unslice", [Gpt_Injective, AttrSizedOperandSegments]> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "fused";
  let noGradient = "built by autodiff, not differentiated again";
  let summary = "places a slice's gradient into zeros shaped like the input";
  let description = [{
    The adjoint of `gpt.slice` with the same bounds and squeezed dims.

    ```mlir
    %dx = gpt.unslice %g to %x [0, -1, 0] [%B, 0, 768] {squeeze = array<i64: 1>}
            : tensor<?x768xf32>, tensor<?x?x768xf32> -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$input, AnyRankedTensor:$like,
                       Variadic<Index>:$dynamic_starts,
                       DenseI64ArrayAttr:$static_starts,
                       Variadic<Index>:$dynamic_ends,
                       DenseI64ArrayAttr:$static_ends,
                       DenseI64ArrayAttr:$squeeze);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $input `to` $like custom<DynamicIndexList>($dynamic_starts, $static_starts)
    custom<DynamicIndexList>($dynamic_ends, $static_ends)
    attr-dict `:` type($input) `,` type($like) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Attention (formed by --gpt-fuse-attention)
//===----------------------------------------------------------------------===//

def Gpt_AttentionOp : Gpt_MultiResultOp<"attention", [Differentiable]> {
  let cost = Gpt_CustomCost;
  let cpuLowering = "attention";
  let summary = "scaled dot-product attention, optionally causal, with dropout";
  let description = [{
    `dropout(softmax(mask(q @ k^T * scale))) @ v` for q `[..., T, D]`,
    k `[..., S, D]`, v `[..., S, Dv]` with equal batch dims, except that k
    and v may have fewer heads (the last batch dim, dividing q's):
    grouped-query attention, query head h reading key/value head h / G for
    G = q's heads / k's heads, as a `repeat_kv` would; the gradients of k
    and v sum over each group. `causal` masks
    the future (key j > query i, T = S). Dropout with probability `p` acts on
    the attention weights in a training step only, drawing the masks the
    unfused `gpt.dropout` with the same `id` would (docs/RNG.md): fused and
    unfused attention give the same results. `--gpt-fuse-attention` forms
    it from the book's spelling.

    The second result `lse` `[..., T]` is the log-sum-exp of each row of the
    masked, scaled scores: all the gradient needs to recompute the weights
    tile by tile, so no `T x S` matrix is kept or ever materialized (the
    CPU kernel is flash attention with an online softmax).

    ```mlir
    %o, %lse = gpt.attention %q, %k, %v {causal = true, scale = 0.125 : f64,
                                         p = 0.1 : f64, id = 3 : i64}
           : tensor<?x12x?x64xf32>, tensor<?x12x?x64xf32>,
             tensor<?x12x?x64xf32> -> tensor<?x12x?x64xf32>, tensor<?x12x?xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$q, Gpt_F32Tensor:$k, Gpt_F32Tensor:$v,
                       BoolAttr:$causal, F64Attr:$scale, F64Attr:$p,
                       I64Attr:$id);
  let results = (outs Gpt_F32Tensor:$result, Gpt_F32Tensor:$lse);
  let assemblyFormat = [{
    $q `,` $k `,` $v attr-dict `:` type($q) `,` type($k) `,` type($v) `->`
    type($result) `,` type($lse)
  }];
}

def Gpt_AttentionGradOp : Gpt_MultiResultOp<"attention_grad"> {
  let cost = Gpt_CustomCost;
  let cpuLowering = "attention";
  let noGradient = "built by autodiff, not differentiated again";
  let summary = "the gradients of gpt.attention with respect to q, k and v";
  let description = [{
    The flash-attention backward. From the forward's `out` and `lse` it
    recomputes the weights `P = exp(S - lse)` of `S = mask(q k^T scale)`
    tile by tile; with `P'` their dropout (mask `M`, recomputed from the id)
    and `g` the output gradient: `dV = P'^T g`, `dP = (g v^T) M / (1 - p)`,
    `dS = P (dP - rowsum(g out))`, `dQ = scale dS k`, `dK = scale dS^T q`.

    ```mlir
    %dq, %dk, %dv = gpt.attention_grad %g, %q, %k, %v, %o, %lse
            {causal = true, scale = 0.125 : f64, p = 0.1 : f64, id = 3 : i64}
            : tensor<2x12x64x64xf32>, tensor<2x12x64x64xf32>,
              tensor<2x12x64x64xf32>, tensor<2x12x64x64xf32>,
              tensor<2x12x64x64xf32>, tensor<2x12x64xf32>
            -> tensor<2x12x64x64xf32>, tensor<2x12x64x64xf32>,
               tensor<2x12x64x64xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$grad, Gpt_F32Tensor:$q,
                       Gpt_F32Tensor:$k, Gpt_F32Tensor:$v, Gpt_F32Tensor:$out,
                       Gpt_F32Tensor:$lse, BoolAttr:$causal, F64Attr:$scale,
                       F64Attr:$p, I64Attr:$id);
  let results = (outs Gpt_F32Tensor:$dq, Gpt_F32Tensor:$dk,
                      Gpt_F32Tensor:$dv);
  let assemblyFormat = [{
    $grad `,` $q `,` $k `,` $v `,` $out `,` $lse attr-dict `:` type($grad) `,`
    type($q) `,` type($k) `,` type($v) `,` type($out) `,` type($lse) `->`
    type($dq) `,` type($dk) `,` type($dv)
  }];
}

//===----------------------------------------------------------------------===//
// The KV cache (formed by --gpt-kv-cache)
//===----------------------------------------------------------------------===//

def Gpt_CacheWriteOp : Gpt_ShapedOp<"cache_write"> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "cache";
  let noGradient = "inference only";
  let summary = "a KV cache with new keys or values written into it";
  let description = [{
    The cache `[B, H, S, D]` with slots `p_b, ..., p_b + T - 1` of sequence
    `b` replaced by `new[b, :, 0..T-1]` (`new` is `[B, H, T, D]`), where
    `p_b = positions[b, 0]` (`positions` `[B, T]` holds each new token's
    position: consecutive in a row); without `positions`, the tokens go to
    slots `0..T-1` (a prefill). Slots not written keep their values. The
    result has the cache's type; the CPU backend writes in place, so the
    cache operand may have no other reader. It serves inference only and has
    no gradient.

    ```mlir
    %k2 = gpt.cache_write %cache, %k, %positions
            : tensor<?x12x?x64xf32>, tensor<?x12x?x64xf32>, tensor<?x?xi32>
            -> tensor<?x12x?x64xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$cache, Gpt_F32Tensor:$new_entries,
                       Optional<Gpt_I32Tensor>:$positions);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $cache `,` $new_entries (`,` $positions^)? attr-dict `:` type($cache) `,`
    type($new_entries) (`,` type($positions)^)? `->` type($result)
  }];
}

def Gpt_CachedAttentionOp : Gpt_ShapedOp<"cached_attention"> {
  let cost = Gpt_CostPerResult<1>;
  let cpuLowering = "cache";
  let noGradient = "inference only";
  let summary = "causal attention of new tokens over a KV cache";
  let description = [{
    For q `[B, H, T, D]` and caches `[B, H, S, D]` that already hold the new
    tokens' keys and values (`gpt.cache_write`): query `i` of sequence `b`,
    at position `p = positions[b, i]`, attends to the cache slots `0..p`,
    `softmax(q k^T * scale) v` over them. Slots past `p` (not written yet, or
    left from a longer sequence) are masked. The caches may hold `H / G`
    heads (grouped-query attention): query head `h` reads cache head
    `h / G`, so a cache keeps each key/value head once. The decode step
    derived by `--gpt-kv-cache` uses it in place of `gpt.attention`;
    inference only, no dropout, no gradient.

    ```mlir
    %o = gpt.cached_attention %q, %kc, %vc, %positions {scale = 0.125 : f64}
           : tensor<?x12x?x64xf32>, tensor<?x12x?x64xf32>,
             tensor<?x12x?x64xf32>, tensor<?x?xi32> -> tensor<?x12x?x64xf32>
    ```
  }];
  let arguments = (ins Gpt_F32Tensor:$q, Gpt_F32Tensor:$k_cache,
                       Gpt_F32Tensor:$v_cache, Gpt_I32Tensor:$positions,
                       F64Attr:$scale);
  let results = (outs Gpt_F32Tensor:$result);
  let assemblyFormat = [{
    $q `,` $k_cache `,` $v_cache `,` $positions attr-dict `:` type($q) `,`
    type($k_cache) `,` type($v_cache) `,` type($positions) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Kernels (formed by --gpt-fuse)
//===----------------------------------------------------------------------===//

def Gpt_KernelOp : Gpt_Op<"kernel", [IsolatedFromAbove, SingleBlock,
    RecursiveMemoryEffects]> {
  let summary = "a group of ops that becomes one generated kernel";
  let description = [{
    `--gpt-fuse` outlines each group of ops that one kernel computes into a
    `gpt.kernel`. The body is isolated from above: every value it reads is
    an operand (block arguments in the same order, index sizes included),
    and `gpt.yield` names its results. `kind` picks the kernel family:
    `matmul` (a 2-D matrix product with optional transposed operands and a
    bias or bias+GELU epilogue, `trans_a`, `trans_b`, `epilogue`; one
    result; `precision = "bf16"` rounds both operands to bf16 and sums in
    fp32, as gpt-mixed-precision marks them) or `fused` (any other group:
    elementwise chains inlined into their consumer, reductions, gathers,
    layout changes). A `fused` kernel
    of elementwise ops alone may have several results of one shape,
    computed in one pass over their inputs (AdamW's parameter and moments).
    The interpreter runs the body (with a bf16 kernel's operands rounded),
    so fusion can be checked against the unfused function.

    ```mlir
    %y = gpt.kernel "matmul" (%x, %w, %b) {epilogue = "bias"}
        : (tensor<?x?x768xf32>, tensor<768x2304xf32>, tensor<2304xf32>)
        -> tensor<?x?x2304xf32> {
    ^bb0(%x0: tensor<?x?x768xf32>, %w0: tensor<768x2304xf32>,
         %b0: tensor<2304xf32>):
      %0 = gpt.matmul %x0, %w0 : tensor<?x?x768xf32>, tensor<768x2304xf32>
             -> tensor<?x?x2304xf32>
      %1 = gpt.add %0, %b0 : tensor<?x?x2304xf32>, tensor<2304xf32>
             -> tensor<?x?x2304xf32>
      gpt.yield %1 : tensor<?x?x2304xf32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$kind, Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $kind `(` $inputs `)` attr-dict `:` functional-type($inputs, results)
    $body
  }];
  let hasVerifier = 1;
}

def Gpt_YieldOp : Gpt_Op<"yield", [Pure, Terminator,
    HasParent<"KernelOp">]> {
  let summary = "the results of a kernel's body";
  let description = [{
    Ends a `gpt.kernel` body, naming the values the kernel produces, in the
    order of its results.

    ```mlir
    gpt.yield %1 : tensor<?x?x2304xf32>
    gpt.yield %m, %v, %p : tensor<768xf32>, tensor<768xf32>, tensor<768xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$values);
  let assemblyFormat = "$values attr-dict `:` type($values)";
}

#endif // GPTC_IR_GPTOPS_TD
