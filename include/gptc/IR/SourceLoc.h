//===- SourceLoc.h - From MLIR locations back to the .gpt source -*- C++
//-*-===//
//
// MLIRGen gives every op the location of the DSL expression that made it:
// a FileLineColLoc, inside a CallSiteLoc per def call that led to it
// (innermost first, each caller named `Def instance`) and a NameLoc with
// the op's instance scope (`h.3.attn`). These helpers turn such a location
// back into a front-end Diagnostic, so errors found after the front end
// (passes, lowering, `gptc run --verify`) print like the front end's: the
// .gpt line with a caret, then the call chain.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_SOURCELOC_H
#define GPTC_IR_SOURCELOC_H

#include "gptc/Support/Diagnostics.h"
#include "gptc/Support/Error.h"

#include "mlir/IR/Location.h"

#include <string>

namespace gptc {

/// The .gpt position of `loc` (the callee's FileLineColLoc, through NameLoc,
/// CallSiteLoc and FusedLoc wrappers) in a file `sm` has loaded; invalid if
/// there is none.
Location sourceLocation(mlir::Location loc, const SourceManager &sm);

/// The instance scope of `loc` (`h.3.attn`), empty at an entry's top level.
std::string scopeOf(mlir::Location loc);

/// `file:line:col (in scope)` of `loc`, for messages without the source.
std::string describeLoc(mlir::Location loc);

/// An error `message` at `loc`, with a note for each call site that led
/// there ("in 'Block' called here as 'h.3'").
Diagnostic diagnosticAt(mlir::Location loc, std::string message,
                        const SourceManager &sm);

/// An error at an op, found after the front end (lowering, the
/// interpreter). what() is `file:line:col (in scope): message`; the gptc
/// driver prints it as diagnosticAt(loc, message) while the MLIRContext
/// that owns `loc` lives.
class LocatedError : public RuntimeError {
public:
  LocatedError(mlir::Location loc, const std::string &message)
      : RuntimeError(describeLoc(loc) + ": " + message), loc(loc),
        message(message) {}

  mlir::Location loc;
  std::string message;
};

/// How MLIRGen names a call site in a CallSiteLoc: the def and the
/// instance scope of the call.
std::string callSiteName(const std::string &def, const std::string &scope);

} // namespace gptc

#endif // GPTC_IR_SOURCELOC_H
