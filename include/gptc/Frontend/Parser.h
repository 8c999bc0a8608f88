//===- Parser.h - Recursive-descent parser for .gpt files ---------*- C++
//-*-===//
//
// Grammar (docs/DSL.md has the user-facing version):
//
//   module   := decl*
//   decl     := 'import' STRING
//             | 'config' IDENT ':' type ('=' expr)?
//             | 'names' IDENT '{' (STRING '->' STRING)* '}'
//             | 'export'? 'def' IDENT '(' args? ')' ('->' type)? block
//   type     := 'int' | 'float' | 'bool' | ELEM? '[' (dim (',' dim)*)? ']'
//   block    := '{' stmt* '}'
//   stmt     := 'let' IDENT (',' IDENT)* '=' expr | IDENT '=' expr
//             | 'param' IDENT ':' type '=' expr | 'return' expr
//             | 'for' IDENT 'in' expr '..' expr block
//             | 'if' expr block ('else' (block | if-stmt))?
//             | 'assert' expr (',' STRING)?
//   expr     := or-expr, with precedence (low to high): or, and, not,
//               comparisons, + -, * / % @, unary -, ** (right), postfix
//               (call, index, `as` instance name).
//
// Statements need no terminator (an optional ';' is accepted): no statement
// starts with a token that could continue an expression.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_FRONTEND_PARSER_H
#define GPTC_FRONTEND_PARSER_H

#include "gptc/Frontend/AST.h"

namespace gptc {

/// Lexes and parses `file`; throws CompileError on the first syntax error.
std::unique_ptr<ast::Module> parseModule(const SourceFile &file);

} // namespace gptc

#endif // GPTC_FRONTEND_PARSER_H
