//===- OpTableGen.cpp - The gpt op table, generated from ODS --------------===//
//
// gptc-tblgen -gen-gpt-op-table writes an MLIR-free description of every gpt
// op, so that the parts of gptc that cannot link MLIR (the front end's
// builtin table, the Halide kernel generator) read the same declarations
// the dialect is built from.
//
// Algorithm:
//  1. Collect every record deriving from `Gpt_TensorOp`, sorted by mnemonic.
//  2. Check that each op declares what every stage needs and stop the build
//     with the record's location when one is missing: its cost, how the CPU
//     backend computes it, and either a gradient rule (the Differentiable
//     interface) or the reason it has none.
//  3. Emit X-macro lists (GPT_OP, GPT_FUSED_OP, GPT_UNARY_FORMULA_OP,
//     GPT_BINARY_FORMULA_OP, GPT_BUILTIN) and the scalar formulas as generic
//     C++ templates, usable with doubles (interpreter, constant folding) and
//     Halide expressions.
//
//===----------------------------------------------------------------------===//

#include "mlir/TableGen/GenInfo.h"
#include "mlir/TableGen/Operator.h"
#include "mlir/TableGen/Trait.h"
#include "mlir/Tools/mlir-tblgen/MlirTblgenMain.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/TableGen/Error.h"
#include "llvm/TableGen/Record.h"

#include <algorithm>
#include <set>

using namespace llvm;
using mlir::tblgen::Operator;

