//===- CpuFeatures.cpp - The x86 vector ISA a machine has and a build needs
//===//

#include "gptc/Support/CpuFeatures.h"
#include "gptc/Support/Error.h"

#include <algorithm>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace gptc {

namespace {

/// The XCR0 bits of the register state a feature family needs enabled.
constexpr uint64_t kAvxState = 0x6;     // SSE and AVX (YMM)
constexpr uint64_t kAvx512State = 0xe6; // + opmask, ZMM_Hi256, Hi16_ZMM
constexpr uint64_t kAmxState = 0x60000; // XTILECFG, XTILEDATA

} // namespace

std::vector<std::string> hostCpuFeatures() {
  std::vector<std::string> out;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return out;
  auto bit = [](unsigned reg, int n) { return (reg >> n) & 1u; };
  bool osxsave = bit(c, 27);
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  bool avxOs = (xcr0 & kAvxState) == kAvxState;
  bool avx512Os = (xcr0 & kAvx512State) == kAvx512State;
  bool amxOs = (xcr0 & kAmxState) == kAmxState;
  if (bit(c, 19))
    out.push_back("sse4.1");
  if (avxOs && bit(c, 28))
    out.push_back("avx");
  if (avxOs && bit(c, 29))
    out.push_back("f16c");
  if (avxOs && bit(c, 12))
    out.push_back("fma");
  unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0;
  if (__get_cpuid_count(7, 0, &a, &b7, &c7, &d7)) {
    unsigned x = 0;
    __get_cpuid_count(7, 1, &a71, &x, &x, &x);
  }
  if (avxOs && bit(b7, 5))
    out.push_back("avx2");
  if (avx512Os) {
    const std::pair<int, const char *> ebx[] = {{16, "avx512f"},
                                                {17, "avx512dq"},
                                                {28, "avx512cd"},
                                                {30, "avx512bw"},
                                                {31, "avx512vl"}};
    for (auto [n, name] : ebx)
      if (bit(b7, n))
        out.push_back(name);
    if (bit(c7, 11))
      out.push_back("avx512vnni");
    if (bit(a71, 5))
      out.push_back("avx512bf16");
    if (bit(d7, 23))
      out.push_back("avx512fp16");
  }
  if (amxOs) {
    const std::pair<int, const char *> edx[] = {
        {24, "amx-tile"}, {25, "amx-int8"}, {22, "amx-bf16"}};
    for (auto [n, name] : edx)
      if (bit(d7, n))
        out.push_back(name);
  }
#endif
  return out;
}

std::vector<std::string> targetCpuFeatures(const std::string &target) {
  std::vector<std::string> avx2 = {"sse4.1", "avx", "f16c", "fma", "avx2"};
  if (target == "host" || target == "cpu")
    return hostCpuFeatures();
  if (target == "cpu-avx2" || target == "cuda")
    return avx2;
  if (target == "cpu-avx512") {
    for (const char *f :
         {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"})
      avx2.push_back(f);
    return avx2;
  }
  throw RuntimeError("unknown target '" + target +
                     "'; expected cpu, cpu-avx2, cpu-avx512 or cuda");
}

std::vector<std::string>
missingCpuFeatures(const std::vector<std::string> &required,
                   const std::vector<std::string> &available) {
  std::vector<std::string> missing;
  for (const std::string &f : required)
    if (std::find(available.begin(), available.end(), f) == available.end())
      missing.push_back(f);
  return missing;
}

} // namespace gptc
