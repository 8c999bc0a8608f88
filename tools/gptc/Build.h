//===- Build.h - `gptc build`: native executables ---------------*- C++ -*-===//

#ifndef GPTC_TOOLS_BUILD_H
#define GPTC_TOOLS_BUILD_H

#include "mlir/IR/BuiltinOps.h"

#include "gptc/Runtime/Plan.h"

#include <string>
#include <vector>

namespace gptc {

struct BuildOptions {
  std::string task = "forward"; ///< forward | train
  std::string target = "cpu";   ///< cpu (host features) | cpu-avx2 | cpu-avx512
  std::string output;
  std::string cacheDir;    ///< Empty: KernelCache::defaultDir().
  int jobs = 0;            ///< Kernel generators at once; 0: all cores.
  std::string description; ///< Shown by the executable's --help.
  std::string tokenizer;   ///< The trainer's default gpt2.tiktoken.
  /// The executable's default --weight-format: f32, bf16 or int8.
  std::string weightFormat = "f32";
  /// CPU features the kernels need past the target's (a training config's
  /// precision bf16: avx512bf16), which the executable checks at start.
  std::vector<std::string> cpuFeatures;
  /// The training config's precision, which the trainer reports and holds
  /// run-time configs to.
  std::string precision = "f32";
  /// What the plan says about the model rather than its functions: the
  /// trainer's initializers, checkpoint names, the config (no functions).
  Plan model;
};

struct BuildReport {
  size_t kernels = 0, cached = 0;
  double seconds = 0;
};

/// The plan functions a task needs (those the module has are built).
std::vector<std::string> buildEntries(const std::string &task);

/// Builds the executable for a module that went through gpt-fuse. Throws
/// RuntimeError when a kernel cannot be generated or the link fails.
BuildReport buildExecutable(mlir::ModuleOp module, const BuildOptions &options);

/// The kernel descriptions and the plan, as `emit --stage=kernels` shows.
std::string describeKernels(mlir::ModuleOp module, const std::string &task);

/// One kernel of a CUDA build: its PTX, or why it has none.
struct PtxKernel {
  std::string name, family;
  std::string ptxPath; ///< In the kernel cache; empty when not generated.
  std::string note;    ///< Why there is no PTX.
};

/// Generates the kernels of `task` for the CUDA target (`emit --stage=ptx`):
/// fused kernels through Halide's CUDA backend, attention and the KV cache
/// as CUDA C++ (nvcc); matmuls are cuBLASLt calls, listed with a note.
std::vector<PtxKernel> generatePtx(mlir::ModuleOp module,
                                   const std::string &task,
                                   const std::string &cacheDir, int jobs);

/// A fresh path for an executable `gptc run` builds and deletes.
std::string temporaryExecutable();

/// Runs `argv` with the terminal's stdout and stderr; returns its status.
int runExecutable(const std::vector<std::string> &argv);

} // namespace gptc

#endif // GPTC_TOOLS_BUILD_H
