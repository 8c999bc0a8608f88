//===- TokenizerBench.cpp - GPT-2 BPE encode throughput
//--------------------===//
//
// Encodes a text file on one thread and prints MB/s: the first pass (empty
// piece cache, as for a one-off file) and the best of later passes.
//
//   gptc-bench-tokenizer data/tinyshakespeare.txt
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Tokenizer.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

using namespace gptc;

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: gptc-bench-tokenizer FILE [TOKENIZER]\n");
    return 2;
  }
  std::string tokPath = argc > 2 ? argv[2] : GPTC_DATA_DIR "/gpt2.tiktoken";
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  Tokenizer tok = Tokenizer::load(tokPath);
  double mb = text.size() / 1e6, first = 0, best = 1e30;
  size_t tokens = 0;
  for (int pass = 0; pass < 5; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    tokens = tok.encode(text).size();
    double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    if (pass == 0)
      first = s;
    else
      best = std::min(best, s);
  }
  std::printf("gptc   %zu tokens  first pass %.1f MB/s  steady %.1f MB/s\n",
              tokens, mb / first, mb / best);
  return 0;
}
