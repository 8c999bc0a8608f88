//===- GptTraits.h - Traits of gpt ops --------------------------*- C++ -*-===//
//
// Marker traits declared in GptInterfaces.td; passes ask an op for them
// (`op->hasTrait<OpTrait::Elementwise>()`) instead of listing op names.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_GPTTRAITS_H
#define GPTC_IR_GPTTRAITS_H

#include "mlir/IR/OpDefinition.h"

namespace gptc::gpt::OpTrait {

/// Each result element reads each operand at the same (broadcast) index.
template <typename ConcreteType>
class Elementwise : public mlir::OpTrait::TraitBase<ConcreteType, Elementwise> {
};

/// A layout change or gather: each result element copies one input element.
template <typename ConcreteType>
class Injective : public mlir::OpTrait::TraitBase<ConcreteType, Injective> {};

/// A sequence position of the result reads only that position of the
/// operands of its rank.
template <typename ConcreteType>
class PositionWise
    : public mlir::OpTrait::TraitBase<ConcreteType, PositionWise> {};

/// Cheaper to recompute in each kernel than to load.
template <typename ConcreteType>
class Generator : public mlir::OpTrait::TraitBase<ConcreteType, Generator> {};

} // namespace gptc::gpt::OpTrait

#endif // GPTC_IR_GPTTRAITS_H
