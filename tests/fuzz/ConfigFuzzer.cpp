//===- ConfigFuzzer.cpp - libFuzzer target for the YAML config readers ----===//
//
// Input: a YAML file, read both as a model config (flat keys, typed later by
// the model) and as a training config (keys, types and ranges checked
// here). Either must succeed or raise a CompileError whose diagnostic
// prints; anything else (a crash, a sanitizer report, another exception, a
// hang) is a bug. Run: scripts/fuzz.sh config.
//
//===----------------------------------------------------------------------===//

#include "gptc/Support/Config.h"
#include "gptc/Support/TrainConfig.h"

#include <cstddef>
#include <cstdint>
#include <sstream>

using namespace gptc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  SourceManager sm;
  const SourceFile &file = sm.addBuffer(
      "fuzz.yaml", std::string(reinterpret_cast<const char *>(data), size));
  for (bool training : {false, true}) {
    try {
      if (training)
        parseTrainConfig(file);
      else
        parseConfig(file);
    } catch (const CompileError &e) {
      std::ostringstream os;
      printDiagnostic(os, e.diag);
    }
  }
  return 0;
}
