//===- TokenizerFuzzer.cpp - libFuzzer target for tokenizer files ---------===//
//
// Any bytes as a tokenizer file (tiktoken or encoder.json) must either load
// or raise RuntimeError. A tokenizer that loads must encode its own file's
// text losslessly where it is UTF-8, and decode any ids without crashing.
// Run: scripts/fuzz.sh tokenizer.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Tokenizer.h"
#include "gptc/Support/Error.h"

#include <cstdlib>
#include <string>

using namespace gptc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  try {
    Tokenizer tok = Tokenizer::parse(text, "fuzz.tiktoken");
    std::string sample = text.substr(0, 256);
    try {
      std::vector<uint32_t> ids =
          tok.encode(sample, Tokenizer::Special::AsText);
      if (tok.decodeBytes(ids) != sample)
        std::abort(); // a byte-level BPE round-trips valid UTF-8
    } catch (const RuntimeError &) {
      // invalid UTF-8 in the sample
    }
    std::vector<uint32_t> any;
    for (size_t i = 0; i + 4 <= size && any.size() < 64; i += 4)
      any.push_back(static_cast<uint32_t>(data[i]) |
                    static_cast<uint32_t>(data[i + 1]) << 8);
    (void)tok.decode(any);
  } catch (const RuntimeError &) {
  }
  return 0;
}
