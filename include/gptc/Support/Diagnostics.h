//===- Diagnostics.h - Source files, locations and error reports -*- C++
//-*-===//
//
// Every user-facing error in gptc (DSL, YAML, flags) is a Diagnostic: a
// location, a message and optional notes. It is thrown as a CompileError and
// printed once at the tool boundary as `file:line:col: error: ...` followed by
// the source line and a caret, so every front-end error looks the same.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_SUPPORT_DIAGNOSTICS_H
#define GPTC_SUPPORT_DIAGNOSTICS_H

#include "gptc/Support/Utf8.h"

#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace gptc {

/// A loaded text file (model source or YAML config).
struct SourceFile {
  std::string path;
  std::string text;
  /// Byte offset of the first character of each line.
  std::vector<size_t> lineStarts;

  SourceFile(std::string path, std::string text);
  /// Returns line `line` (1-based) without its newline.
  std::string_view lineText(uint32_t line) const;
};

/// A position in a SourceFile; line and column are 1-based, column in bytes.
struct Location {
  const SourceFile *file = nullptr;
  uint32_t line = 0;
  uint32_t col = 0;

  bool isValid() const { return file != nullptr; }
  /// `path:line:col`, or `<unknown>`.
  std::string str() const;
};

/// Owns every SourceFile of a compilation so Locations stay valid.
class SourceManager {
public:
  /// Reads `path`; throws CompileError (with `requestedAt` as location, if
  /// valid) when it cannot be read.
  const SourceFile &load(const std::string &path,
                         Location requestedAt = Location());
  /// Registers in-memory text under a display name (tests, fuzzer, stdin).
  const SourceFile &addBuffer(std::string name, std::string text);
  /// Returns the already-loaded file with this canonical path, if any.
  const SourceFile *lookup(const std::string &path) const;

private:
  std::deque<std::unique_ptr<SourceFile>> files;
};

/// One error with its explanatory notes.
struct Diagnostic {
  Location loc;
  std::string message;
  struct Note {
    Location loc;
    std::string message;
  };
  std::vector<Note> notes;

  Diagnostic &note(Location l, std::string msg) {
    notes.push_back({l, std::move(msg)});
    return *this;
  }
};

/// Thrown for any error in user input; caught and printed by the tools.
class CompileError : public std::exception {
public:
  explicit CompileError(Diagnostic d) : diag(std::move(d)) {}
  CompileError(Location loc, std::string message)
      : diag{loc, std::move(message), {}} {}
  const char *what() const noexcept override { return diag.message.c_str(); }

  Diagnostic diag;
};

/// Prints `file:line:col: error: msg`, the source line and a caret; then the
/// notes in the same form.
void printDiagnostic(std::ostream &os, const Diagnostic &diag);

} // namespace gptc

#endif // GPTC_SUPPORT_DIAGNOSTICS_H
