//===- GptDialect.h - The gpt dialect ---------------------------*- C++ -*-===//

#ifndef GPTC_IR_GPTDIALECT_H
#define GPTC_IR_GPTDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "gptc/IR/GptDialect.h.inc"

#endif // GPTC_IR_GPTDIALECT_H
