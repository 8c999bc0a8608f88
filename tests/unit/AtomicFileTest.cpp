//===- AtomicFileTest.cpp - Files written whole or not at all -------------===//

#include "gptc/Support/AtomicFile.h"
#include "gptc/Support/Error.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

using namespace gptc;
namespace fs = std::filesystem;

namespace {

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(AtomicFile, ReplacesOnlyOnCommit) {
  std::string dir = testing::TempDir() + "/atomic";
  fs::create_directories(dir);
  std::string path = dir + "/file";
  writeFileAtomically(path, "old");
  {
    AtomicFile f(path);
    f.write("new, but never committed");
    EXPECT_EQ(readAll(path), "old") << "visible before commit";
  } // an error or a kill between write and commit
  EXPECT_EQ(readAll(path), "old");
  EXPECT_FALSE(fs::exists(path + ".tmp")) << "the temporary is left behind";
  AtomicFile f(path);
  f.write("new");
  f.commit();
  EXPECT_EQ(readAll(path), "new");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

// A temporary left by a killed writer is replaced, not accumulated.
TEST(AtomicFile, ReusesAStaleTemporary) {
  std::string dir = testing::TempDir() + "/atomic-stale";
  fs::create_directories(dir);
  std::ofstream(dir + "/f.tmp") << "half of a killed write";
  writeFileAtomically(dir + "/f", "whole");
  EXPECT_EQ(readAll(dir + "/f"), "whole");
  EXPECT_FALSE(fs::exists(dir + "/f.tmp"));
}

TEST(AtomicFile, FailuresNameTheFileAndTheReason) {
  try {
    writeFileAtomically("/nonexistent-gptc-dir/x", "x");
    FAIL() << "expected an error";
  } catch (const RuntimeError &e) {
    EXPECT_STREQ(e.what(), "cannot write '/nonexistent-gptc-dir/x': No such "
                           "file or directory");
  }
  // /proc/self takes no new files, even for root.
  EXPECT_THROW(writeFileAtomically("/proc/self/x", "x"), RuntimeError);
}

} // namespace
