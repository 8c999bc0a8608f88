//===- ExecutableMain.cpp - main() of the executables gptc builds --------===//
//
// `gptc build` links this with the generated kernels and a small generated
// file holding the plan text and the kernel table (`gptc_plan_text`,
// `gptc_kernel_entries`). It speaks the run contract of DESIGN.md, like
// `gptc run --interpret`: one safetensors file in, one out.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Error.h"
#include "gptc/Runtime/Executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <string>

extern "C" {
extern const char gptc_plan_text[];
extern const gptc::KernelEntry gptc_kernel_entries[];
extern const unsigned gptc_num_kernels;
extern const char gptc_model_description[];
}

using namespace gptc;

namespace {

void usage(std::ostream &os, const char *argv0) {
  os << "usage: " << argv0
     << " --inputs IN.safetensors -o OUT.safetensors [options]\n\n"
     << gptc_model_description
     << "\n\nRuns the compiled model on the tensors of IN (parameters by "
        "name,\n"
        "`tokens` I32[B,T], optional `targets`; for a training step also "
        "`lr`,\n"
        "`step`, `weight_decay`, `clip_norm` and the AdamW moments) and "
        "writes\n"
        "`logits`, `loss` when targets are given, and for a training step the\n"
        "updated parameters, moments and gradients to OUT.\n\n"
        "options:\n"
        "  --threads N   worker threads (default: all cores)\n"
        "  --seed S      dropout seed of a training step (default 0)\n"
        "  --profile     print the time and GFLOP/s of every kernel\n"
        "  --repeat N    run N times; print the median and minimum time of\n"
        "                the run (forward, loss or training step)\n"
        "  -h, --help    this text\n";
}

int64_t parseCount(const std::string &flag, const char *v) {
  char *end = nullptr;
  long long x = std::strtoll(v, &end, 10);
  if (!*v || *end || x < 0)
    throw RuntimeError(flag + " expects a non-negative integer, got '" +
                       std::string(v) + "'");
  return x;
}

} // namespace

int main(int argc, char **argv) {
  std::string inputs, output;
  ExecutorOptions options;
  int64_t repeat = 1;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&]() -> const char * {
        if (i + 1 >= argc)
          throw RuntimeError(a + " needs a value");
        return argv[++i];
      };
      if (a == "-h" || a == "--help") {
        usage(std::cout, argv[0]);
        return 0;
      } else if (a == "--inputs") {
        inputs = value();
      } else if (a == "-o") {
        output = value();
      } else if (a == "--threads") {
        options.threads = static_cast<int>(parseCount(a, value()));
      } else if (a == "--seed") {
        options.seed = static_cast<uint64_t>(parseCount(a, value()));
      } else if (a == "--repeat") {
        repeat = std::max<int64_t>(1, parseCount(a, value()));
      } else if (a == "--profile") {
        options.profile = true;
      } else {
        std::cerr << argv[0] << ": error: unknown argument '" << a << "'\n";
        usage(std::cerr, argv[0]);
        return 2;
      }
    }
    if (inputs.empty() || output.empty()) {
      usage(std::cerr, argv[0]);
      return 2;
    }
    SafetensorsFile in = readSafetensors(inputs);
    Executor exec(
        Plan::parse(gptc_plan_text),
        std::vector<KernelEntry>(gptc_kernel_entries,
                                 gptc_kernel_entries + gptc_num_kernels),
        options);
    std::string fn = "forward";
    uint64_t step = 0;
    if (in.find("targets"))
      fn = in.find("lr") ? "train_step" : "loss";
    if (fn == "train_step") {
      const TensorData *s = in.find("step");
      if (!s || s->numel() != 1 || s->toDoubles()[0] < 1)
        throw RuntimeError(inputs + ": a training step needs 'step', the "
                                    "1-based number of this step (a scalar)");
      step = static_cast<uint64_t>(s->toDoubles()[0]);
    }
    if (!exec.has(fn))
      throw RuntimeError("this executable was built without '" + fn +
                         "' (build with --task=train for training steps)");
    SafetensorsFile out;
    out.metadata["producer"] = argv[0];
    // Timing runs first (outputs not copied), then the run that is kept.
    // With --repeat, one warm-up run (page faults, caches) is not counted.
    std::vector<double> seconds;
    for (int64_t r = repeat > 1 ? -1 : 0; r < repeat; ++r) {
      bool last = r + 1 == repeat;
      auto start = std::chrono::steady_clock::now();
      auto results = exec.run(fn, in, inputs, step, last);
      seconds.push_back(std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - start)
                            .count());
      if (r < 0)
        seconds.clear();
      if (last)
        out.tensors = std::move(results);
    }
    if (fn != "forward")
      for (auto &[name, t] : exec.run("forward", in, inputs))
        out.tensors[name] = std::move(t);
    if (repeat > 1 || options.profile) {
      std::sort(seconds.begin(), seconds.end());
      std::cerr << fn << ": " << std::fixed << std::setprecision(1)
                << seconds[seconds.size() / 2] * 1e3 << " ms median, "
                << seconds.front() * 1e3 << " ms min over " << seconds.size()
                << " runs" << (repeat > 1 ? " after a warm-up run" : "")
                << "\n";
    }
    writeSafetensors(output, out);
    if (options.profile)
      exec.printProfile(std::cerr);
    return 0;
  } catch (const RuntimeError &e) {
    std::cerr << argv[0] << ": error: " << e.what() << "\n";
    return 1;
  }
}
