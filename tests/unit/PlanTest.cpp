//===- PlanTest.cpp - The host plan's parser and arena planner ------------===//

#include "gptc/Runtime/Plan.h"
#include "gptc/Support/Error.h"

#include <gtest/gtest.h>

using namespace gptc;

namespace {

// x -> a -> b -> c (output); v is a view of a read by the last call, so a
// lives to the end too.
const char *kChain = R"(gptc-plan 1
kernel 0 k0 fused syms
function f
sym B
value 0 input x f32 B,16
bind B 0 0
value 1 temp f32 B,16
call 0 0 0:B,16 1:B,16
value 2 temp f32 B,16
call 0 0 1:B,16 2:B,16
value 3 temp f32 B,16
call 0 0 2:B,16 3:B,16
value 4 temp f32 B,16
call 0 2*B*16 3:B,16 4:B,16
output c 4
end
)";

TEST(Plan, ParsesAndEvaluatesSizes) {
  Plan p = Plan::parse(kChain);
  ASSERT_EQ(p.kernels.size(), 1u);
  EXPECT_TRUE(p.kernels[0].takesSyms);
  EXPECT_FALSE(p.kernels[0].takesRng);
  const PlanFunction *f = p.find("f");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->calls.size(), 4u);
  EXPECT_EQ(f->calls[3].flops.eval({{"B", 3}}), 96);
  EXPECT_EQ(SymExpr::parse("2*B*T+7").eval({{"B", 2}, {"T", 5}}), 27);
  EXPECT_EQ(SymExpr::parse("3*B*T").str(), "3*B*T");
  EXPECT_THROW(SymExpr::parse("B").eval({}), RuntimeError);
}

TEST(Plan, ArenaReusesDeadBuffersOnly) {
  Plan p = Plan::parse(kChain);
  ArenaPlan a = planArena(*p.find("f"), {{"B", 4}});
  // Four temporaries of 256 bytes: 1 dies when 3 is written, 2 when 4 is.
  EXPECT_EQ(a.unshared, 4 * 256);
  EXPECT_EQ(a.bytes, 2 * 256);
  auto overlap = [&](int x, int y) {
    return a.offsets[x] < a.offsets[y] + 256 &&
           a.offsets[y] < a.offsets[x] + 256;
  };
  // A kernel never writes over its own input.
  EXPECT_FALSE(overlap(1, 2));
  EXPECT_FALSE(overlap(2, 3));
  EXPECT_FALSE(overlap(3, 4));
  EXPECT_EQ(a.offsets[0], -1); // inputs are not in the arena
}

TEST(Plan, ArenaLeavesOutBuffersPlacedElsewhere) {
  Plan p = Plan::parse(kChain);
  // Value 4 (the output) goes to a caller's buffer: the others still get
  // disjoint room where alive together, and 4 none.
  std::vector<bool> elsewhere(5);
  elsewhere[4] = true;
  ArenaPlan a = planArena(*p.find("f"), {{"B", 4}}, elsewhere);
  EXPECT_EQ(a.offsets[4], -1);
  EXPECT_EQ(a.unshared, 3 * 256);
  EXPECT_EQ(a.bytes, 2 * 256);
  EXPECT_NE(a.offsets[1], a.offsets[2]);
  EXPECT_NE(a.offsets[2], a.offsets[3]);
}

TEST(Plan, ViewsKeepTheirBaseAlive) {
  // As kChain, but the last call also reads a view of value 1.
  Plan p = Plan::parse(R"(gptc-plan 1
kernel 0 k0 fused syms
function f
value 0 input x f32 B,16
bind B 0 0
value 1 temp f32 B,16
call 0 0 0:B,16 1:B,16
value 2 temp f32 B,16
call 0 0 1:B,16 2:B,16
value 3 temp f32 B,16
call 0 0 2:B,16 3:B,16
value 4 view 1 f32 16,B
value 5 temp f32 B,16
call 0 0 3:B,16 4:16,B 5:B,16
output c 5
end
)");
  ArenaPlan a = planArena(*p.find("f"), {{"B", 4}});
  EXPECT_EQ(a.bytes, 3 * 256);
  EXPECT_NE(a.offsets[1], a.offsets[3]);
  EXPECT_NE(a.offsets[1], a.offsets[5]);
}

