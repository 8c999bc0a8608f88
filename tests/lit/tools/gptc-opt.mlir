// gptc-opt is an mlir-opt: it parses, runs one pass at a time, and prints.
// The gpt dialect and gptc's passes register here as they land.
// REQUIRES: mlir
// RUN: gptc-opt %s --canonicalize | FileCheck %s
// RUN: gptc-opt --help | FileCheck %s --check-prefix=HELP

// CHECK-LABEL: func.func @fold
// CHECK-NEXT: %[[C:.*]] = arith.constant 5 : i32
// CHECK-NEXT: return %[[C]]
func.func @fold() -> i32 {
  %a = arith.constant 2 : i32
  %b = arith.constant 3 : i32
  %c = arith.addi %a, %b : i32
  return %c : i32
}

// HELP: gptc optimizer driver
// HELP: --canonicalize
