//===- SemaTest.cpp - Unit tests of elaboration ---------------------------===//

#include "gptc/Frontend/Sema.h"
#include "gptc/Frontend/Parser.h"

#include <gtest/gtest.h>

using namespace gptc;

namespace {

/// Elaborates `text` with `key=value` overrides.
Program elaborate(SourceManager &sm, const std::string &text,
                  const std::vector<std::string> &sets = {}) {
  ModelSource src;
  src.modules.push_back(parseModule(sm.addBuffer("test.gpt", text)));
  src.main = src.modules.back().get();
  ConfigFile cfg;
  for (auto &s : sets)
    addOverride(sm, cfg, s);
  return analyze(src, cfg);
}

Program loadGpt2(SourceManager &sm, const std::string &configName,
                 const std::vector<std::string> &sets = {}) {
  std::string root = GPTC_SOURCE_DIR;
  ModelSource src = loadModel(sm, root + "/models/gpt2.gpt", {});
  ConfigFile cfg = loadConfig(sm, root + "/models/configs/" + configName);
  for (auto &s : sets)
    addOverride(sm, cfg, s);
  return analyze(src, cfg);
}

TEST(Sema, Gpt2ParameterCounts) {
  struct Case {
    const char *config;
    std::vector<std::string> sets;
    int64_t params;
  };
  // OpenAI's checkpoints (qkv bias, tied) and the book's figures.
  std::vector<Case> cases = {
      {"gpt2-124m.yaml", {}, 124439808},
      {"gpt2-124m.yaml", {"qkv_bias=false"}, 124412160},
      {"gpt2-124m-book.yaml", {}, 163009536},
      {"gpt2-355m.yaml", {}, 354823168},
      {"gpt2-355m.yaml", {"qkv_bias=false", "tie_embeddings=false"}, 406212608},
      {"gpt2-774m.yaml", {}, 774030080},
      {"gpt2-774m.yaml", {"qkv_bias=false", "tie_embeddings=false"}, 838220800},
      {"gpt2-1558m.yaml", {}, 1557611200},
      {"gpt2-1558m.yaml",
       {"qkv_bias=false", "tie_embeddings=false"},
       1637792000}};
  for (auto &c : cases) {
    SourceManager sm;
    Program p = loadGpt2(sm, c.config, c.sets);
    EXPECT_EQ(p.numParameters(), c.params) << c.config;
  }
}

TEST(Sema, Gpt2Structure) {
  SourceManager sm;
  Program p = loadGpt2(sm, "tiny.yaml");
  const Parameter *cattn = p.findParam("h.1.attn.c_attn.weight");
  ASSERT_NE(cattn, nullptr);
  EXPECT_EQ(cattn->type.str(), "f32[32, 96]");
  EXPECT_EQ(cattn->mappedNames.at("hf"), "transformer.h.1.attn.c_attn.weight");
  EXPECT_EQ(p.findParam("lm_head.weight"), nullptr); // tied

  const Entry *fwd = p.findEntry("forward");
  ASSERT_NE(fwd, nullptr);
  EXPECT_EQ(fwd->symbols, (std::vector<std::string>{"B", "T"}));
  EXPECT_EQ(fwd->nodes[fwd->result].type.str(), "f32[B, T, 256]");
  ASSERT_EQ(fwd->checks.size(), 1u);
  EXPECT_EQ(fwd->checks[0].rhs, Dim(64));

  // Attention is written from primitives: one causal mask and one softmax per
  // layer, the scores [B, n_heads, T, T].
  int masks = 0;
  for (auto &n : fwd->nodes) {
    if (n.op == "causal_mask")
      ++masks;
    if (n.op == "softmax") {
      EXPECT_EQ(n.type.str(), "f32[B, 4, T, T]");
      EXPECT_EQ(n.scope.rfind("h.", 0), 0u) << n.scope;
    }
  }
  EXPECT_EQ(masks, 2);

  const Entry *loss = p.findEntry("loss");
  ASSERT_NE(loss, nullptr);
  EXPECT_EQ(loss->nodes[loss->result].op, "cross_entropy");
  EXPECT_EQ(loss->nodes[loss->result].type.rank(), 0u);
}

TEST(Sema, NodesCarrySourceLocations) {
  SourceManager sm;
  Program p = elaborate(sm, "export def f(x: [B, 4]) -> [B, 4] {\n"
                            "  let y = exp(x)\n"
                            "  return y * 2.0\n"
                            "}\n");
  const Entry &e = p.entries[0];
  EXPECT_EQ(e.nodes[1].op, "exp");
  EXPECT_EQ(e.nodes[1].loc.line, 2u);
  EXPECT_EQ(e.nodes[e.result].op, "mul");
  EXPECT_EQ(e.nodes[e.result].loc.line, 3u);
}

TEST(Sema, SymbolicReshapeAndSplit) {
  SourceManager sm;
  Program p = elaborate(sm, R"(
export def f(x: [B, T, 12]) -> [B, 3, T, 2] {
  let a, b = split(x, 2)
  return transpose(reshape(a, [B, T, 3, -1]), 1, 2)
}
)");
  const Entry &e = p.entries[0];
  EXPECT_EQ(e.nodes[e.result].type.str(), "f32[B, 3, T, 2]");
}

// A naming scheme's config-file entries become JSON in declaration order,
// config values as the config binds them (overrides included), and remember
// which config they come from.
TEST(Sema, SchemeEntriesAreJson) {
  SourceManager sm;
  Program p = elaborate(sm, R"(
config C: int = 4
config eps: float = 0.00001
config tied: bool = true
names hf {
  "*" -> "*"
  "n_embd" = C
  "eps" = eps
  "tie" = tied
  "architectures" = ["Tiny", "say \"hi\""]
  "initializer_range" = 0.02
  "shift" = -3
}
export def forward(x: [B, C]) -> [B, C] { return x }
)",
                        {"C=8"});
  std::vector<std::string> got;
  for (const SchemeEntry &e : p.schemeEntries)
    got.push_back(e.scheme + " " + e.key + " " + e.config + " " + e.json);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "hf n_embd C 8", "hf eps eps 1e-05", "hf tie tied true",
                     R"(hf architectures  ["Tiny","say \"hi\""])",
                     "hf initializer_range  0.02", "hf shift  -3"}));
}

