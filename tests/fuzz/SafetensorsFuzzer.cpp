//===- SafetensorsFuzzer.cpp - libFuzzer target for the safetensors reader ===//
//
// Any input must either parse or raise RuntimeError. What parses must
// convert to doubles and survive a write/read round trip unchanged.
// Run: scripts/fuzz.sh safetensors.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Safetensors.h"

#include <cstdlib>

using namespace gptc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char *>(data), size);
  SafetensorsFile f;
  try {
    f = parseSafetensors(bytes, "fuzz.safetensors");
  } catch (const RuntimeError &) {
    return 0;
  }
  for (auto &[name, t] : f.tensors)
    (void)t.toDoubles();
  SafetensorsFile g = parseSafetensors(serializeSafetensors(f), "roundtrip");
  if (g.tensors.size() != f.tensors.size() || g.metadata != f.metadata)
    std::abort();
  for (auto &[name, t] : f.tensors) {
    const TensorData *u = g.find(name);
    if (!u || u->dtype != t.dtype || u->shape != t.shape || u->bytes != t.bytes)
      std::abort();
  }
  return 0;
}
