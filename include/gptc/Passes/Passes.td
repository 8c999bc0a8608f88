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

def GptAutodiff : Pass<"gpt-autodiff", "mlir::ModuleOp"> {
  let summary = "Derives the gradient function of a scalar loss";
  let description = [{
    From `@func` (default `@loss`), which must return one scalar
    `tensor<f32>`, builds `@func_grad`: the same arguments, returning the
    loss and the gradient of every trainable parameter (`gpt.param`
    arguments matching a `trainable` pattern, default all). The backward is
    built in reverse program order from each op's gradient rule, reusing
    the forward values; gradients of values used more than once are summed;
    ops that depend on no trainable parameter get no backward work. Results
    are tagged `gpt.output = "loss"` and `gpt.output = "grad.NAME"`.

    ```mlir
    func.func @loss(%x: tensor<4xf32> {gpt.param = "w"}) -> tensor<f32>
    // gives
    func.func @loss_grad(%x: ...) -> (tensor<f32> {gpt.output = "loss"},
                                      tensor<4xf32> {gpt.output = "grad.w"})
    ```
  }];
  let options = [
    Option<"func", "func", "std::string", "\"loss\"",
           "the function returning the loss">,
    ListOption<"trainable", "trainable", "std::string",
               "patterns of the parameters to differentiate (default *)">,
  ];
  let dependentDialects = ["::gptc::gpt::GptDialect",
                           "::mlir::tensor::TensorDialect"];
}

def GptTrainingStep : Pass<"gpt-training-step", "mlir::ModuleOp"> {
  let summary = "Builds an AdamW training step around a gradient function";
  let description = [{
    From `@func_grad` (made by `--gpt-autodiff`) builds `@train_step`: its
    arguments, then `adam.m.NAME` and `adam.v.NAME` for every trained
    parameter, then the run-time scalars `lr`, `step` (1-based),
    `weight_decay` and, with `clip`, `clip_norm`. It returns the loss, the
    updated parameters, the updated moments and the (unclipped) gradients.
    The update is PyTorch's AdamW: decoupled weight decay on the parameters
    matching `decay` (default all, as the book), bias-corrected moments, and
    with `clip` the gradients scaled by min(1, clip_norm / (norm + 1e-6))
    where norm is their global L2 norm.

    It also builds `@adamw_step`: the same update on gradients given as
    inputs (the trained parameters, `grad.NAME`, the moments and the
    scalars in, the parameters and moments out), for a trainer that sums
    gradients over micro-batches or ranks before stepping.
  }];
  let options = [
    Option<"func", "func", "std::string", "\"loss\"",
           "the loss function whose _grad to step">,
    Option<"beta1", "beta1", "double", "0.9", "AdamW beta1">,
    Option<"beta2", "beta2", "double", "0.999", "AdamW beta2">,
    Option<"eps", "eps", "double", "1e-8", "AdamW epsilon">,
    Option<"clip", "clip", "bool", "true",
           "clip the global gradient norm at the run-time clip_norm">,
    ListOption<"decay", "decay", "std::string",
               "patterns of the parameters with weight decay (default *)">,
  ];
  let dependentDialects = ["::gptc::gpt::GptDialect"];
}


def GptFuse : Pass<"gpt-fuse", "mlir::ModuleOp"> {
  let summary = "Groups ops into kernels (gpt.kernel)";
  let description = [{
    Outlines every group of ops that one generated kernel computes into a
    `gpt.kernel`: matmuls with their transposed operands and bias/GELU
    epilogues (`matmul` kernels), and elementwise chains fused into the
    reduction, gather or store that consumes them (`fused` kernels). Index
    arithmetic stays outside; a reshape of a buffer stays outside as a view.
    Runs after autodiff and the training step, on every function.
  }];
  let dependentDialects = ["gptc::gpt::GptDialect",
                           "mlir::tensor::TensorDialect"];
}


