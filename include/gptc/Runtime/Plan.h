//===- Plan.h - The host program of a compiled model ------------*- C++ -*-===//
//
// What the compiler (backends/lowering/HostProgram.cpp) tells the executable:
// the kernels, and per function the values (inputs, parameters, temporary
// buffers, views), the kernel calls in order and the outputs, with sizes as
// monomials of the symbolic dims. A text, one record per line:
//
//   gptc-plan 1
//   kernel 0 k3f2a... matmul              (index, symbol, family[, syms,
//                                          rng, outs=N for N outputs])
//   function forward
//   sym B
//   value 0 input tokens i32 B,T          (id, kind, [name|base], dtype, shape)
//   bind B 0 0                            (B is dim 0 of value 0)
//   value 5 temp f32 B,T,768
//   value 6 view 5 f32 B*T,768
//   call 0 2*B*T*768*2304 5:B*T,768 1:768,2304 7:B*T,2304   (last: output)
//   call 4 2*B*T*T*768 9:B*12,T,64 ... #3    (#N: an int32 argument)
//   output logits 30
//   check ids 0 50257 | check dim T 1024
//   require 4 <= T model.gpt:2:16: slice end 4 ...  (asserts, slice bounds)
//   end
//   init wte.weight normal 0.02           (how the trainer initializes a
//   init ln_f.bias zeros                   parameter: normal, zeros, ones)
//   rename hf wte.weight transformer.wte.weight   (a naming scheme's name)
//   config n_layers 12                     (the model config's values)
//   target cuda                            (kernels for a GPU; default cpu)
//
// planArena places the temporaries of one call sequence in one arena by
// liveness, once B and T are known.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_PLAN_H
#define GPTC_RUNTIME_PLAN_H

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gptc {

using SymValues = std::map<std::string, int64_t>;

/// A sum of monomials such as `2*B*T*768 + 12` (a dim is one monomial).
struct SymExpr {
  struct Term {
    int64_t coeff = 1;
    std::vector<std::string> syms;
  };
  std::vector<Term> terms;

  static SymExpr parse(const std::string &text);
  /// Throws RuntimeError for an unbound symbol.
  int64_t eval(const SymValues &values) const;
  std::string str() const;
};

using SymShape = std::vector<SymExpr>;

struct PlanKernel {
  std::string symbol, family;
  bool takesSyms = false, takesRng = false;
  int outputs = 1; ///< The last `outputs` arguments of a call are written.
};

struct PlanValue {
  enum Kind { Input, Param, Temp, View } kind = Temp;
  std::string name; ///< Inputs and parameters.
  int base = -1;    ///< Views.
  /// Temporaries: an input or parameter whose buffer this value may take
  /// when the caller donates the run's inputs (Executor::donateInputs):
  /// the kernel writing it is that input's last reader and reads it only
  /// at the element it writes. -1 if none.
  int over = -1;
  std::string dtype;
  SymShape shape;
};

struct PlanArg {
  int value = -1;
  SymShape shape; ///< The shape the kernel sees (matmuls see matrices).
};

struct PlanCall {
  int kernel = -1;
  SymExpr flops;
  std::vector<PlanArg> args;    ///< Inputs, then the outputs.
  size_t firstOutput = 0;       ///< Index of the first output in args.
  std::vector<int32_t> scalars; ///< Passed after the sizes and the seed.
};

struct PlanCheck {
  bool ids = false; ///< ids: value's elements < limit; else dim <= limit.
  int value = -1;
  SymExpr dim;
  int64_t limit = 0;
  /// ids: one value allowed outside [0, limit) (cross-entropy targets'
  /// ignore_index, `check ids V LIMIT except -100`).
  std::optional<int64_t> except;
};

/// A condition on the symbolic dims that the front end could not decide
/// (an assert, a static slice bound on a symbolic dim).
struct PlanRequire {
  SymExpr lhs, rhs;
  std::string rel;     ///< <=, <, >=, >, == or !=.
  std::string message; ///< `file:line:col: what`, for the error.

  bool holds(const SymValues &syms) const;
};

struct PlanFunction {
  std::string name;
  std::vector<std::string> syms;
  struct Bind {
    std::string sym;
    int value, dim;
  };
  std::vector<Bind> binds;
  std::vector<PlanValue> values;
  std::vector<PlanCall> calls;
  std::vector<std::pair<std::string, int>> outputs;
  std::vector<PlanCheck> checks;
  std::vector<PlanRequire> requirements;
  /// Empty when the function's inputs can be cut into row slices (micro-
  /// batches, ranks' shares) that draw the whole batch's dropout masks;
  /// otherwise why not, `file:line:col: what`.
  std::string unsliceable;

  /// Empty when the function returns next-token logits `logits` [B, T, V]
  /// (what generation samples from); otherwise what it returns instead.
  std::string nextTokenLogitsProblem() const;

  /// For each output, the index of the last call that writes its buffer
  /// (-1 for one no call writes): after that call the output is final.
  std::vector<int> completingCalls() const;

  /// The longest sequence the function takes (its `check dim`, or a
  /// requirement `T <= n`), 0 if none.
  int64_t contextLimit() const;
};

struct PlanInit {
  std::string param;
  std::string kind; ///< normal, uniform, zeros or ones.
  double scale = 0; ///< normal's standard deviation, uniform's bound.
};

/// `merge target += scale * (a @ b)`: how exporting folds adapters into
/// the weights they adapt (Sema.h's Merge).
struct PlanMerge {
  std::string target, a, b;
  double scale = 1;
};

/// One key of a naming scheme's config file (Hugging Face's config.json for
/// `hf`): its JSON value and the model config it comes from (empty for a
/// constant), so the runtime writes the file without knowing the model.
struct PlanMeta {
  std::string scheme, key, config, json;
};

struct Plan {
  std::vector<PlanKernel> kernels;
  std::vector<PlanFunction> functions;
  std::vector<PlanInit> inits;
  std::vector<PlanMerge> merges;
  /// Naming scheme (`hf`) -> gptc parameter name -> the scheme's name.
  std::map<std::string, std::map<std::string, std::string>> renames;
  /// Config key -> value, as the compiler printed it.
  std::map<std::string, std::string> config;
  /// The naming schemes' config-file entries, in the model's order.
  std::vector<PlanMeta> meta;
  /// Where the kernels run: cpu, or cuda (`target cuda`).
  std::string target = "cpu";
  /// The CPU features the kernels were built for (`cpu-features avx2 ...`,
  /// CpuFeatures.h); the executable refuses to start without them.
  std::vector<std::string> cpuFeatures;
  /// The training step's matmul operands (`precision bf16`): f32, or bf16
  /// for a training config's precision bf16.
  std::string precision = "f32";

  /// Throws RuntimeError naming the line.
  static Plan parse(const std::string &text);
  /// The text parse reads: the one writer of the format. Each temporary is
  /// declared just before the first call that needs it.
  std::string serialize() const;
  const PlanFunction *find(const std::string &name) const;
};

/// Offsets (bytes) of every Temp value in one arena, -1 for the others.
struct ArenaPlan {
  std::vector<int64_t> offsets;
  int64_t bytes = 0;    ///< The arena's size: the planned peak.
  int64_t unshared = 0; ///< What the temporaries take without reuse.
};

/// Greedy by size: each temporary, largest first, goes to the lowest offset
/// that no temporary alive at the same time occupies. A temporary is alive
/// from the call that writes it to the last call that reads it (or one of
/// its views); outputs live to the end. Temporaries `elsewhere` marks (the
/// caller's output buffers) get no room.
ArenaPlan planArena(const PlanFunction &fn, const SymValues &syms,
                    const std::vector<bool> &elsewhere = {});

size_t planDtypeSize(const std::string &dtype);

} // namespace gptc

#endif // GPTC_RUNTIME_PLAN_H
