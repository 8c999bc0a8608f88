//===- ParserTest.cpp - Unit tests of the .gpt parser ---------------------===//

#include "gptc/Frontend/Parser.h"

#include <gtest/gtest.h>

using namespace gptc;
using namespace gptc::ast;

namespace {

std::unique_ptr<Module> parse(SourceManager &sm, const std::string &text) {
  return parseModule(sm.addBuffer("test.gpt", text));
}

/// Parses `expr` as the value of a let and prints it back.
std::string roundTrip(const std::string &expr) {
  SourceManager sm;
  auto m = parse(sm, "def f() { let v = " + expr + " }");
  auto *let = dynCast<LetStmt>(m->defs[0]->body[0].get());
  EXPECT_NE(let, nullptr);
  return let ? toString(*let->value) : "";
}

TEST(Parser, Precedence) {
  EXPECT_EQ(roundTrip("a + b * c"), "(a + (b * c))");
  EXPECT_EQ(roundTrip("a - b - c"), "((a - b) - c)");
  EXPECT_EQ(roundTrip("-a ** 2"), "(-(a ** 2))");
  EXPECT_EQ(roundTrip("a ** b ** c"), "(a ** (b ** c))");
  EXPECT_EQ(roundTrip("a ** -b"), "(a ** (-b))");
  EXPECT_EQ(roundTrip("a @ b + c"), "((a @ b) + c)");
  EXPECT_EQ(roundTrip("not a == b and c"), "((not (a == b)) and c)");
  EXPECT_EQ(roundTrip("a or b and c"), "(a or (b and c))");
}

TEST(Parser, CallsIndexingAndInstances) {
  EXPECT_EQ(roundTrip("f(x, 2, k = 3) as blk[i].proj"),
            "f(x, 2, k=3) as blk[i].proj");
  EXPECT_EQ(roundTrip("x[0, 1:3, :, :-1]"), "x[0, 1:3, :, :(-1)]");
  EXPECT_EQ(roundTrip("[B, T, 4 * C]"), "[B, T, (4 * C)]");
  EXPECT_EQ(roundTrip("@h.0.attn.weight"), "@h.0.attn.weight");
}

TEST(Parser, Declarations) {
  SourceManager sm;
  auto m = parse(sm, R"(
import "lib/x.gpt"
config d: int = 4
config p: float
names hf { "a.*" -> "b.*", "*" -> "*" }
export def forward(x: [..., d], n: int = 2) -> i32[B, T] {
  param w: [d, d] = normal(0.02)
  for i in 0..n { x = x @ w }
  if n > 1 { return x } else if n > 0 { return x } else { return x }
  assert n > 0, "positive"
  return x
}
)");
  ASSERT_EQ(m->imports.size(), 1u);
  EXPECT_EQ(m->imports[0].path, "lib/x.gpt");
  ASSERT_EQ(m->configs.size(), 2u);
  EXPECT_NE(m->configs[0].defaultValue, nullptr);
  EXPECT_EQ(m->configs[1].defaultValue, nullptr);
  ASSERT_EQ(m->names.size(), 1u);
  EXPECT_EQ(m->names[0].rules.size(), 2u);
  ASSERT_EQ(m->defs.size(), 1u);
  const DefDecl &d = *m->defs[0];
  EXPECT_TRUE(d.isExport);
  ASSERT_EQ(d.args.size(), 2u);
  EXPECT_EQ(toString(d.args[0].type), "f32[..., d]");
  ASSERT_EQ(d.results.size(), 1u);
  EXPECT_EQ(toString(d.results[0]), "i32[B, T]");
  ASSERT_EQ(d.body.size(), 5u);
  EXPECT_TRUE(isa<ParamStmt>(d.body[0].get()));
  EXPECT_TRUE(isa<ForStmt>(d.body[1].get()));
  auto *iff = dynCast<IfStmt>(d.body[2].get());
  ASSERT_NE(iff, nullptr);
  ASSERT_EQ(iff->elseBody.size(), 1u);
  EXPECT_TRUE(isa<IfStmt>(iff->elseBody[0].get()));
  EXPECT_EQ(dynCast<AssertStmt>(d.body[3].get())->message, "positive");
}

struct BadSyntax {
  const char *text;
  const char *message;
};

class ParserErrors : public testing::TestWithParam<BadSyntax> {};

TEST_P(ParserErrors, ReportsExpectedToken) {
  SourceManager sm;
  try {
    parse(sm, GetParam().text);
    FAIL() << "expected a syntax error for: " << GetParam().text;
  } catch (const CompileError &e) {
    EXPECT_NE(e.diag.message.find(GetParam().message), std::string::npos)
        << e.diag.message;
    EXPECT_TRUE(e.diag.loc.isValid());
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, ParserErrors,
    testing::Values(
        BadSyntax{"", "empty model file"},
        BadSyntax{"   // only a comment\n", "empty model file"},
        BadSyntax{"let x = 1", "'def', 'export', 'config', 'import' or"},
        BadSyntax{"def f( { }", "an argument name"},
        BadSyntax{"def f(x) { }", "':' and a type"},
        BadSyntax{"def f(x: q16) { }", "unknown type 'q16'"},
        BadSyntax{"def f() { return }", "expected an expression"},
        BadSyntax{"def f() { let = 1 }", "a variable name"},
        BadSyntax{"def f() { 1 + 2 }", "expected a statement"},
        BadSyntax{"def f() { let a = 1 < 2 < 3 }", "cannot be chained"},
        BadSyntax{"def f() { let a = g(k = 1, 2) }", "positional argument"},
        BadSyntax{"def f() { let a = x as y }", "must follow a call"},
        BadSyntax{"def f() { let a = (1)(2) }", "only a def or builtin"},
        BadSyntax{"def f() { param w: int = zeros() }", "must be a tensor"},
        BadSyntax{"config c: [4]", "config values must be"},
        BadSyntax{"def f(x: [B, ...]) { }", "may only stand first"},
        BadSyntax{"names n { \"a*b*\" -> \"c\" }", "at most one '*'"},
        BadSyntax{"def f() { for i in 0 { } }", "'..'"},
        BadSyntax{"def f() { let a = x[] }", "an expression"}));

TEST(Parser, DeepNestingIsAnErrorNotACrash) {
  SourceManager sm;
  std::string deep = "def f() { let a = " + std::string(5000, '(') + "1" +
                     std::string(5000, ')') + " }";
  EXPECT_THROW(parse(sm, deep), CompileError);
  std::string minus = "def f() { let a = " + std::string(5000, '-') + "1 }";
  EXPECT_THROW(parse(sm, minus), CompileError);
}

} // namespace