TEST(Plan, RejectsMalformedPlans) {
  EXPECT_THROW(Plan::parse("gptc-plan 2\n"), RuntimeError);
  EXPECT_THROW(Plan::parse("gptc-plan 1\nvalue 0 temp f32 4\n"), RuntimeError);
  EXPECT_THROW(Plan::parse("gptc-plan 1\nfunction f\ncall 3 0 0:4\n"),
               RuntimeError);
  try {
    Plan::parse("gptc-plan 1\nfunction f\nvalue 0 frob f32 4\n");
    FAIL();
  } catch (const RuntimeError &e) {
    EXPECT_STREQ(e.what(), "plan line 3: unknown value kind 'frob'");
  }
  // A temporary is written over an earlier input or parameter only.
  try {
    Plan::parse("gptc-plan 1\nfunction f\nvalue 0 temp f32 4\n"
                "value 1 temp over 0 f32 4\n");
    FAIL();
  } catch (const RuntimeError &e) {
    EXPECT_STREQ(e.what(), "plan line 4: value 1 is over value 0, which is "
                           "not an earlier input or parameter");
  }
  EXPECT_EQ(Plan::parse("gptc-plan 1\ntarget cuda\n").target, "cuda");
  EXPECT_EQ(Plan::parse("gptc-plan 1\n").target, "cpu");
  try {
    Plan::parse("gptc-plan 1\ntarget tpu\n");
    FAIL();
  } catch (const RuntimeError &e) {
    EXPECT_STREQ(e.what(), "plan line 2: unknown target 'tpu'");
  }
}

// The one writer and the one reader agree: every record kind survives a
// round trip, and the text is stable (temporaries declared before the call
// that writes them, binds after their input).
TEST(Plan, SerializeRoundTrips) {
  const std::string text = R"(gptc-plan 1
kernel 0 k0 fused syms
kernel 1 k1 attention rng outs=2
function f
sym B
sym T
value 0 input tokens i32 B,T
bind B 0 0
bind T 0 1
value 1 param w f32 16,8
value 2 temp f32 B,T,8
call 0 0 0:B,T 1:16,8 2:B,T,8
value 3 view 2 f32 B*T,8
value 4 temp f32 B,T,8
value 5 temp f32 B,T
call 1 32*B*T*T 3:B,T,8 3:B,T,8 3:B,T,8 4:B,T,8 5:B,T #7
value 6 temp over 1 f32 16,8
call 0 0 1:16,8 6:16,8
output logits 4
output w 6
check ids 0 16
check ids 0 16 except -100
check dim T 64
require 4 <= T m.gpt:2:20: slice end 4 needs T >= 4
end
init w normal 0.02
rename hf w transformer.w
config n_layers 12
meta hf n_layer n_layers 12
meta hf architectures - ["GPT2LMHeadModel", "a b"]
target cuda
cpu-features sse4.1 avx f16c fma avx2
)";
  Plan p = Plan::parse(text);
  EXPECT_EQ(p.serialize(), text);
  Plan q = Plan::parse(p.serialize());
  ASSERT_EQ(q.functions.size(), 1u);
  EXPECT_EQ(q.functions[0].calls[1].scalars, std::vector<int32_t>{7});
  EXPECT_EQ(q.functions[0].calls[1].firstOutput, 3u);
  EXPECT_EQ(q.functions[0].values[6].over, 1);
  EXPECT_EQ(q.functions[0].values[4].over, -1);
  EXPECT_EQ(q.kernels[1].outputs, 2);
  EXPECT_EQ(q.inits[0].scale, 0.02);
  EXPECT_EQ(q.renames.at("hf").at("w"), "transformer.w");
  EXPECT_FALSE(q.functions[0].checks[0].except.has_value());
  EXPECT_EQ(q.functions[0].checks[1].except, -100);
  ASSERT_EQ(q.meta.size(), 2u);
  EXPECT_EQ(q.meta[0].config, "n_layers");
  EXPECT_EQ(q.meta[1].config, "");
  EXPECT_EQ(q.meta[1].json, R"(["GPT2LMHeadModel", "a b"])");
  EXPECT_EQ(q.target, "cuda");
  EXPECT_EQ(q.cpuFeatures,
            (std::vector<std::string>{"sse4.1", "avx", "f16c", "fma", "avx2"}));
}

// Requirements on the dims keep their message; `T <= n` (the tightest of
// them and the embedding checks) is the function's context.
TEST(Plan, RequirementsBoundTheContext) {
  Plan p = Plan::parse("gptc-plan 1\nfunction f\nsym T\n"
                       "require 4 <= T m.gpt:2:20: slice end 4 needs T >= 4\n"
                       "require T <= 16 m.gpt:7:3: at most 16 tokens\n"
                       "check dim T 1024\nend\n");
  const PlanFunction *f = p.find("f");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->requirements.size(), 2u);
  EXPECT_EQ(f->requirements[0].message, "m.gpt:2:20: slice end 4 needs T >= 4");
  EXPECT_TRUE(f->requirements[0].holds({{"T", 4}}));
  EXPECT_FALSE(f->requirements[0].holds({{"T", 3}}));
  EXPECT_FALSE(f->requirements[1].holds({{"T", 17}}));
  EXPECT_EQ(f->contextLimit(), 16);
  EXPECT_THROW(Plan::parse("gptc-plan 1\nfunction f\nrequire T =< 4 x\n"),
               RuntimeError);
}

} // namespace
