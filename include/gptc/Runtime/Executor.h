//===- Executor.h - Running a compiled model's host program -----*- C++ -*-===//
//
// The run-time half of a generated executable: binds the inputs of a plan
// function from a safetensors file, derives B and T from them, checks ids
// and lengths, places the temporaries in one arena and calls the generated
// kernels in order (each through its Halide `_argv` entry).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_EXECUTOR_H
#define GPTC_RUNTIME_EXECUTOR_H

#include "gptc/Runtime/Device.h"
#include "gptc/Runtime/Plan.h"
#include "gptc/Runtime/Safetensors.h"

#include <functional>
#include <iosfwd>
#include <memory>
#include <set>

namespace gptc {

using KernelEntry = int (*)(void **args);
/// A matmul kernel's `_pack` (MatmulKernel.cpp): with no host in `packed`,
/// writes the packed extents there (or no dims: b is read as stored); then
/// packs b into it.
using KernelPacker = int (*)(halide_buffer_t *b, halide_buffer_t *packed);

/// How packConstantParameters holds the weights it packs: fp32 as given,
/// rounded to bf16 (half the bytes streamed per decoded token), or int8
/// with a bf16 scale per 32 weights along K (Simd.h's kQBlock; 1.0625
/// bytes a weight).
enum class WeightFormat { F32, BF16, Int8 };

/// "f32", "bf16" or "int8"; the spelling of --weight-format.
const char *weightFormatName(WeightFormat f);

/// The rows of a larger batch a run computes (a micro-batch, or a rank's
/// share of a global batch): dropout masks count elements in the whole
/// batch, so the slices of a batch draw the masks the whole batch would
/// (docs/RNG.md). The default is a whole batch.
struct BatchSlice {
  uint32_t firstRow = 0;
  uint32_t rows = 1; ///< Rows of this run's inputs.
};

struct ExecutorOptions {
  int threads = 0;      ///< 0: all cores.
  bool profile = false; ///< Time every call; printProfile reports them.
  uint64_t seed = 0;    ///< Dropout seed of a training step.
  /// A GPU's memory (CUDA executables); null: host memory.
  std::shared_ptr<Device> device;
  /// Called after each kernel call with the function, the call's index in
  /// it and what the call wrote (each output value whole, in its own
  /// dtype). `--trace` writes these for `gptc run --verify`.
  std::function<void(const std::string &, size_t, std::vector<TensorData>)>
      trace;
};

class Executor {
public:
  /// `entries[i]` is the `_argv` entry of `plan.kernels[i]`, `packers[i]`
  /// its packer if it has one (none, or an empty vector).
  Executor(Plan plan, std::vector<KernelEntry> entries, ExecutorOptions options,
           std::vector<KernelPacker> packers = {});
  ~Executor();
  Executor(const Executor &) = delete;
  Executor &operator=(const Executor &) = delete;

  bool has(const std::string &function) const;

  /// Runs `function` with its inputs and parameters from `in` (by name),
  /// returning its outputs as F32 tensors by name. Throws RuntimeError for
  /// a missing or misshapen tensor, an id out of range, a sequence longer
  /// than the model's context, or a failing kernel. `step` is the training
  /// step's number (dropout masks); `keep`, when given, selects the outputs
  /// copied out (none for timing runs, no gradients for the trainer);
  /// `slice` places the inputs' rows in a larger batch.
  std::map<std::string, TensorData>
  run(const std::string &function, const SafetensorsFile &in,
      const std::string &source, uint64_t step = 0,
      const std::function<bool(const std::string &)> &keep = nullptr,
      BatchSlice slice = {});

  /// Per-kernel time, calls and GFLOP/s of every run so far (since the
  /// last resetProfile), slowest first.
  void printProfile(std::ostream &os) const;
  /// Forgets the runs so far, so a warm-up run's page faults and cold
  /// caches stay out of the profile.
  void resetProfile() { stats.assign(stats.size(), Stat{}); }

  const Plan &getPlan() const { return plan; }

  /// On a device: inputs whose names `keep` accepts are copied there once
  /// and then used as they are, never copied back (parameters during
  /// generation; the KV caches, which the kernels update in place). Other
  /// inputs are copied at every run.
  void keepOnDevice(std::function<bool(const std::string &)> keep) {
    resident = std::move(keep);
  }

  /// On a device: after each run, outputs named like a kept input (a
  /// training step's parameters and moments) replace that input's device
  /// copy, so training state stays on the device; fetch() reads it back.
  void feedOutputsBack(bool on) { feedBack = on; }

  /// Called during each run as soon as the kernel that writes an F32
  /// output last has run, with its name, data and element count (a trainer
  /// starts reducing a layer's gradients while the backward goes on). The
  /// data is valid until the run returns; on a device it is device memory,
  /// written by kernels that may still be queued.
  using OutputReady =
      std::function<void(const std::string &, const float *, int64_t)>;
  void onOutputReady(OutputReady f) { outputReady = std::move(f); }