def GptScheduleReductions : Pass<"gpt-schedule-reductions", "mlir::ModuleOp"> {
  let summary = "Runs each reducing kernel as soon as its operands exist";
  let description = [{
    Moves every `fused` kernel whose results are much smaller than what it
    reads (a gradient's sum of squares for clipping, a bias gradient's sum
    over rows) up to just after the last op defining one of its operands,
    so it reads them while they are still in cache. The training step
    reduces all gradients for clipping after the whole backward, when each
    has long left the caches. Runs after gpt-fuse; all ops are pure, so
    only their operands order them.

    ```mlir
    %g = gpt.kernel "matmul"(...)       // a weight gradient
    %h = gpt.kernel "matmul"(...)       // more of the backward
    %s = gpt.kernel "fused"(%g)         // sum(g * g), a scalar
    // becomes
    %g = gpt.kernel "matmul"(...)
    %s = gpt.kernel "fused"(%g)
    %h = gpt.kernel "matmul"(...)
    ```
  }];
}

def GptMixedPrecision : Pass<"gpt-mixed-precision", "mlir::ModuleOp"> {
  let summary = "Runs the matmul kernels on bf16-rounded operands";
  let description = [{
    bf16 mixed-precision training (a training config's `precision: bf16`):
    marks every `matmul` kernel `precision = "bf16"`, so the backend rounds
    both operands to bf16 and sums in fp32 (AVX512-BF16's vdpbf16ps). The
    values between kernels, the weights, AdamW's moments, the loss and every
    `fused` kernel stay fp32, as do attention's products (`gpt.attention`
    computes its scores and softmax in fp32). A kernel that already names a
    precision keeps it. Runs after gpt-fuse.

    ```mlir
    %y = gpt.kernel "matmul"(%x, %w) {epilogue = "none", trans_a = false,
                                      trans_b = false} ...
    // becomes
    %y = gpt.kernel "matmul"(%x, %w) {epilogue = "none", precision = "bf16",
                                      trans_a = false, trans_b = false} ...
    ```
  }];
}

def GptFuseAttention : Pass<"gpt-fuse-attention", "mlir::ModuleOp"> {
  let summary = "Replaces attention written from primitives by gpt.attention";
  let description = [{
    Recognizes `dropout?(softmax(scale/mask(q @ transpose(k)))) @ v` (the
    book's spelling and its variants: scale before or after the mask or on
    q, dropout present or absent) and replaces it by one `gpt.attention`
    with its causal flag, scale, dropout probability and id. Weights used
    elsewhere, or a mask that is not `gpt.causal_mask`, block the fusion.
    Runs before autodiff: gpt.attention has its own gradient rule.
  }];
  let dependentDialects = ["gptc::gpt::GptDialect"];
}

def GptKVCache : Pass<"gpt-kv-cache", "mlir::ModuleOp"> {
  let summary = "Derives KV-cached @prefill and @decode from @forward";
  let description = [{
    From `@forward` (token ids `[B, T]` to logits `[B, T, V]`, attention
    fused) builds the functions of cached generation. `@prefill` runs the
    prompt and writes every layer's keys and values into cache inputs
    `cache.k.N`/`cache.v.N` `[B, H, S, D]`; `@decode` takes new tokens with
    their `positions` `[B, T]`, writes their keys and values at those
    positions and attends over the cache (`gpt.cached_attention`). Both
    return the last position's logits `[B, V]` and the caches (written in
    place by the CPU backend). What `@forward` computes from `arange(T)`
    alone (position embeddings, rotary angles) is rebuilt over `positions`
    with a leading batch dim. Keys and values repeated for grouped-query
    attention are cached before the repeat (`[B, H_kv, S, D]`). Non-causal
    attention, an `arange(T)` that meets the tokens' values other than
    through an elementwise op, or a model without fused attention is an
    error.

    ```mlir
    func.func @forward(%tokens: tensor<?x?xi32> {gpt.input = "tokens"}, ...)
    // adds
    func.func @decode(%tokens: tensor<?x?xi32>, ...,
                      %positions: tensor<?x?xi32> {gpt.input = "positions"},
                      %k0: tensor<?x12x?x64xf32> {gpt.input = "cache.k.0"}, ...)
        -> (tensor<?x50257xf32> {gpt.output = "logits"},
            tensor<?x12x?x64xf32> {gpt.output = "cache.k.0"}, ...)
    ```
  }];
  let options = [
    Option<"func", "func", "std::string", "\"forward\"",
           "the function to derive from">,
  ];
  let dependentDialects = ["::gptc::gpt::GptDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // GPTC_PASSES_PASSES_TD
