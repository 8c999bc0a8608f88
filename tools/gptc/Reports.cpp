//===- Reports.cpp - Human-readable summaries printed by gptc -------------===//

#include "Reports.h"

#include "gptc/Backends/HostProgram.h"
#include "gptc/IR/GptOps.h"
#include "gptc/Passes/Passes.h"
#include "gptc/Runtime/Plan.h"
#include "gptc/Support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <set>
#include <tuple>

namespace gptc {

std::string groupDigits(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

/// `value` scaled by powers of `base` into the largest fitting unit.
static std::string scaled(double value, double base,
                          std::initializer_list<const char *> units,
                          int decimals) {
  auto unit = units.begin();
  while (value >= base && unit + 1 != units.end()) {
    value /= base;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f %s", decimals, value, *unit);
  return buf;
}

std::string formatBytes(double b) {
  return scaled(b, 1024, {"B", "KiB", "MiB", "GiB", "TiB"}, 1);
}

void printParamTable(std::ostream &os, const Program &prog) {
  size_t wName = 4, wShape = 5, wInit = 4;
  // A frozen parameter says so after its initializer.
  auto init = [](const Parameter &p) {
    return p.init.str() + (p.frozen ? ", frozen" : "");
  };
  for (auto &p : prog.params) {
    wName = std::max(wName, p.name.size());
    wShape = std::max(wShape, shapeStr(p.type.shape).size());
    wInit = std::max(wInit, init(p).size());
  }
  auto row = [&](const std::string &a, const std::string &b,
                 const std::string &c, const std::vector<std::string> &rest) {
    os << std::left << std::setw(wName + 2) << a << std::setw(wShape + 2) << b
       << std::setw(wInit + (rest.empty() ? 0 : 2)) << c;
    for (size_t i = 0; i < rest.size(); ++i)
      os << rest[i] << (i + 1 < rest.size() ? "  " : "");
    os << "\n";
  };
  std::vector<std::string> header(prog.namingSchemes.begin(),
                                  prog.namingSchemes.end());
  os << "# ";
  wName -= 2;
  row("name", "shape", "init", header);
  wName += 2;
  for (auto &p : prog.params) {
    std::vector<std::string> mapped;
    for (auto &s : prog.namingSchemes)
      mapped.push_back(p.mappedNames.at(s));
    row(p.name, shapeStr(p.type.shape), init(p), mapped);
  }
  os << "# " << prog.params.size() << " tensors, "
     << groupDigits(prog.numParameters()) << " parameters";
  if (prog.numParameters(true) != prog.numParameters())
    os << ", " << groupDigits(prog.numParameters(true)) << " trainable";
  os << "\n";
  for (const Merge &m : prog.merges)
    os << "# export merges " << m.target << " += " << m.scale << " * (" << m.a
       << " @ " << m.b << ")\n";
}

static const char *opSpelling(ast::BinaryOp op) { return ast::spelling(op); }

void printInfo(std::ostream &os, const Program &prog,
               const std::string &modelPath, const std::string &configPath) {
  os << "model:  " << modelPath << "\n";
  os << "config: " << (configPath.empty() ? "(defaults)" : configPath) << "\n";
  size_t w = 0;
  for (auto &c : prog.config)
    w = std::max(w, c.name.size());
  for (auto &c : prog.config)
    os << "  " << std::left << std::setw(w + 2) << c.name << c.str()
       << (c.fromDefault ? "  (default)" : "") << "\n";

  os << "\nentry points:\n";
  for (auto &e : prog.entries) {
    os << "  " << e.name << "(";
    for (size_t i = 0; i < e.inputs.size(); ++i) {
      const Node &n = e.nodes[e.inputs[i]];
      os << (i ? ", " : "") << std::get<std::string>(n.attrs[0].second) << ": "
         << n.type.str();
    }
    os << ") -> " << e.nodes[e.result].type.str() << "   "
       << groupDigits(static_cast<int64_t>(e.nodes.size())) << " ops\n";
    for (auto &c : e.checks)
      os << "    requires " << c.lhs.str() << " " << opSpelling(c.op) << " "
         << c.rhs.str() << "\n";
  }

  // Group parameters by their first name component; `h.<i>.` groups count
  // the repeated blocks.
  struct Group {
    std::string name;
    int64_t count = 0;
    std::set<std::string> blocks;
  };
  std::vector<Group> groups;
  for (auto &p : prog.params) {
    std::string first = p.name.substr(0, p.name.find('.'));
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group &g) { return g.name == first; });
    if (it == groups.end()) {
      groups.push_back({first, 0, {}});
      it = groups.end() - 1;
    }
    it->count += p.type.numElements().coeff;
    size_t dot = p.name.find('.');
    if (dot != std::string::npos) {
      std::string second =
          p.name.substr(dot + 1, p.name.find('.', dot + 1) - dot - 1);
      if (!second.empty() &&
          second.find_first_not_of("0123456789") == std::string::npos)
        it->blocks.insert(second);
    }
  }
  int64_t total = prog.numParameters();
  os << "\nparameters: " << groupDigits(total) << " in " << prog.params.size()
     << " tensors (" << formatBytes(4.0 * total) << " as f32)\n";
  size_t gw = 0;
  for (auto &g : groups)
    gw = std::max(gw, g.name.size());
  for (auto &g : groups) {
    char pct[16];
    std::snprintf(pct, sizeof pct, "%5.1f%%",
                  total ? 100.0 * g.count / total : 0.0);
    os << "  " << std::left << std::setw(gw + 2) << g.name << std::right
       << std::setw(14) << groupDigits(g.count) << "  " << pct;
    if (g.blocks.size() > 1)
      os << "  (" << g.blocks.size() << " blocks x "
         << groupDigits(g.count / static_cast<int64_t>(g.blocks.size())) << ")";
    os << "\n";
  }
  os << "training state (parameters, gradients, AdamW moments, f32): "
     << formatBytes(16.0 * total) << "\n";
}

static std::string flops(double f) {
  return scaled(f, 1000, {"FLOP", "KFLOP", "MFLOP", "GFLOP", "TFLOP"}, 2);
}

void printCost(std::ostream &os, const std::string &entry, const Cost &c,
               int64_t tokens) {
  double total = c.matmulFlops + c.otherFlops;
  auto line = [&](const char *what, const std::string &value) {
    os << "    " << std::left << std::setw(44) << what << value << "\n";
  };
  os << "  @" << entry << ":\n";
  bool training = entry == "loss_grad" || entry == "train_step";
  line(entry == "train_step"  ? "FLOPs per token (with AdamW)"
       : entry == "loss_grad" ? "FLOPs per token (forward + backward)"
                              : "FLOPs per token (forward)",
       flops(total / tokens) + "  (matmul " + flops(c.matmulFlops / tokens) +
           ")");
  if (training) {
    if (entry == "loss_grad")
      line("saved activations (read by the backward)",
           formatBytes(static_cast<double>(c.savedBytes)));
    line("peak live tensors",
         formatBytes(static_cast<double>(c.peakLiveBytes)));
    return;
  }
  line("peak live activations",
       formatBytes(static_cast<double>(c.peakLiveBytes)));
  line("attention weights [B, H, T, T]",
       formatBytes(static_cast<double>(c.attentionBytes)));
}

/// `module` after the training pipeline (when it has a loss), with
/// attention fused first when `fuseAttention`.
static mlir::OwningOpRef<mlir::ModuleOp>
trainingVariant(mlir::ModuleOp module, const Program &prog,
                const TrainConfig &train, bool fuseAttention) {
  mlir::OwningOpRef<mlir::ModuleOp> m = module.clone();
  mlir::PassManager pm(module.getContext());
  CompileOptions c;
  c.fuseAttention = fuseAttention;
  c.training = prog.findEntry("loss") != nullptr;
  c.train = train;
  buildCompilePipeline(pm, c);
  if (mlir::failed(pm.run(*m)))
    throw RuntimeError("the training pipeline failed (see above)");
  return m;
}

/// The FLOPs and activation memory of each entry at fixed dims, and the
/// CPU backend's arena, with and without attention fusion. `module` is the
/// front end's output.
void printCosts(std::ostream &os, const Program &prog, mlir::ModuleOp module,
                const TrainConfig &train,
                const std::map<std::string, int64_t> &given) {
  // Every symbolic dim defaults to 1, except T to the context length.
  std::map<std::string, int64_t> dims;
  for (const Entry &e : prog.entries)
    for (const std::string &s : e.symbols)
      dims[s] = 1;
  for (const ConfigValue &c : prog.config)
    if (c.name == "context_length" && dims.count("T"))
      dims["T"] = c.intValue;
  // A lower bound the model requires (x[:, 2:4] needs T >= 4) raises the
  // default.
  for (const Entry &e : prog.entries)
    for (const RuntimeCheck &c : e.checks)
      if (c.op == ast::BinaryOp::Le && c.lhs.isConstant() && c.rhs.coeff == 1 &&
          c.rhs.syms.size() == 1 && c.rhs.syms.begin()->second == 1) {
        int64_t &size = dims[c.rhs.syms.begin()->first];
        size = std::max(size, c.lhs.coeff);
      }
  for (auto &[name, size] : given)
    dims[name] = size;
  // Bind only the symbols the model has.
  std::vector<std::string> bindings;
  std::string shown;
  int64_t tokens = 1;
  for (auto &[name, size] : dims) {
    bool used = false;
    for (const Entry &e : prog.entries)
      used |= std::count(e.symbols.begin(), e.symbols.end(), name) > 0;
    if (!used)
      continue;
    bindings.push_back(name + "=" + std::to_string(size));
    shown += (shown.empty() ? "" : ", ") + name + "=" + std::to_string(size);
    tokens *= size;
  }
  auto costs = [&](mlir::ModuleOp variant) {
    mlir::OwningOpRef<mlir::ModuleOp> specialized = variant.clone();
    mlir::PassManager pm(module.getContext());
    buildSpecializePipeline(pm, bindings);
    if (mlir::failed(pm.run(*specialized)))
      throw RuntimeError("cannot specialize the model to " + shown);
    std::vector<std::pair<std::string, Cost>> result;
    for (auto func : specialized->getOps<mlir::func::FuncOp>()) {
      mlir::FailureOr<Cost> c = estimateCost(func);
      if (mlir::failed(c))
        throw RuntimeError("cannot estimate the cost of @" +
                           func.getName().str());
      result.push_back({func.getName().str(), *c});
    }
    return result;
  };
  mlir::OwningOpRef<mlir::ModuleOp> unfused =
      trainingVariant(module, prog, train, false);
  mlir::OwningOpRef<mlir::ModuleOp> fused =
      trainingVariant(module, prog, train, true);
  os << "\ncost at " << shown << " (" << tokens << " tokens):\n";
  for (auto &[name, c] : costs(*unfused))
    printCost(os, name, c, tokens);
  os << "  with attention fusion (flash attention, the default when "
        "compiling):\n";
  for (auto &[name, c] : costs(*fused))
    if (name != "train_step")
      os << "    @" << name << ": "
         << (name == "loss_grad" ? "saved activations "
                                 : "peak live activations ")
         << formatBytes(static_cast<double>(
                name == "loss_grad" ? c.savedBytes : c.peakLiveBytes))
         << "\n";

  // What generation keeps per token: @decode's cache inputs [B, H, S, D].
  {
    mlir::OwningOpRef<mlir::ModuleOp> cached = fused->clone();
    mlir::PassManager pm(module.getContext());
    CompileOptions c;
    c.kvCache = true;
    buildCompilePipeline(pm, c);
    os << "\ngeneration (--task=generate, KV cache):\n";
    auto decode = mlir::succeeded(pm.run(*cached))
                      ? cached->lookupSymbol<mlir::func::FuncOp>("decode")
                      : nullptr;
    if (!decode) {
      os << "  not available: the model cannot be cached (see the "
            "error above)\n";
    } else {
      int64_t perToken = 0, tensors = 0;
      for (unsigned i = 0; i < decode.getNumArguments(); ++i) {
        auto name = decode.getArgAttrOfType<mlir::StringAttr>(i, "gpt.input");
        if (!name || !name.getValue().starts_with("cache."))
          continue;
        auto type =
            mlir::cast<mlir::RankedTensorType>(decode.getArgument(i).getType());
        perToken += type.getDimSize(1) * type.getDimSize(3) * 4;
        ++tensors;
      }
      int64_t length = dims.count("T") ? dims["T"] : 1;
      int64_t batch = dims.count("B") ? dims["B"] : 1;
      auto line = [&os](const std::string &label, const std::string &value) {
        os << "  " << std::left << std::setw(44) << label << value << "\n";
      };
      line("cache per token of a sequence",
           formatBytes(static_cast<double>(perToken)) + " (" +
               std::to_string(tensors) + " caches [B, H, S, D])");
      line("caches at B=" + std::to_string(batch) +
               ", S=" + std::to_string(length),
           formatBytes(static_cast<double>(perToken * batch * length)));
      // Decoding reads every matmul weight once per token, in the format
      // --weight-format packs it in, and the vectors (norms, biases) in
      // fp32; embedding tables only a row.
      std::set<unsigned> weights;
      decode.walk([&](gpt::MatmulOp mm) {
        mlir::Value b = mm->getOperand(1);
        while (auto t = b.getDefiningOp<gpt::TransposeOp>())
          b = t->getOperand(0);
        if (auto arg = mlir::dyn_cast<mlir::BlockArgument>(b))
          if (decode.getArgAttr(arg.getArgNumber(), "gpt.param"))
            weights.insert(arg.getArgNumber());
      });
      double matmul = 0, vectors = 0;
      for (unsigned i = 0; i < decode.getNumArguments(); ++i) {
        auto type = mlir::dyn_cast<mlir::RankedTensorType>(
            decode.getArgument(i).getType());
        if (!type || !type.hasStaticShape() ||
            !decode.getArgAttr(i, "gpt.param"))
          continue;
        if (weights.count(i))
          matmul += static_cast<double>(type.getNumElements());
        else if (type.getRank() == 1)
          vectors += 4.0 * static_cast<double>(type.getNumElements());
      }
      os << "  weights read per decoded token (--weight-format), and the "
            "tokens/s they allow per 10 GB/s of memory bandwidth:\n";
      // int8: a bf16 scale per 32 weights.
      for (auto [format, bytes] : {std::pair<const char *, double>{"f32", 4},
                                   {"bf16", 2},
                                   {"int8", 1.0625}}) {
        double total = matmul * bytes + vectors;
        char bound[32];
        std::snprintf(bound, sizeof bound, "%.1f tokens/s", 1e10 / total);
        line(std::string("  ") + format, formatBytes(total) + "   " + bound);
      }
    }
  }

  // The CPU backend's memory plan at these sizes: one arena per function,
  // temporaries placed by liveness (runtime/Plan.cpp).
  os << "\nmemory plan (CPU backend arena) at " << shown << ":\n";
  try {
    std::vector<std::string> entries;
    for (const char *name : {"forward", "loss", "train_step"})
      if (fused->lookupSymbol(name))
        entries.push_back(name);
    SymValues syms(dims.begin(), dims.end());
    auto arenas = [&](mlir::ModuleOp variant) {
      mlir::PassManager kernels(module.getContext());
      CompileOptions c;
      c.kernels = true;
      buildCompilePipeline(kernels, c);
      if (mlir::failed(kernels.run(variant)))
        throw RuntimeError("cannot group the model into kernels");
      Plan plan = lowerToHostProgram(variant, entries).plan;
      std::map<std::string, std::tuple<size_t, ArenaPlan, ArenaPlan>> r;
      for (const PlanFunction &fn : plan.functions) {
        // Results written over donated inputs need no arena room.
        std::vector<bool> over(fn.values.size());
        for (size_t i = 0; i < fn.values.size(); ++i)
          over[i] = fn.values[i].over >= 0;
        r[fn.name] = {fn.calls.size(), planArena(fn, syms),
                      planArena(fn, syms, over)};
      }
      return r;
    };
    auto withFusion = arenas(*fused), without = arenas(*unfused);
    for (const std::string &name : entries) {
      auto &[calls, arena, donated] = withFusion.at(name);
      int64_t before = std::get<1>(without.at(name)).bytes;
      os << "  @" << name << ": " << calls << " kernel calls, arena "
         << formatBytes(arena.bytes) << " (" << formatBytes(arena.unshared)
         << " without reuse); " << formatBytes(before)
         << " without attention fusion";
      if (before > arena.bytes)
        os << " (saves " << formatBytes(before - arena.bytes) << ")";
      if (donated.bytes < arena.bytes)
        os << "; " << formatBytes(donated.bytes) << " writing over its inputs";
      os << "\n";
    }
  } catch (const RuntimeError &e) {
    os << "  not available: " << e.what() << "\n";
  }
}

/// `emit --stage=ptx --target=cuda`: each kernel's PTX module, to stdout or,
/// with -o DIR, as DIR/NAME.ptx (one module per file, as ptxas takes them).
} // namespace gptc
