//===- GlobTest.cpp - Parameter name patterns
//------------------------------===//

#include "gptc/Support/Glob.h"

#include <gtest/gtest.h>

using gptc::globMatch;

TEST(Glob, Matches) {
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_TRUE(globMatch("*", "h.0.attn.c_attn.weight"));
  EXPECT_TRUE(globMatch("h.*.attn.*", "h.11.attn.c_proj.bias"));
  EXPECT_TRUE(globMatch("lm_head.weight", "lm_head.weight"));
  EXPECT_TRUE(globMatch("*.bias", "ln_f.bias"));
  EXPECT_TRUE(globMatch("*a*a*", "banana"));
  EXPECT_FALSE(globMatch("h.*.attn.*", "h.1.mlp.c_fc.weight"));
  EXPECT_FALSE(globMatch("*.bias", "ln_f.weight"));
  EXPECT_FALSE(globMatch("wte", "wte.weight"));
  EXPECT_FALSE(globMatch("", "x"));
}
