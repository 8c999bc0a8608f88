//===- PeakBench.cpp - What this machine can do, for every benchmark ------===//
//
// Prints the CPU model, its vector ISA, the fp32 FMA peak of each ISA it
// runs (or of one, with --isa), the vdpbf16ps peak where it has AVX512-BF16
// (bf16 training's products) and the copy and read bandwidths, in the form
// the bench/*.py scripts parse, so each reports against the peak of the ISA in
// use and the bandwidth measured in the same run.
//
//   build/release/bench/gptc-bench-peak [--threads N] [--isa avx2|avx512]
//
//===----------------------------------------------------------------------===//

#include "FmaPeak.h"

#include "gptc/Support/CpuFeatures.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

using namespace gptc::bench;

namespace {

std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "unknown";
}

[[noreturn]] void usage(const char *argv0) {
  std::fprintf(stderr, "usage: %s [--threads N] [--isa avx2|avx512]\n", argv0);
  std::exit(2);
}

} // namespace

int main(int argc, char **argv) {
  int threads = 2;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--isa") && i + 1 < argc)
      only = argv[++i];
    else
      usage(argv[0]);
  }
  if (threads < 1 || threads > 1024 ||
      !(only.empty() || only == "avx2" || only == "avx512"))
    usage(argv[0]);
  bool avx512 = nativeIsa() == Isa::Avx512;
  if (only == "avx512" && !avx512) {
    std::fprintf(stderr, "%s: this CPU has no AVX-512\n", argv[0]);
    return 1;
  }
  std::string features;
  for (const std::string &f : gptc::hostCpuFeatures())
    features += (features.empty() ? "" : " ") + f;
  std::printf("cpu: %s\nfeatures: %s\n", cpuModel().c_str(), features.c_str());
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if ((isa == Isa::Avx512 && !avx512) ||
        (!only.empty() && only != (isa == Isa::Avx512 ? "avx512" : "avx2")))
      continue;
    std::printf("fp32 FMA peak (%s, %d threads): %.1f GFLOP/s\n", isaName(isa),
                threads, fmaPeak(threads, isa));
  }
  if (hasBf16Dot() && (only.empty() || only == "avx512"))
    std::printf("bf16 dot peak (AVX512-BF16, %d threads): %.1f GFLOP/s\n",
                threads, bf16DotPeak(threads));
  std::printf("copy bandwidth (%d threads): %.1f GB/s\n", threads,
              copyBandwidth(threads));
  std::printf("read bandwidth (%d threads): %.1f GB/s\n", threads,
              readBandwidth(threads));
  return 0;
}