TEST(Sema, LoopCarriedAssignmentAndStaticIf) {
  SourceManager sm;
  Program p = elaborate(sm,
                        R"(
config n: int
config scale: bool = false
def L(x: [B, 4]) -> [B, 4] {
  param w: [4, 4] = normal(0.1)
  return x @ w
}
export def f(x: [B, 4]) -> [B, 4] {
  for i in 0..n { x = L(x) as l[i] }
  if scale { x = x * 2.0 }
  return x
}
)",
                        {"n=5"});
  EXPECT_EQ(p.params.size(), 5u);
  EXPECT_EQ(p.params[4].name, "l.4.w");
  for (auto &n : p.entries[0].nodes)
    EXPECT_NE(n.op, "mul");
}

TEST(Sema, ErrorsNameTheOffendingShapes) {
  SourceManager sm;
  try {
    elaborate(sm, "export def f(x: [B, 4], w: [5, 2]) -> [B, 2] {\n"
                  "  return x @ w\n}\n");
    FAIL();
  } catch (const CompileError &e) {
    EXPECT_EQ(e.diag.message,
              "matmul inner dimensions differ: [B, 4] @ [5, 2] (4 vs 5)");
    EXPECT_EQ(e.diag.loc.line, 2u);
    EXPECT_EQ(e.diag.loc.col, 12u);
  }
}

TEST(Sema, HostileInputsAreBounded) {
  SourceManager sm;
  // Exponential fan-out through nested loops hits the work limit, not the
  // machine's memory.
  EXPECT_THROW(elaborate(sm, R"(
export def f(x: [B]) -> [B] {
  for i in 0..100000 { for j in 0..100000 { x = x + 1.0 } }
  return x
}
)"),
               CompileError);
  EXPECT_THROW(elaborate(sm, R"(
export def f(x: [B]) -> [B] {
  let n = 4611686018427387904 * 4
  return x
}
)"),
               CompileError);
}

} // namespace
