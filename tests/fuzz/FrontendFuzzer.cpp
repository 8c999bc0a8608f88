//===- FrontendFuzzer.cpp - libFuzzer target over the whole front end -----===//
//
// Input: a model, optionally followed by a NUL byte and a YAML config. Runs
// lexer, parser, config loading and elaboration, and prints any diagnostic.
// Every outcome but a CompileError (a crash, a sanitizer report, another
// exception, a hang) is a bug. Run: scripts/fuzz.sh.
//
//===----------------------------------------------------------------------===//

#include "gptc/Frontend/Parser.h"
#include "gptc/Frontend/Sema.h"
#include "gptc/Support/Config.h"

#include <cstddef>
#include <cstdint>
#include <sstream>

using namespace gptc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string input(reinterpret_cast<const char *>(data), size);
  size_t nul = input.find('\0');
  std::string model = input.substr(0, nul);
  SourceManager sm;
  try {
    ModelSource src;
    src.modules.push_back(parseModule(sm.addBuffer("fuzz.gpt", model)));
    src.main = src.modules.back().get();
    std::ostringstream ast;
    ast::dump(ast, *src.main);
    ConfigFile cfg;
    if (nul != std::string::npos)
      cfg = parseConfig(sm.addBuffer("fuzz.yaml", input.substr(nul + 1)));
    analyze(src, cfg);
  } catch (const CompileError &e) {
    std::ostringstream os;
    printDiagnostic(os, e.diag);
  }
  return 0;
}
