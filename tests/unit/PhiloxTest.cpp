//===- PhiloxTest.cpp - The dropout RNG
//------------------------------------===//

#include "gptc/Runtime/Philox.h"

#include <gtest/gtest.h>

using namespace gptc;

// Known-answer vectors of Philox4x32-10 from the Random123 distribution.
TEST(Philox, KnownAnswers) {
  using A4 = std::array<uint32_t, 4>;
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}),
            (A4{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                       {0xffffffff, 0xffffffff}),
            (A4{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                       {0xa4093822, 0x299f31d0}),
            (A4{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, DropoutKeepsAboutOneMinusP) {
  int kept = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i)
    kept += dropoutKeeps(0.1, 42, 7, 3, i);
  EXPECT_NEAR(kept / double(n), 0.9, 0.005);
  // Every coordinate changes the mask.
  int sameStep = 0, sameOp = 0, sameSeed = 0;
  for (int i = 0; i < 1000; ++i) {
    bool k = dropoutKeeps(0.5, 42, 7, 3, i);
    sameStep += k == dropoutKeeps(0.5, 42, 8, 3, i);
    sameOp += k == dropoutKeeps(0.5, 42, 7, 4, i);
    sameSeed += k == dropoutKeeps(0.5, 43, 7, 3, i);
  }
  EXPECT_LT(sameStep, 600);
  EXPECT_LT(sameOp, 600);
  EXPECT_LT(sameSeed, 600);
  EXPECT_GT(sameStep, 400);
}
