//===- Lexer.cpp - Tokens of the gptc model language ----------------------===//

#include "gptc/Frontend/Lexer.h"

#include <cerrno>
#include <cstdlib>
#include <unordered_map>

namespace gptc {

const char *tokSpelling(Tok k) {
  switch (k) {
  case Tok::Eof:
    return "end of file";
  case Tok::Ident:
    return "identifier";
  case Tok::IntLit:
    return "integer literal";
  case Tok::FloatLit:
    return "float literal";
  case Tok::StringLit:
    return "string literal";
  case Tok::KwDef:
    return "'def'";
  case Tok::KwExport:
    return "'export'";
  case Tok::KwLet:
    return "'let'";
  case Tok::KwParam:
    return "'param'";
  case Tok::KwReturn:
    return "'return'";
  case Tok::KwFor:
    return "'for'";
  case Tok::KwIn:
    return "'in'";
  case Tok::KwIf:
    return "'if'";
  case Tok::KwElse:
    return "'else'";
  case Tok::KwImport:
    return "'import'";
  case Tok::KwConfig:
    return "'config'";
  case Tok::KwAs:
    return "'as'";
  case Tok::KwAssert:
    return "'assert'";
  case Tok::KwNames:
    return "'names'";
  case Tok::KwWith:
    return "'with'";
  case Tok::KwFrozen:
    return "'frozen'";
  case Tok::KwTrainable:
    return "'trainable'";
  case Tok::KwMerge:
    return "'merge'";
  case Tok::KwTrue:
    return "'true'";
  case Tok::KwFalse:
    return "'false'";
  case Tok::KwAnd:
    return "'and'";
  case Tok::KwOr:
    return "'or'";
  case Tok::KwNot:
    return "'not'";
  case Tok::LParen:
    return "'('";
  case Tok::RParen:
    return "')'";
  case Tok::LBracket:
    return "'['";
  case Tok::RBracket:
    return "']'";
  case Tok::LBrace:
    return "'{'";
  case Tok::RBrace:
    return "'}'";
  case Tok::Comma:
    return "','";
  case Tok::Colon:
    return "':'";
  case Tok::Semicolon:
    return "';'";
  case Tok::Dot:
    return "'.'";
  case Tok::DotDot:
    return "'..'";
  case Tok::Ellipsis:
    return "'...'";
  case Tok::Arrow:
    return "'->'";
  case Tok::PlusAssign:
    return "'+='";
  case Tok::Assign:
    return "'='";
  case Tok::EqEq:
    return "'=='";
  case Tok::NotEq:
    return "'!='";
  case Tok::Less:
    return "'<'";
  case Tok::LessEq:
    return "'<='";
  case Tok::Greater:
    return "'>'";
  case Tok::GreaterEq:
    return "'>='";
  case Tok::Plus:
    return "'+'";
  case Tok::Minus:
    return "'-'";
  case Tok::Star:
    return "'*'";
  case Tok::Slash:
    return "'/'";
  case Tok::Percent:
    return "'%'";
  case Tok::StarStar:
    return "'**'";
  case Tok::At:
    return "'@'";
  }
  return "token";
}

namespace {

class Lexer {
public:
  explicit Lexer(const SourceFile &f) : file(f), src(f.text) {}

  std::vector<Token> run() {
    size_t bad = findInvalidUtf8(src);
    if (bad != std::string::npos) {
      advanceTo(bad);
      throw CompileError(here(), "invalid UTF-8 byte 0x" + hexByte(src[bad]) +
                                     " at byte offset " + std::to_string(bad) +
                                     "; model files must be UTF-8");
    }
    std::vector<Token> toks;
    while (true) {
      skipSpaceAndComments();
      Token t = next();
      bool eof = t.kind == Tok::Eof;
      toks.push_back(std::move(t));
      if (eof)
        break;
    }
    return toks;
  }

private:
  static std::string hexByte(char c) {
    static const char *digits = "0123456789abcdef";
    unsigned char u = c;
    return {digits[u >> 4], digits[u & 15]};
  }

  Location here() const { return {&file, line, col}; }
  char peek(size_t ahead = 0) const {
    return pos + ahead < src.size() ? src[pos + ahead] : '\0';
  }
  void advance() {
    if (src[pos] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
    ++pos;
  }
  void advanceTo(size_t target) {
    while (pos < target)
      advance();
  }

  void skipSpaceAndComments() {
    while (pos < src.size()) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        advance();
      } else if (c == '/' && peek(1) == '/') {
        while (pos < src.size() && peek() != '\n')
          advance();
      } else if (c == '/' && peek(1) == '*') {
        Location start = here();
        advance();
        advance();
        while (pos < src.size() && !(peek() == '*' && peek(1) == '/'))
          advance();
        if (pos >= src.size())
          throw CompileError(
              Diagnostic{start, "unterminated block comment", {}}.note(
                  here(), "expected '*/' before the end of the file"));
        advance();
        advance();
      } else {
        return;
      }
    }
  }

  Token make(Tok k, Location loc, std::string text) {
    Token t;
    t.kind = k;
    t.loc = loc;
    t.text = std::move(text);
    return t;
  }

  Token next() {
    Location loc = here();
    if (pos >= src.size())
      return make(Tok::Eof, loc, "");
    char c = peek();
    if (isalpha(static_cast<unsigned char>(c)) || c == '_')
      return identifier(loc);
    if (isdigit(static_cast<unsigned char>(c)))
      return number(loc);
    if (c == '"')
      return string(loc);
    return punct(loc);
  }

