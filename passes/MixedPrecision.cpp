//===- MixedPrecision.cpp - bf16 operands for the matmul kernels ----------===//
//
// bf16 mixed-precision training rounds the matmuls' operands to bf16 and
// keeps everything else in fp32: the products are most of a training step's
// work and tolerate 8-bit mantissas when summed in fp32, while the norms,
// softmaxes, the loss and AdamW's updates do not. The mark is an attribute
// on the kernel, which the backend's matmul family reads and the
// interpreter honours, so the oracle computes what the executable does.
//
// Algorithm, over every kernel of the module:
//  1. A `matmul` kernel without a `precision` attribute gets
//     precision = "bf16".
//  2. `fused` kernels and kernels that name a precision are left as they
//     are.
//
//===----------------------------------------------------------------------===//

#include "gptc/Passes/Passes.h"

namespace gptc {
#define GEN_PASS_DEF_GPTMIXEDPRECISION
#include "gptc/Passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc::gpt;

namespace {

struct MixedPrecisionPass
    : gptc::impl::GptMixedPrecisionBase<MixedPrecisionPass> {
  void runOnOperation() override {
    Builder b(&getContext());
    getOperation().walk([&](KernelOp kernel) {
      if (kernel.getKind() == "matmul" && !kernel->hasAttr("precision"))
        kernel->setAttr("precision", b.getStringAttr("bf16"));
    });
  }
};

} // namespace
