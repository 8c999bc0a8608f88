//===- ShapeTest.cpp - Symbolic dims, broadcasting and the shape rules ----===//

#include "gptc/Frontend/Shape.h"
#include "gptc/IR/ShapeRules.h"

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

// The unknown dim (the IR's `?`) is compatible with every dim and stays
// unknown through products; symbols are not assumed equal.
TEST(Dim, UnknownIsCompatibleWithAnything) {
  Dim q = Dim::unknown(), t = Dim::symbol("T");
  EXPECT_EQ(q.str(), "?");
  EXPECT_TRUE(compatible(q, Dim(768)));
  EXPECT_TRUE(compatible(t, q));
  EXPECT_FALSE(compatible(t, Dim::symbol("B")));
  EXPECT_TRUE((q * Dim(3)).isUnknown());
  EXPECT_EQ(shapeStr(*broadcastShapes({q, 8}, {4, 1})), "[4, 8]");
}

// One rule serves both callers: the front end's symbolic shapes and the
// IR's static sizes with unknown dims.
TEST(ShapeRules, SymbolicAndUnknownShapes) {
  Dim b = Dim::symbol("B"), t = Dim::symbol("T"), q = Dim::unknown();
  shapes::Result r = shapes::matmul({b, t, 768}, {768, 2304});
  ASSERT_FALSE(r.failed()) << r.error;
  EXPECT_EQ(shapeStr(r.shape), "[B, T, 2304]");
  r = shapes::matmul({q, q, 768}, {768, 2304});
  ASSERT_FALSE(r.failed()) << r.error;
  EXPECT_EQ(shapeStr(r.shape), "[?, ?, 2304]");
  r = shapes::matmul({b, 4}, {5, 2});
  EXPECT_EQ(r.error,
            "matmul inner dimensions differ: [B, 4] @ [5, 2] (4 vs 5)");
  // An unknown dim divides at run time; a symbolic one must divide exactly.
  EXPECT_FALSE(shapes::split({q, 10}, 0, 3, 0).failed());
  EXPECT_EQ(shapeStr(shapes::split({b * Dim(6)}, 0, 3, 2).shape), "[2*B]");
  EXPECT_TRUE(shapes::split({t}, 0, 3, 0).failed());
  EXPECT_TRUE(shapes::split({Dim(9)}, 0, 3, 3).failed());
  EXPECT_TRUE(shapes::reshape({b, 12}, {b, 5}).failed());
  EXPECT_FALSE(shapes::reshape({q, 12}, {b, 5}).failed());
}

TEST(ShapeRules, SliceBoundsNameTheDim) {
  Dim t = Dim::symbol("T");
  shapes::Result r = shapes::slice({4, 8}, {0, 6}, {4, 10}, {});
  EXPECT_EQ(r.error, "slice end 10 is past the end of dim 1 (size 8)");
  EXPECT_EQ(r.operand, 1);
  r = shapes::slice({16, 8}, {0, 0}, {t, 8}, {});
  ASSERT_FALSE(r.failed()) << r.error;
  EXPECT_EQ(shapeStr(r.shape), "[T, 8]");
  // x[:, -1, :] drops the indexed dim.
  r = shapes::slice({2, t, 8}, {0, -1, 0}, {2, 0, 8}, {1});
  EXPECT_EQ(shapeStr(r.shape), "[2, 8]");
  EXPECT_TRUE(shapes::slice({t}, {t}, {t}, {}).failed()); // empty
}

TEST(ShapeRules, AttentionAndLayerNorm) {
  Dim b = Dim::symbol("B"), t = Dim::symbol("T");
  shapes::Result r =
      shapes::attention({b, 12, t, 64}, {b, 12, t, 64}, {b, 12, t, 64}, true);
  EXPECT_EQ(shapeStr(r.shape), "[B, 12, T, 64]");
  EXPECT_TRUE(
      shapes::attention({b, 12, t, 64}, {b, 12, t, 32}, {b, 12, t, 64}, false)
          .failed());
  r = shapes::layerNorm({b, t, 8}, {8}, {7});
  EXPECT_EQ(r.operand, 2);
  EXPECT_EQ(r.error,
            "layer_norm's shift must be [8] (the last dim of [B, T, 8]), "
            "got [7]");
}
