//===- CpuFeaturesTest.cpp - What a build needs and a CPU has -------------===//

#include "gptc/Support/CpuFeatures.h"
#include "gptc/Support/Error.h"

#include <gtest/gtest.h>

using namespace gptc;

namespace {

bool has(const std::vector<std::string> &v, const std::string &f) {
  return std::find(v.begin(), v.end(), f) != v.end();
}

TEST(CpuFeatures, TargetsNameWhatTheirKernelsUse) {
  std::vector<std::string> avx2 = targetCpuFeatures("cpu-avx2");
  std::vector<std::string> avx512 = targetCpuFeatures("cpu-avx512");
  EXPECT_TRUE(has(avx2, "avx2") && has(avx2, "fma"));
  EXPECT_FALSE(has(avx2, "avx512f"));
  EXPECT_TRUE(missingCpuFeatures(avx2, avx512).empty())
      << "an AVX-512 CPU runs AVX2 builds";
  EXPECT_EQ(missingCpuFeatures(avx512, avx2),
            (std::vector<std::string>{"avx512f", "avx512dq", "avx512cd",
                                      "avx512bw", "avx512vl"}));
  EXPECT_EQ(targetCpuFeatures("cuda"), avx2);
  // The host's own build needs what the host has, and so runs here.
  EXPECT_EQ(targetCpuFeatures("cpu"), hostCpuFeatures());
  EXPECT_TRUE(
      missingCpuFeatures(targetCpuFeatures("cpu"), hostCpuFeatures()).empty());
  EXPECT_THROW(targetCpuFeatures("arm"), RuntimeError);
}

// Every x86-64 machine gptc runs on (it needs AVX2 for its own kernels'
// peers) reports the AVX2 family, and a feature only with its prerequisites.
TEST(CpuFeatures, HostReportsConsistentFeatures) {
  std::vector<std::string> host = hostCpuFeatures();
  EXPECT_TRUE(has(host, "sse4.1")) << "cpuid leaf 1 not read";
  if (has(host, "avx2"))
    EXPECT_TRUE(has(host, "avx") && has(host, "fma"));
  if (has(host, "avx512bw"))
    EXPECT_TRUE(has(host, "avx512f"));
  for (const std::string &f : host)
    EXPECT_EQ(std::count(host.begin(), host.end(), f), 1) << f;
}

} // namespace
