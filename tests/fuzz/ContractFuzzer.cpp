//===- ContractFuzzer.cpp - libFuzzer target for the run contract's inputs ===//
//
// Input: a safetensors file, as the run contract takes it (--inputs). It is
// read, and run through the executor of a real plan (GPTC_FUZZ_PLAN: the
// output of `gptc emit --stage=kernels --task=train`, which scripts/fuzz.sh
// writes for the tiny GPT-2) with every kernel replaced by a no-op. So
// everything the executor checks before the kernels run (names, dtypes,
// shapes, symbolic dims, token ids, sizes, a training step's scalars) and
// everything it sizes from the inputs (arenas, buffers) meets hostile
// tensors. RuntimeError is the one allowed failure. Run: scripts/fuzz.sh
// contract.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Executor.h"
#include "gptc/Runtime/Safetensors.h"
#include "gptc/Support/Error.h"
#include "gptc/Support/ReadFile.h"

#include "HalideRuntime.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

using namespace gptc;

// The Halide runtime calls the executor makes; the real runtime comes
// with generated kernels, and there are none here.
extern "C" halide_error_handler_t
halide_set_error_handler(halide_error_handler_t handler) {
  return handler;
}
extern "C" int halide_set_num_threads(int n) { return n; }
extern "C" halide_do_par_for_t
halide_set_custom_do_par_for(halide_do_par_for_t parFor) {
  return parFor;
}

namespace {

int noKernel(void **) { return 0; }

std::unique_ptr<Executor> executor;

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const char *path = std::getenv("GPTC_FUZZ_PLAN");
  if (!path) {
    std::fprintf(stderr, "set GPTC_FUZZ_PLAN to `gptc emit --stage=kernels "
                         "--task=train` output (scripts/fuzz.sh does)\n");
    std::exit(2);
  }
  std::string text = readFileBounded(path, kMaxSourceBytes, "the plan");
  size_t start = text.find("gptc-plan ");
  Plan plan = Plan::parse(text.substr(start == std::string::npos ? 0 : start));
  std::vector<KernelEntry> kernels(plan.kernels.size(), noKernel);
  ExecutorOptions options;
  options.threads = 1;
  executor =
      std::make_unique<Executor>(std::move(plan), std::move(kernels), options);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    SafetensorsFile in = parseSafetensors(
        {reinterpret_cast<const char *>(data), size}, "fuzz.safetensors");
    // The function the run contract picks for these inputs.
    std::string fn = !in.find("targets") ? "forward"
                     : in.find("lr")     ? "train_step"
                                         : "loss";
    uint64_t step = 0;
    if (const TensorData *s = in.find("step"))
      if (s->numel() == 1 && s->toDoubles()[0] >= 1 && s->toDoubles()[0] < 1e9)
        step = static_cast<uint64_t>(s->toDoubles()[0]);
    executor->run(fn, in, "fuzz.safetensors", step);
  } catch (const RuntimeError &) {
  }
  return 0;
}