  Token identifier(Location loc) {
    size_t start = pos;
    while (isalnum(static_cast<unsigned char>(peek())) || peek() == '_')
      advance();
    std::string word = src.substr(start, pos - start);
    static const std::unordered_map<std::string, Tok> keywords = {
        {"def", Tok::KwDef},       {"export", Tok::KwExport},
        {"let", Tok::KwLet},       {"param", Tok::KwParam},
        {"return", Tok::KwReturn}, {"for", Tok::KwFor},
        {"in", Tok::KwIn},         {"if", Tok::KwIf},
        {"else", Tok::KwElse},     {"import", Tok::KwImport},
        {"config", Tok::KwConfig}, {"as", Tok::KwAs},
        {"assert", Tok::KwAssert}, {"names", Tok::KwNames},
        {"true", Tok::KwTrue},     {"false", Tok::KwFalse},
        {"and", Tok::KwAnd},       {"or", Tok::KwOr},
        {"not", Tok::KwNot},       {"with", Tok::KwWith},
        {"frozen", Tok::KwFrozen}, {"trainable", Tok::KwTrainable},
        {"merge", Tok::KwMerge}};
    auto it = keywords.find(word);
    return make(it == keywords.end() ? Tok::Ident : it->second, loc, word);
  }

  Token number(Location loc) {
    size_t start = pos;
    while (isdigit(static_cast<unsigned char>(peek())))
      advance();
    bool isFloat = false;
    // `0..n` is a range, not the float `0.`: a fraction needs a digit.
    if (peek() == '.' && isdigit(static_cast<unsigned char>(peek(1)))) {
      isFloat = true;
      advance();
      while (isdigit(static_cast<unsigned char>(peek())))
        advance();
    }
    if (peek() == 'e' || peek() == 'E') {
      size_t save = pos;
      uint32_t saveCol = col;
      advance();
      if (peek() == '+' || peek() == '-')
        advance();
      if (!isdigit(static_cast<unsigned char>(peek()))) {
        pos = save;
        col = saveCol;
        throw CompileError(here(), "malformed exponent in number '" +
                                       src.substr(start, pos - start + 1) +
                                       "'; expected digits after 'e'");
      }
      isFloat = true;
      while (isdigit(static_cast<unsigned char>(peek())))
        advance();
    }
    std::string text = src.substr(start, pos - start);
    if (isalpha(static_cast<unsigned char>(peek())) || peek() == '_')
      throw CompileError(here(), "invalid character '" +
                                     std::string(1, peek()) +
                                     "' after number '" + text + "'");
    Token t = make(isFloat ? Tok::FloatLit : Tok::IntLit, loc, text);
    errno = 0;
    if (isFloat) {
      t.floatValue = std::strtod(text.c_str(), nullptr);
      if (errno == ERANGE)
        throw CompileError(loc, "float literal '" + text + "' is out of range");
    } else {
      t.intValue = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE)
        throw CompileError(loc, "integer literal '" + text +
                                    "' does not fit in 64 bits");
    }
    return t;
  }

  Token string(Location loc) {
    advance(); // opening quote
    std::string value;
    while (true) {
      if (pos >= src.size() || peek() == '\n')
        throw CompileError(
            Diagnostic{loc, "unterminated string literal", {}}.note(
                here(), "expected '\"' before the end of the line"));
      char c = peek();
      if (c == '"')
        break;
      if (c == '\\') {
        advance();
        char e = peek();
        if (e == 'n')
          value += '\n';
        else if (e == 't')
          value += '\t';
        else if (e == '\\' || e == '"')
          value += e;
        else
          throw CompileError(here(),
                             std::string("unknown escape '\\") + e +
                                 "'; expected one of \\n \\t \\\\ \\\"");
        advance();
        continue;
      }
      value += c;
      advance();
    }
    advance(); // closing quote
    return make(Tok::StringLit, loc, value);
  }

  Token punct(Location loc) {
    struct Op {
      const char *text;
      Tok kind;
    };
    // Longest spellings first.
    static const Op ops[] = {
        {"...", Tok::Ellipsis}, {"..", Tok::DotDot},   {"->", Tok::Arrow},
        {"==", Tok::EqEq},      {"!=", Tok::NotEq},    {"<=", Tok::LessEq},
        {">=", Tok::GreaterEq}, {"**", Tok::StarStar}, {"+=", Tok::PlusAssign},
        {"(", Tok::LParen},     {")", Tok::RParen},    {"[", Tok::LBracket},
        {"]", Tok::RBracket},   {"{", Tok::LBrace},    {"}", Tok::RBrace},
        {",", Tok::Comma},      {":", Tok::Colon},     {";", Tok::Semicolon},
        {".", Tok::Dot},        {"=", Tok::Assign},    {"<", Tok::Less},
        {">", Tok::Greater},    {"+", Tok::Plus},      {"-", Tok::Minus},
        {"*", Tok::Star},       {"/", Tok::Slash},     {"%", Tok::Percent},
        {"@", Tok::At}};
    for (const Op &op : ops) {
      std::string_view s(op.text);
      if (src.compare(pos, s.size(), s) == 0) {
        for (size_t i = 0; i < s.size(); ++i)
          advance();
        return make(op.kind, loc, std::string(s));
      }
    }
    unsigned char c = peek();
    if (c >= 0x80)
      throw CompileError(loc, "unexpected non-ASCII character; identifiers "
                              "and operators are ASCII (UTF-8 is allowed "
                              "only in comments and strings)");
    if (c < 0x20 || c == 0x7f)
      throw CompileError(loc, "unexpected control character 0x" + hexByte(c));
    throw CompileError(loc, std::string("unexpected character '") +
                                static_cast<char>(c) + "'");
  }

  const SourceFile &file;
  const std::string &src;
  size_t pos = 0;
  uint32_t line = 1, col = 1;
};

} // namespace

std::vector<Token> lex(const SourceFile &file) { return Lexer(file).run(); }

} // namespace gptc
