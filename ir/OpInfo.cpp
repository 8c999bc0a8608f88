//===- OpInfo.cpp - The gpt op table, without MLIR ------------------------===//

#include "gptc/IR/OpInfo.h"

#include <algorithm>
#include <array>

namespace gptc::ops {

namespace {
constexpr OpInfo kOps[] = {
#define GPT_OP(Mnemonic, Class, Lower, Basis, Flops, Operands, Flags)          \
  {#Mnemonic, #Class, Lowering::Lower, CostBasis::Basis, Flops,                \
   Operands,  Flags},
#include "gptc/IR/GptOpTable.inc"
};
} // namespace

std::span<const OpInfo> allOps() { return kOps; }

const OpInfo *lookupOp(std::string_view mnemonic) {
  auto it = std::lower_bound(
      std::begin(kOps), std::end(kOps), mnemonic,
      [](const OpInfo &o, std::string_view m) { return o.mnemonic < m; });
  return it != std::end(kOps) && it->mnemonic == mnemonic ? &*it : nullptr;
}

double (*unaryFormula(std::string_view mnemonic))(double) {
#define GPT_UNARY_FORMULA_OP(Mnemonic, Class)                                  \
  if (mnemonic == #Mnemonic)                                                   \
    return [](double x) { return formula::Mnemonic##Formula<double>(x); };
#include "gptc/IR/GptOpTable.inc"
  return nullptr;
}

double (*binaryFormula(std::string_view mnemonic))(double, double) {
#define GPT_BINARY_FORMULA_OP(Mnemonic, Class)                                 \
  if (mnemonic == #Mnemonic)                                                   \
    return [](double a, double b) {                                            \
      return formula::Mnemonic##Formula<double>(a, b);                         \
    };
#include "gptc/IR/GptOpTable.inc"
  return nullptr;
}

} // namespace gptc::ops
