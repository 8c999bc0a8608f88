//===- OpInfo.h - The gpt op table, without MLIR ----------------*- C++ -*-===//
//
// What GptOps.td declares of each op, for the parts of gptc that do not link
// MLIR: the front end (builtins, constant folding) and the kernel generator
// (which ops it must lower). gptc-tblgen writes the table from ODS into
// GptOpTable.inc; this header gives it types.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_OPINFO_H
#define GPTC_IR_OPINFO_H

#include <cmath>
#include <span>
#include <string_view>

namespace gptc::ops {

/// Traits and interfaces of an op (GptInterfaces.td).
namespace OpFlag {
enum : unsigned {
  Differentiable = 1u << 0,
  Elementwise = 1u << 1,
  Injective = 1u << 2,
  PositionWise = 1u << 3,
  Generator = 1u << 4,
};
} // namespace OpFlag

/// How the CPU backend computes an op (`cpuLowering` in ODS).
enum class Lowering { fused, attention, cache };

/// What an op's FLOPs are counted per (`cost` in ODS).
enum class CostBasis { none, result, input, custom };

struct OpInfo {
  std::string_view mnemonic; ///< "layer_norm" (gpt.layer_norm)
  std::string_view cppClass; ///< "LayerNormOp"
  Lowering lowering;
  CostBasis costBasis;
  double flopsPerElement;
  unsigned numOperands; ///< Declared operands (a variadic one counts once).
  unsigned flags;       ///< OpFlag bits.

  bool has(unsigned flag) const { return (flags & flag) == flag; }
};

/// Every tensor op of the dialect, sorted by mnemonic.
std::span<const OpInfo> allOps();

/// The op `mnemonic` (without "gpt."), or null.
const OpInfo *lookupOp(std::string_view mnemonic);

/// The scalar formulas of elementwise ops, `<mnemonic>Formula<T>(x)` or
/// `(a, b)`, generic in T (double, float, Halide::Expr).
namespace formula {
inline const double kSqrt2OverPi = std::sqrt(2.0 / M_PI);
/// The scalar counterpart of Halide's select.
inline double select(bool c, double a, double b) { return c ? a : b; }
inline float select(bool c, float a, float b) { return c ? a : b; }
#define GPT_FORMULAS
#include "gptc/IR/GptOpTable.inc"
} // namespace formula

/// The unary formula of `mnemonic` on doubles, or null.
double (*unaryFormula(std::string_view mnemonic))(double);
/// The binary formula of `mnemonic` on doubles, or null.
double (*binaryFormula(std::string_view mnemonic))(double, double);

} // namespace gptc::ops

#endif // GPTC_IR_OPINFO_H