namespace {

/// What the generator knows of one op.
struct OpRecord {
  const Record *def;
  std::string mnemonic, cppClass, lowering, costBasis, formula, noGradient;
  int64_t flops = 0;
  unsigned numOperands = 0;
  std::vector<std::string> flags;
  std::string builtin, builtinRule;
  std::vector<std::string> builtinParams;
};

bool hasNativeTrait(const Operator &op, StringRef name) {
  return op.getTrait(("::gptc::gpt::OpTrait::" + name).str()) != nullptr;
}

bool hasInterface(const Operator &op, StringRef name) {
  for (const mlir::tblgen::Trait &t : op.getTraits())
    if (auto *i = dyn_cast<mlir::tblgen::InterfaceTrait>(&t))
      if (i->getFullyQualifiedTraitName() ==
          ("::gptc::gpt::" + name + "::Trait").str())
        return true;
  return false;
}

OpRecord readOp(const Record *def) {
  Operator op(def);
  OpRecord r;
  r.def = def;
  r.mnemonic = op.getOperationName().substr(op.getDialectName().size() + 1);
  r.cppClass = op.getCppClassName().str();
  r.numOperands = op.getNumOperands();

  if (def->isValueUnset("cost"))
    PrintFatalError(def->getLoc(),
                    "gpt." + r.mnemonic +
                        " declares no cost: set `cost` (Gpt_CostPerResult, "
                        "Gpt_CostPerInput, Gpt_NoCost or Gpt_CustomCost)");
  const Record *cost = def->getValueAsDef("cost");
  r.costBasis = cost->getValueAsString("basis").str();
  r.flops = cost->getValueAsInt("flopsPerElement");

  if (def->isValueUnset("cpuLowering"))
    PrintFatalError(def->getLoc(),
                    "gpt." + r.mnemonic +
                        " declares no `cpuLowering` (fused, attention or "
                        "cache)");
  r.lowering = def->getValueAsString("cpuLowering").str();
  static const std::set<std::string> kLowerings = {"fused", "attention",
                                                   "cache"};
  if (!kLowerings.count(r.lowering))
    PrintFatalError(def->getLoc(), "gpt." + r.mnemonic +
                                       ": unknown cpuLowering '" + r.lowering +
                                       "'");

  bool differentiable = hasInterface(op, "Differentiable");
  r.noGradient = def->getValueAsString("noGradient").str();
  if (differentiable == !r.noGradient.empty())
    PrintFatalError(def->getLoc(),
                    "gpt." + r.mnemonic +
                        (differentiable
                             ? " has a gradient rule and a `noGradient` reason"
                             : " has neither a gradient rule (Differentiable) "
                               "nor a `noGradient` reason"));
  if (differentiable)
    r.flags.push_back("Differentiable");
  for (StringRef t : {"Elementwise", "Injective", "PositionWise", "Generator"})
    if (hasNativeTrait(op, t))
      r.flags.push_back(t.str());

  r.formula = def->getValueAsString("formula").str();
  if (!r.formula.empty() && !hasNativeTrait(op, "Elementwise"))
    PrintFatalError(def->getLoc(), "gpt." + r.mnemonic +
                                       ": only elementwise ops have a formula");

  r.builtin = def->getValueAsString("builtin").str();
  r.builtinRule = def->getValueAsString("builtinRule").str();
  for (StringRef p : def->getValueAsListOfStrings("builtinParams"))
    r.builtinParams.push_back(p.str());
  if (!r.builtin.empty() && r.builtinRule.empty())
    PrintFatalError(def->getLoc(), "gpt." + r.mnemonic + ": builtin '" +
                                       r.builtin + "' has no builtinRule");
  return r;
}

/// A builtin parameter "name" or "name=default" as a Sema table entry.
std::string builtinParam(const OpRecord &r, StringRef text) {
  auto [name, def] = text.split('=');
  if (!text.contains('='))
    return formatv("{{\"{0}\", std::nullopt}", name).str();
  std::string ctor;
  if (def == "true" || def == "false")
    ctor = "Value::boolean(" + def.str() + ")";
  else if (def.find_first_of(".eE") != StringRef::npos)
    ctor = "Value::number(" + def.str() + ")";
  else if (int64_t v; !def.getAsInteger(10, v))
    ctor = "Value::integer(" + def.str() + ")";
  else
    PrintFatalError(r.def->getLoc(), "gpt." + r.mnemonic +
                                         ": bad builtin default '" + text +
                                         "' (an int, a float or a bool)");
  return formatv("{{\"{0}\", {1}}", name, ctor).str();
}

bool emitOpTable(const RecordKeeper &records, raw_ostream &os) {
  std::vector<OpRecord> ops;
  for (const Record *def : records.getAllDerivedDefinitions("Gpt_TensorOp"))
    ops.push_back(readOp(def));
  std::sort(ops.begin(), ops.end(), [](const OpRecord &a, const OpRecord &b) {
    return a.mnemonic < b.mnemonic;
  });

  os << "// The gpt op table, generated by gptc-tblgen from GptOps.td.\n"
        "// Do not edit: add or change an op in GptOps.td.\n\n";

  // GPT_OP(mnemonic, class, lowering, cost basis, flops, operands, flags)
  os << "#ifdef GPT_OP\n";
  for (const OpRecord &r : ops) {
    std::string flags;
    for (const std::string &f : r.flags)
      flags += (flags.empty() ? "" : " | ") + ("OpFlag::" + f);
    if (flags.empty())
      flags = "0";
    os << formatv("GPT_OP({0}, {1}, {2}, {3}, {4}, {5}, {6})\n", r.mnemonic,
                  r.cppClass, r.lowering, r.costBasis, r.flops, r.numOperands,
                  flags);
  }
  os << "#undef GPT_OP\n#endif\n\n";

  // Ops the fused kernel family generates: each needs a lowering function.
  os << "#ifdef GPT_FUSED_OP\n";
  for (const OpRecord &r : ops)
    if (r.lowering == "fused")
      os << formatv("GPT_FUSED_OP({0}, {1})\n", r.mnemonic, r.cppClass);
  os << "#undef GPT_FUSED_OP\n#endif\n\n";

  // Elementwise ops defined by a scalar formula, by arity.
  for (auto [arity, macro] : {std::pair<unsigned, StringRef>{1, "UNARY"},
                              std::pair<unsigned, StringRef>{2, "BINARY"}}) {
    os << "#ifdef GPT_" << macro << "_FORMULA_OP\n";
    for (const OpRecord &r : ops)
      if (!r.formula.empty() && r.numOperands == arity)
        os << formatv("GPT_{0}_FORMULA_OP({1}, {2})\n", macro, r.mnemonic,
                      r.cppClass);
    os << "#undef GPT_" << macro << "_FORMULA_OP\n#endif\n\n";
  }

  // The formulas themselves: x for unary ops, a and b for binary ones. The
  // using-declarations let doubles find <cmath> while Halide expressions
  // find Halide's overloads by argument-dependent lookup.
  os << "#ifdef GPT_FORMULAS\n";
  for (const OpRecord &r : ops) {
    if (r.formula.empty())
      continue;
    std::string params =
        r.numOperands == 1 ? "T x" : (r.numOperands == 2 ? "T a, T b" : "");
    if (params.empty())
      PrintFatalError(r.def->getLoc(), "gpt." + r.mnemonic +
                                           ": a formula needs 1 or 2 operands");
    os << formatv("template <class T> T {0}Formula({1}) {{\n"
                  "  using std::cos; using std::exp; using std::log;\n"
                  "  using std::sin; using std::sqrt; using std::tanh;\n"
                  "  return {2};\n}\n",
                  r.mnemonic, params, r.formula);
  }
  os << "#undef GPT_FORMULAS\n#endif\n\n";

  // The DSL's builtins: GPT_BUILTIN(name, rule, {params}).
  os << "#ifdef GPT_BUILTIN\n";
  for (const OpRecord &r : ops) {
    if (r.builtin.empty())
      continue;
    std::string params;
    for (const std::string &p : r.builtinParams)
      params += (params.empty() ? "" : ", ") + builtinParam(r, p);
    os << formatv("GPT_BUILTIN(\"{0}\", {1}, {{{2}})\n", r.builtin,
                  r.builtinRule, params);
  }
  os << "#undef GPT_BUILTIN\n#endif\n";
  return false;
}

mlir::GenRegistration genOpTable("gen-gpt-op-table",
                                 "The MLIR-free table of gpt ops", emitOpTable);

} // namespace

int main(int argc, char **argv) { return mlir::MlirTblgenMain(argc, argv); }
