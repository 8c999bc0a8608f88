//===- Lexer.h - Tokens of the gptc model language ----------------*- C++
//-*-===//
//
// The lexer turns a whole SourceFile into a token vector up front: model files
// are small, and a vector gives the parser free lookahead. Comments are `//`
// to end of line and `/* ... */` (not nested). The file must be UTF-8;
// identifiers are ASCII.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_FRONTEND_LEXER_H
#define GPTC_FRONTEND_LEXER_H

#include "gptc/Support/Diagnostics.h"

#include <string>
#include <vector>

namespace gptc {

enum class Tok {
  Eof,
  Ident,
  IntLit,
  FloatLit,
  StringLit,
  // Keywords.
  KwDef,
  KwExport,
  KwLet,
  KwParam,
  KwReturn,
  KwFor,
  KwIn,
  KwIf,
  KwElse,
  KwImport,
  KwConfig,
  KwAs,
  KwAssert,
  KwNames,
  KwWith,
  KwFrozen,
  KwTrainable,
  KwMerge,
  KwTrue,
  KwFalse,
  KwAnd,
  KwOr,
  KwNot,
  // Punctuation and operators.
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  Comma,
  Colon,
  Semicolon,
  Dot,
  DotDot,
  Ellipsis,
  Arrow,
  Assign,
  PlusAssign,
  EqEq,
  NotEq,
  Less,
  LessEq,
  Greater,
  GreaterEq,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  StarStar,
  At,
};

/// Human-readable spelling of a token kind for "expected X" messages.
const char *tokSpelling(Tok kind);

struct Token {
  Tok kind = Tok::Eof;
  /// Identifier name, literal text (strings unescaped), or operator spelling.
  std::string text;
  Location loc;
  int64_t intValue = 0;
  double floatValue = 0;
};

/// Tokenizes `file`; throws CompileError on the first lexical error.
std::vector<Token> lex(const SourceFile &file);

} // namespace gptc

#endif // GPTC_FRONTEND_LEXER_H
