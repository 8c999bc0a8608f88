//===- gptc-opt.cpp - mlir-opt for gptc's dialects and passes -------------===//
//
// Runs any registered pass on a .mlir file, one at a time, as mlir-opt does;
// the lit tests of every gptc pass drive it, and of the host lowering
// (gpt-lower-to-host-program, which prints kernel descriptions and plan).
// Registers only the dialects gptc uses, to keep its build and start-up small.
//
//===----------------------------------------------------------------------===//

#include "gptc/Backends/HostProgram.h"
#include "gptc/IR/GptDialect.h"
#include "gptc/IR/SymbolicShapes.h"
#include "gptc/Passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses();
  gptc::registerGptPasses();
  gptc::registerLowerToHostProgramPass();
  gptc::gpt::registerPrintSymbolicShapesPass();
  mlir::DialectRegistry registry;
  registry.insert<gptc::gpt::GptDialect, mlir::arith::ArithDialect,
                  mlir::func::FuncDialect, mlir::tensor::TensorDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "gptc optimizer driver\n", registry));
}
