//===- KernelCacheTest.cpp - Kernels are generated once, in parallel
//-------===//

#include "gptc/Backends/KernelCache.h"
#include "gptc/Support/Error.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace gptc;
namespace fs = std::filesystem;

namespace {

KernelDesc matmul(const std::string &name, const std::string &epilogue) {
  KernelDesc d;
  d.family = "matmul";
  d.name = name;
  d.params["epilogue"] = epilogue;
  return d;
}

TEST(KernelCache, GeneratesOnceThenHits) {
  std::string dir = testing::TempDir() + "/gptc-cache-test";
  fs::remove_all(dir);
  KernelCache cache(dir, GPTC_KERNELGEN, "host");
  std::vector<KernelDesc> ks = {matmul("mm_a", "none"), matmul("mm_b", "bias"),
                                matmul("mm_c", "bias_gelu")};
  auto first = cache.build(ks, 2);
  ASSERT_EQ(first.size(), 3u);
  for (auto &k : first) {
    EXPECT_FALSE(k.fromCache) << k.name;
    EXPECT_TRUE(fs::exists(k.object)) << k.object;
    EXPECT_TRUE(fs::exists(k.header)) << k.header;
  }
  auto second = cache.build(ks, 2);
  for (size_t i = 0; i < ks.size(); ++i) {
    EXPECT_TRUE(second[i].fromCache);
    EXPECT_EQ(second[i].object, first[i].object);
  }
  // Another description is another entry; the same name does not collide.
  auto other = cache.build({matmul("mm_a", "bias")}, 1);
  EXPECT_FALSE(other[0].fromCache);
  EXPECT_NE(other[0].object, first[0].object);
  EXPECT_TRUE(fs::exists(cache.runtimeObject()));
  // No temporary files are left behind.
  for (auto &e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(KernelCache, GeneratorErrorsAreReported) {
  std::string dir = testing::TempDir() + "/gptc-cache-test-err";
  KernelCache cache(dir, GPTC_KERNELGEN, "host");
  KernelDesc bad = matmul("mm_bad", "softplus");
  try {
    cache.build({bad}, 1);
    FAIL();
  } catch (const RuntimeError &e) {
    EXPECT_NE(std::string(e.what()).find("unknown epilogue 'softplus'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(KernelCache(dir, "/no/such/generator", "host"), RuntimeError);
}

} // namespace
