//===- LexerTest.cpp - Unit tests of the .gpt lexer -----------------------===//

#include "gptc/Frontend/Lexer.h"

#include <gtest/gtest.h>

using namespace gptc;

namespace {

std::vector<Token> lexString(SourceManager &sm, const std::string &text) {
  return lex(sm.addBuffer("test.gpt", text));
}

std::vector<Tok> kinds(const std::vector<Token> &toks) {
  std::vector<Tok> out;
  for (auto &t : toks)
    out.push_back(t.kind);
  return out;
}

TEST(Lexer, KeywordsIdentifiersAndOperators) {
  SourceManager sm;
  auto toks = lexString(sm, "let x = a ** 2 @ w -> ... .. . != <=");
  EXPECT_EQ(kinds(toks),
            (std::vector<Tok>{Tok::KwLet, Tok::Ident, Tok::Assign, Tok::Ident,
                              Tok::StarStar, Tok::IntLit, Tok::At, Tok::Ident,
                              Tok::Arrow, Tok::Ellipsis, Tok::DotDot, Tok::Dot,
                              Tok::NotEq, Tok::LessEq, Tok::Eof}));
  EXPECT_EQ(toks[1].text, "x");
}

TEST(Lexer, NumbersAndRanges) {
  SourceManager sm;
  auto toks = lexString(sm, "0..12 1e-5 0.02 3E2 42");
  ASSERT_EQ(toks.size(), 8u);
  EXPECT_EQ(toks[0].kind, Tok::IntLit);
  EXPECT_EQ(toks[1].kind, Tok::DotDot);
  EXPECT_EQ(toks[2].intValue, 12);
  EXPECT_EQ(toks[3].kind, Tok::FloatLit);
  EXPECT_DOUBLE_EQ(toks[3].floatValue, 1e-5);
  EXPECT_DOUBLE_EQ(toks[4].floatValue, 0.02);
  EXPECT_DOUBLE_EQ(toks[5].floatValue, 300.0);
  EXPECT_EQ(toks[6].intValue, 42);
}

TEST(Lexer, CommentsAndLocations) {
  SourceManager sm;
  auto toks = lexString(sm, "// line comment\n  /* block\n comment */ foo\n");
  ASSERT_EQ(toks.size(), 2u);
  EXPECT_EQ(toks[0].text, "foo");
  EXPECT_EQ(toks[0].loc.line, 3u);
  EXPECT_EQ(toks[0].loc.col, 13u);
}

TEST(Lexer, StringsWithEscapesAndUtf8) {
  SourceManager sm;
  auto toks = lexString(sm, "\"a\\\"b\\n caf\xc3\xa9\"");
  ASSERT_EQ(toks[0].kind, Tok::StringLit);
  EXPECT_EQ(toks[0].text, "a\"b\n caf\xc3\xa9");
}

struct BadInput {
  const char *text;
  const char *message;
  uint32_t line, col;
};

class LexerErrors : public testing::TestWithParam<BadInput> {};

TEST_P(LexerErrors, ReportsLocationAndMessage) {
  SourceManager sm;
  const BadInput &bad = GetParam();
  try {
    lexString(sm, bad.text);
    FAIL() << "expected an error for: " << bad.text;
  } catch (const CompileError &e) {
    EXPECT_NE(e.diag.message.find(bad.message), std::string::npos)
        << e.diag.message;
    EXPECT_EQ(e.diag.loc.line, bad.line);
    EXPECT_EQ(e.diag.loc.col, bad.col);
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, LexerErrors,
    testing::Values(BadInput{"x /* open", "unterminated block comment", 1, 3},
                    BadInput{"\"abc\n\"", "unterminated string", 1, 1},
                    BadInput{"a $ b", "unexpected character '$'", 1, 3},
                    BadInput{"1e+", "malformed exponent", 1, 2},
                    BadInput{"12abc", "after number '12'", 1, 3},
                    BadInput{"ok\n\xff", "invalid UTF-8 byte 0xff", 2, 1},
                    BadInput{"\xc3\x28", "invalid UTF-8", 1, 1},
                    BadInput{"x \xe2\x82\xac", "non-ASCII", 1, 3},
                    BadInput{"\"\\q\"", "unknown escape", 1, 3},
                    BadInput{"99999999999999999999", "does not fit", 1, 1}));

TEST(Utf8, RejectsOverlongAndSurrogates) {
  EXPECT_EQ(findInvalidUtf8("plain"), std::string::npos);
  EXPECT_EQ(findInvalidUtf8("\xf0\x9f\x98\x80"), std::string::npos); // emoji
  EXPECT_EQ(findInvalidUtf8("\xc0\xaf"), 0u);         // overlong '/'
  EXPECT_EQ(findInvalidUtf8("ab\xed\xa0\x80"), 2u);   // surrogate
  EXPECT_EQ(findInvalidUtf8("\xf4\x90\x80\x80"), 0u); // > U+10FFFF
  EXPECT_EQ(findInvalidUtf8("\xe2\x82"), 0u);         // truncated
}

} // namespace
