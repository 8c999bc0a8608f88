//===- ShapeTest.cpp - Unit tests of symbolic dims and broadcasting -------===//

#include "gptc/Frontend/Shape.h"

#include <gtest/gtest.h>

using namespace gptc;

TEST(Dim, MonomialArithmetic) {
  Dim b = Dim::symbol("B"), t = Dim::symbol("T");
  Dim bt = b * t * Dim(3);
  EXPECT_EQ(bt.str(), "3*B*T");
  EXPECT_EQ(exactDiv(bt, t)->str(), "3*B");
  EXPECT_FALSE(exactDiv(bt, Dim(2)));
  EXPECT_FALSE(exactDiv(b, t));
  EXPECT_EQ(addDims(t, t)->str(), "2*T");
  EXPECT_FALSE(addDims(t, b));
  EXPECT_EQ(*addDims(t, t * Dim(-1)), Dim(0));
  EXPECT_EQ(*addDims(Dim(3), Dim(4)), Dim(7));
}

TEST(Shape, Broadcasting) {
  Dim b = Dim::symbol("B"), t = Dim::symbol("T");
  auto s = broadcastShapes({b, t, 768}, {768});
  ASSERT_TRUE(s);
  EXPECT_EQ(shapeStr(*s), "[B, T, 768]");
  EXPECT_EQ(shapeStr(*broadcastShapes({b, 1, t}, {4, 1})), "[B, 4, T]");
  EXPECT_FALSE(broadcastShapes({b, t}, {b, 3}));
  EXPECT_FALSE(broadcastShapes({t}, {b})); // unknown relation: not assumed
}