  /// On the host: a buffer of `bytes` the output `name` is written to, or
  /// nullptr for the arena. An output the caller gives a buffer for is
  /// computed there (or copied there, if it is not a buffer of its own)
  /// and left out of what run returns: a trainer swaps its state with such
  /// buffers instead of copying 3 tensors per parameter each step. The
  /// buffers must not hold an input of the run.
  using OutputBuffer = std::function<void *(const std::string &, int64_t)>;
  void writeOutputsTo(OutputBuffer f) { outputBuffer = std::move(f); }

  /// On the host: runs may write an output the plan marks `over` an input
  /// or parameter (a training step's new weights and moments) into that
  /// tensor of the caller's, which then holds the output instead of the
  /// input. The store to lines just read saves the read of each line a
  /// fresh buffer costs (GPT-2's AdamW kernels: 121 to 65 ms a W1 step).
  /// Outputs the caller gives buffers for (writeOutputsTo) go there
  /// instead.
  void donateInputs(bool on) { donate = on; }
  /// The outputs of `function` a donating run may write over an input or
  /// parameter, each with that input's name.
  std::map<std::string, std::string>
  donatable(const std::string &function) const;

  /// Promises that the parameters `constant` accepts keep their values in
  /// every later run (a generator's weights), and packs those the matmuls
  /// read as b, from `in`, into the panels their kernels read fastest
  /// (Gemm.h step 2b), in `format`: once, here. Returns the parameters no
  /// run reads otherwise: the caller may free them, and later runs do
  /// without them. On the host only; on a device nothing is packed.
  std::set<std::string> packConstantParameters(
      const SafetensorsFile &in,
      const std::function<bool(const std::string &)> &constant,
      WeightFormat format = WeightFormat::F32);

  /// Bytes of the packed weights (packConstantParameters).
  int64_t packedBytes() const;

  /// On a device: the device buffer of input `name` (`bytes` long), made
  /// if needed and marked as uploaded, so a caller can fill it there (an
  /// input `keepOnDevice` accepts is then used as it is).
  void *deviceInput(const std::string &name, int64_t bytes);

  /// The device copy of input `name` (as kept there), on the host; without
  /// a device or before the input was used, nullptr.
  std::unique_ptr<TensorData> fetch(const std::string &name) const;

  bool onDevice() const { return options.device != nullptr; }
  Device *device() const { return options.device.get(); }

private:
  Plan plan;
  std::vector<KernelEntry> entries;
  std::vector<KernelPacker> packers;
  /// A parameter as one kernel's packer laid it out: dense, innermost
  /// extent first.
  struct PackedParam {
    std::vector<int32_t> extents;
    WeightFormat format = WeightFormat::F32;
    std::shared_ptr<void> data; ///< On huge pages where the kernel allows.
  };
  /// By (parameter, packer); an entry without data: read as stored.
  std::map<std::pair<std::string, KernelPacker>, PackedParam> packed;
  /// Parameters no call reads unpacked: runs do without them.
  std::set<std::string> packedOnly;
  /// The packed form of the parameter call `call` reads as b, if any.
  const PackedParam *packedB(const PlanFunction &fn,
                             const PlanCall &call) const;
  ExecutorOptions options;
  struct Stat {
    double seconds = 0, flops = 0;
    int64_t calls = 0;
  };
  std::vector<Stat> stats;
  std::map<std::string, int64_t> arenas; ///< Bytes, per function run.
  /// A function's shapes at one binding of its symbols (Executor.cpp),
  /// kept from run to run: decoding runs the same shapes every token.
  struct Shapes;
  std::map<std::string, std::unique_ptr<Shapes>> shapes;
  /// fn's Shapes at `syms`, worked out again when they differ from the
  /// last run's.
  Shapes &shapesAt(const PlanFunction &fn, const SymValues &syms);
  void *arenaBase = nullptr;
  int64_t arenaCapacity = 0;
  uint8_t *reserveArena(int64_t bytes, const std::string &function);
  /// Device copies of inputs by name (bytes, uploaded once if resident).
  struct DeviceInput {
    void *ptr = nullptr;
    int64_t bytes = 0;
    bool uploaded = false;
  };
  std::map<std::string, DeviceInput> deviceInputs;
  /// Input `name`'s device buffer, (re)allocated to `bytes` (then not yet
  /// uploaded).
  DeviceInput &deviceBuffer(const std::string &name, int64_t bytes);
  std::function<bool(const std::string &)> resident;
  bool feedBack = false;
  bool donate = false;
  OutputReady outputReady;
  OutputBuffer outputBuffer;
};

} // namespace gptc

#endif // GPTC_RUNTIME_EXECUTOR_H
