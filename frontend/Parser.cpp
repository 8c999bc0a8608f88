//===- Parser.cpp - Recursive-descent parser for .gpt files ---------------===//

#include "gptc/Frontend/Parser.h"
#include "gptc/Frontend/Lexer.h"

#include <algorithm>

namespace gptc {

using namespace ast;

namespace {

/// Deeply nested input must fail with a message, not overflow the stack.
constexpr int kMaxNesting = 200;
/// The tallest expression tree: chains such as `x + x + ...` or `x[0][0]...`
/// grow a tree in a loop, which the nesting guard does not see.
constexpr int kMaxExprHeight = 1000;

class Parser {
public:
  explicit Parser(const SourceFile &f) : file(f), toks(lex(f)) {}

  std::unique_ptr<Module> parse() {
    auto m = std::make_unique<Module>();
    m->file = &file;
    if (toks.size() == 1)
      throw CompileError(Location{&file, 1, 1},
                         "empty model file; expected at least one 'def'");
    while (!at(Tok::Eof))
      parseDecl(*m);
    return m;
  }

private:
  const Token &cur() const { return toks[pos]; }
  const Token &peekTok(size_t n = 1) const {
    return toks[std::min(pos + n, toks.size() - 1)];
  }
  bool at(Tok k) const { return cur().kind == k; }
  Token take() {
    Token t = cur();
    if (pos + 1 < toks.size())
      ++pos;
    return t;
  }
  bool accept(Tok k) {
    if (!at(k))
      return false;
    take();
    return true;
  }

  [[noreturn]] void fail(const std::string &expected) {
    std::string found = at(Tok::Eof)         ? "end of file"
                        : cur().text.empty() ? tokSpelling(cur().kind)
                                             : "'" + cur().text + "'";
    throw CompileError(cur().loc, "expected " + expected + ", found " + found);
  }
  Token expect(Tok k, const std::string &what = "") {
    if (!at(k))
      fail(what.empty() ? tokSpelling(k) : what);
    return take();
  }

  struct DepthGuard {
    Parser &p;
    DepthGuard(Parser &parser) : p(parser) {
      if (++p.depth > kMaxNesting)
        throw CompileError(p.cur().loc,
                           "expression or block nested too deeply (limit " +
                               std::to_string(kMaxNesting) + ")");
    }
    ~DepthGuard() { --p.depth; }
  };

  /// Sets `e`'s height from its children's and refuses one over
  /// kMaxExprHeight at `e`.
  ExprPtr grown(ExprPtr e) {
    int h = 0;
    auto see = [&](const ExprPtr &c) {
      if (c)
        h = std::max(h, c->height);
    };
    if (auto *u = dynCast<UnaryExpr>(e.get())) {
      see(u->operand);
    } else if (auto *b = dynCast<BinaryExpr>(e.get())) {
      see(b->lhs);
      see(b->rhs);
    } else if (auto *c = dynCast<CallExpr>(e.get())) {
      for (const ExprPtr &a : c->args)
        see(a);
      for (const KeywordArg &k : c->kwargs)
        see(k.value);
      for (const InstanceSegment &s : c->instance)
        see(s.index);
    } else if (auto *ix = dynCast<IndexExpr>(e.get())) {
      see(ix->base);
      for (const IndexItem &it : ix->items) {
        see(it.index);
        see(it.lo);
        see(it.hi);
      }
    } else if (auto *l = dynCast<ListExpr>(e.get())) {
      for (const ExprPtr &x : l->elements)
        see(x);
    } else if (auto *t = dynCast<TupleExpr>(e.get())) {
      for (const ExprPtr &x : t->elements)
        see(x);
    }
    e->height = h + 1;
    if (e->height > kMaxExprHeight)
      throw CompileError(e->loc, "expression nested too deeply (more than " +
                                     std::to_string(kMaxExprHeight) +
                                     " levels); split it with 'let'");
    return e;
  }

  //===--------------------------------------------------------------------===//
  // Declarations
  //===--------------------------------------------------------------------===//

  void parseDecl(Module &m) {
    switch (cur().kind) {
    case Tok::KwImport: {
      Location loc = take().loc;
      Token path = expect(Tok::StringLit, "a quoted path after 'import'");
      m.imports.push_back({path.text, loc});
      accept(Tok::Semicolon);
      return;
    }
    case Tok::KwConfig: {
      Location loc = take().loc;
      ConfigDecl c;
      c.loc = loc;
      c.name = expect(Tok::Ident, "a config name").text;
      expect(Tok::Colon, "':' and a type after the config name");
      c.type = parseType();
      if (c.type.kind == TypeExpr::Kind::Tensor)
        throw CompileError(c.type.loc,
                           "config values must be int, float or bool");
      if (accept(Tok::Assign))
        c.defaultValue = parseExpr();
      accept(Tok::Semicolon);
      m.configs.push_back(std::move(c));
      return;
    }
    case Tok::KwNames:
      m.names.push_back(parseNames());
      return;
    case Tok::KwExport:
    case Tok::KwDef:
      m.defs.push_back(parseDef());
      return;
    default:
      fail("'def', 'export', 'config', 'import' or 'names' at top level");
    }
  }

  NamesDecl parseNames() {
    NamesDecl n;
    n.loc = take().loc;
    n.scheme = expect(Tok::Ident, "a naming scheme name after 'names'").text;
    expect(Tok::LBrace);
    while (!accept(Tok::RBrace)) {
      NamesDecl::Rule r;
      r.loc = cur().loc;
      r.pattern = expect(Tok::StringLit, "a quoted name pattern, a quoted "
                                         "config-file key or '}'")
                      .text;
      if (accept(Tok::Assign)) {
        // `"key" = value`: an entry of the scheme's config file.
        if (r.pattern.empty() ||
            r.pattern.find_first_of(" \t\n\"\\") != std::string::npos)
          throw CompileError(r.loc, "a config-file key must be non-empty, "
                                    "without spaces, quotes or backslashes");
        n.entries.push_back({r.pattern, parseExpr(), r.loc});
        accept(Tok::Comma) || accept(Tok::Semicolon);
        continue;
      }
      expect(Tok::Arrow, "'->' after the name pattern (or '=' after a "
                         "config-file key)");
      r.replacement = expect(Tok::StringLit, "a quoted replacement").text;
      if (std::count(r.pattern.begin(), r.pattern.end(), '*') > 1)
        throw CompileError(r.loc, "a name pattern may contain at most one '*'");
      if (std::count(r.replacement.begin(), r.replacement.end(), '*') >
          std::count(r.pattern.begin(), r.pattern.end(), '*'))
        throw CompileError(r.loc,
                           "the replacement uses '*' but the pattern has none");
      accept(Tok::Comma) || accept(Tok::Semicolon);
      n.rules.push_back(std::move(r));
    }
    return n;
  }

  std::unique_ptr<DefDecl> parseDef() {
    auto d = std::make_unique<DefDecl>();
    d->loc = cur().loc;
    d->isExport = accept(Tok::KwExport);
    expect(Tok::KwDef, "'def' after 'export'");
    d->name = expect(Tok::Ident, "a name after 'def'").text;
    expect(Tok::LParen, "'(' to start the argument list");
    if (!at(Tok::RParen)) {
      do {
        DefArg a;
        a.loc = cur().loc;
        a.name = expect(Tok::Ident, "an argument name").text;
        expect(Tok::Colon, "':' and a type after argument '" + a.name + "'");
        a.type = parseType();
        if (accept(Tok::Assign))
          a.defaultValue = parseExpr();
        d->args.push_back(std::move(a));
      } while (accept(Tok::Comma));
    }
    expect(Tok::RParen, "')' or ',' in the argument list");
    if (accept(Tok::Arrow)) {
      if (accept(Tok::LParen)) {
        do
          d->results.push_back(parseType());
        while (accept(Tok::Comma));
        expect(Tok::RParen, "')' or ',' in the result types");
      } else {
        d->results.push_back(parseType());
      }
    }
    d->body = parseBlock();
    return d;
  }

  TypeExpr parseType() {
    TypeExpr t;
    t.loc = cur().loc;
    if (at(Tok::Ident) && cur().text == "list" &&
        peekTok().kind == Tok::LBracket) {
      take();
      take();
      Location inner = cur().loc;
      t = parseType();
      if (t.kind == TypeExpr::Kind::Tensor || t.list)
        throw CompileError(inner, "a list holds int, float or bool values");
      expect(Tok::RBracket, "']' after the list's element type");
      t.list = true;
      return t;
    }
    if (at(Tok::Ident)) {
      std::string n = cur().text;
      bool tensorFollows = peekTok().kind == Tok::LBracket;
      if (!tensorFollows && (n == "int" || n == "float" || n == "bool")) {
        take();
        t.kind = n == "int"     ? TypeExpr::Kind::Int
                 : n == "float" ? TypeExpr::Kind::Float
                                : TypeExpr::Kind::Bool;
        return t;
      }
      if (n == "f32")
        t.elem = ElemType::F32;
      else if (n == "i32")
        t.elem = ElemType::I32;
      else if (n == "bool")
        t.elem = ElemType::Bool;
      else
        throw CompileError(cur().loc,
                           "unknown type '" + n +
                               "'; expected int, float, bool, or a tensor "
                               "type such as [B, T, C], f32[..], i32[..]");
      take();
      if (!at(Tok::LBracket))
        fail("'[' and the dimensions of the " + n + " tensor");
    }
    expect(Tok::LBracket, "a type (int, float, bool or [dims])");
    t.kind = TypeExpr::Kind::Tensor;
    if (!at(Tok::RBracket)) {
      do {
        if (at(Tok::Ellipsis)) {
          if (!t.dims.empty())
            throw CompileError(cur().loc,
                               "'...' may only stand first in a shape");
          t.dims.push_back(std::make_unique<EllipsisExpr>(take().loc));
        } else {
          t.dims.push_back(parseExpr());
        }
      } while (accept(Tok::Comma));
    }
    expect(Tok::RBracket, "']' or ',' in the shape");
    return t;
  }

  //===--------------------------------------------------------------------===//
  // Statements
  //===--------------------------------------------------------------------===//

  Block parseBlock() {
    DepthGuard g(*this);
    expect(Tok::LBrace, "'{' to start a block");
    Block b;
    while (!accept(Tok::RBrace)) {
      if (at(Tok::Eof))
        fail("'}' to close the block");
      b.push_back(parseStmt());
      accept(Tok::Semicolon);
    }
    return b;
  }

  StmtPtr parseStmt() {
    Location loc = cur().loc;
    switch (cur().kind) {
    case Tok::KwLet: {
      take();
      auto s = std::make_unique<LetStmt>(loc);
      do {
        s->nameLocs.push_back(cur().loc);
        s->names.push_back(expect(Tok::Ident, "a variable name").text);
      } while (accept(Tok::Comma));
      expect(Tok::Assign, "'=' after the names in 'let'");
      s->value = parseExpr();
      return s;
    }
    case Tok::KwFrozen:
    case Tok::KwTrainable:
      if (peekTok().kind != Tok::KwParam) {
        std::string marker = take().text;
        fail("'param' after '" + marker +
             "' (a marked call is an "
             "expression: let y = " +
             marker + " F(x))");
      }
      [[fallthrough]];
    case Tok::KwParam: {
      Training training = Training::Inherit;
      if (!at(Tok::KwParam))
        training = take().kind == Tok::KwFrozen ? Training::Frozen
                                                : Training::Trainable;
      take();
      auto s = std::make_unique<ParamStmt>(
          loc, expect(Tok::Ident, "a parameter name").text);
      s->training = training;
      expect(Tok::Colon, "':' and a shape after the parameter name");
      s->type = parseType();
      if (s->type.kind != TypeExpr::Kind::Tensor)
        throw CompileError(s->type.loc, "a parameter must be a tensor; "
                                        "expected a shape such as [C]");
      expect(Tok::Assign, "'=' and an initializer (normal(std), "
                          "uniform(bound), zeros(), ones())");
      s->init = parseExpr();
      return s;
    }
    case Tok::KwReturn: {
      take();
      ExprPtr value = parseExpr();
      if (at(Tok::Comma)) {
        auto tuple = std::make_unique<TupleExpr>(value->loc);
        tuple->elements.push_back(std::move(value));
        while (accept(Tok::Comma))
          tuple->elements.push_back(parseExpr());
        value = grown(std::move(tuple));
      }
      return std::make_unique<ReturnStmt>(loc, std::move(value));
    }
    case Tok::KwFor: {
      take();
      auto s = std::make_unique<ForStmt>(
          loc, expect(Tok::Ident, "a loop variable").text);
      expect(Tok::KwIn, "'in' after the loop variable");
      s->lo = parseExpr();
      expect(Tok::DotDot, "'..' in the loop range 'lo..hi'");
      s->hi = parseExpr();
      s->body = parseBlock();
      return s;
    }
    case Tok::KwIf:
      return parseIf();
    case Tok::KwMerge: {
      take();
      auto s = std::make_unique<MergeStmt>(loc);
      s->targetLoc = cur().loc;
      s->target = expect(Tok::Ident, "the parameter to merge into").text;
      expect(Tok::PlusAssign, "'+=' after the parameter, as in 'merge weight "
                              "+= alpha * (A @ B)'");
      s->value = parseExpr();
      return s;
    }
    case Tok::KwAssert: {
      take();
      auto s = std::make_unique<AssertStmt>(loc);
      s->cond = parseExpr();
      if (accept(Tok::Comma))
        s->message = expect(Tok::StringLit, "a message string").text;
      return s;
    }
    case Tok::Ident:
      if (peekTok().kind == Tok::Assign) {
        std::string name = take().text;
        take();
        return std::make_unique<AssignStmt>(loc, name, parseExpr());
      }
      fail("a statement ('let', 'param', 'return', 'for', 'if', 'assert', "
           "'merge' or 'name = ...')");
    default:
      fail("a statement ('let', 'param', 'return', 'for', 'if', 'assert', "
           "'merge' or 'name = ...')");
    }
  }

  StmtPtr parseIf() {
    DepthGuard g(*this);
    auto s = std::make_unique<IfStmt>(take().loc);
    s->cond = parseExpr();
    s->thenBody = parseBlock();
    if (accept(Tok::KwElse)) {
      if (at(Tok::KwIf))
        s->elseBody.push_back(parseIf());
      else
        s->elseBody = parseBlock();
    }
    return s;
  }

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  ExprPtr parseExpr() {
    DepthGuard g(*this);
    return parseOr();
  }

  ExprPtr parseOr() {
    ExprPtr l = parseAnd();
    while (at(Tok::KwOr)) {
      Location loc = take().loc;
      l = grown(std::make_unique<BinaryExpr>(loc, BinaryOp::Or, std::move(l),
                                             parseAnd()));
    }
    return l;
  }
  ExprPtr parseAnd() {
    ExprPtr l = parseNot();
    while (at(Tok::KwAnd)) {
      Location loc = take().loc;
      l = grown(std::make_unique<BinaryExpr>(loc, BinaryOp::And, std::move(l),
                                             parseNot()));
    }
    return l;
  }
  ExprPtr parseNot() {
    if (at(Tok::KwNot)) {
      DepthGuard g(*this);
      Location loc = take().loc;
      return grown(std::make_unique<UnaryExpr>(loc, UnaryOp::Not, parseNot()));
    }
    return parseCompare();
  }
  ExprPtr parseCompare() {
    ExprPtr l = parseAdd();
    std::optional<BinaryOp> op;
    switch (cur().kind) {
    case Tok::EqEq:
      op = BinaryOp::Eq;
      break;
    case Tok::NotEq:
      op = BinaryOp::Ne;
      break;
    case Tok::Less:
      op = BinaryOp::Lt;
      break;
    case Tok::LessEq:
      op = BinaryOp::Le;
      break;
    case Tok::Greater:
      op = BinaryOp::Gt;
      break;
    case Tok::GreaterEq:
      op = BinaryOp::Ge;
      break;
    default:
      return l;
    }
    Location loc = take().loc;
    ExprPtr r = parseAdd();
    switch (cur().kind) {
    case Tok::EqEq:
    case Tok::NotEq:
    case Tok::Less:
    case Tok::LessEq:
    case Tok::Greater:
    case Tok::GreaterEq:
      throw CompileError(cur().loc, "comparisons cannot be chained; use "
                                    "'and' to combine them");
    default:
      break;
    }
    return grown(
        std::make_unique<BinaryExpr>(loc, *op, std::move(l), std::move(r)));
  }
  ExprPtr parseAdd() {
    ExprPtr l = parseMul();
    while (at(Tok::Plus) || at(Tok::Minus)) {
      Token t = take();
      BinaryOp op = t.kind == Tok::Plus ? BinaryOp::Add : BinaryOp::Sub;
      l = grown(
          std::make_unique<BinaryExpr>(t.loc, op, std::move(l), parseMul()));
    }
    return l;
  }
  ExprPtr parseMul() {
    ExprPtr l = parseUnary();
    while (true) {
      BinaryOp op;
      if (at(Tok::Star))
        op = BinaryOp::Mul;
      else if (at(Tok::Slash))
        op = BinaryOp::Div;
      else if (at(Tok::Percent))
        op = BinaryOp::Mod;
      else if (at(Tok::At))
        op = BinaryOp::MatMul;
      else
        return l;
      Location loc = take().loc;
      l = grown(
          std::make_unique<BinaryExpr>(loc, op, std::move(l), parseUnary()));
    }
  }
  ExprPtr parseUnary() {
    if (at(Tok::Minus)) {
      DepthGuard g(*this);
      Location loc = take().loc;
      return grown(
          std::make_unique<UnaryExpr>(loc, UnaryOp::Neg, parseUnary()));
    }
    return parsePow();
  }
  ExprPtr parsePow() {
    ExprPtr base = parsePostfix();
    if (at(Tok::StarStar)) {
      DepthGuard g(*this);
      Location loc = take().loc;
      // Right-associative, and the exponent may carry a sign: x ** -2.
      return grown(std::make_unique<BinaryExpr>(loc, BinaryOp::Pow,
                                                std::move(base), parseUnary()));
    }
    return base;
  }

  ExprPtr parsePostfix() {
    ExprPtr e = parsePrimary();
    while (true) {
      if (at(Tok::LParen)) {
        auto *name = dynCast<NameExpr>(e.get());
        if (!name)
          throw CompileError(cur().loc,
                             "only a def or builtin name can be called");
        e = parseCall(name->name, name->loc);
      } else if (at(Tok::LBracket)) {
        e = parseIndex(std::move(e));
      } else if (at(Tok::KwWith)) {
        auto *call = dynCast<CallExpr>(e.get());
        if (!call || !call->instance.empty())
          throw CompileError(cur().loc,
                             "'with' replaces a def inside a call; it must "
                             "follow the call's arguments, before 'as', as "
                             "in Block(x) with Linear = LoRALinear as h");
        take();
        Substitution sub;
        sub.loc = cur().loc;
        sub.name = expect(Tok::Ident, "the def to replace after 'with'").text;
        expect(Tok::Assign, "'=' and the def that replaces '" + sub.name + "'");
        sub.replacementLoc = cur().loc;
        sub.replacement =
            expect(Tok::Ident, "the def that replaces '" + sub.name + "'").text;
        call->substitutions.push_back(std::move(sub));
        e = grown(std::move(e));
      } else if (at(Tok::KwAs)) {
        auto *call = dynCast<CallExpr>(e.get());
        if (!call)
          throw CompileError(cur().loc, "'as' names a call's instance; it "
                                        "must follow a call such as "
                                        "Linear(x, 8) as proj");
        if (!call->instance.empty())
          throw CompileError(cur().loc, "the call already has an 'as' name");
        take();
        call->instance = parseInstanceName();
        e = grown(std::move(e));
      } else {
        return e;
      }
    }
  }

  std::vector<InstanceSegment> parseInstanceName() {
    std::vector<InstanceSegment> segs;
    InstanceSegment first;
    first.loc = cur().loc;
    first.name = expect(Tok::Ident, "an instance name after 'as'").text;
    segs.push_back(std::move(first));
    while (at(Tok::Dot) || at(Tok::LBracket)) {
      InstanceSegment s;
      s.loc = cur().loc;
      if (accept(Tok::Dot)) {
        s.name = expect(Tok::Ident, "a name after '.'").text;
      } else {
        take();
        s.index = parseExpr();
        expect(Tok::RBracket, "']' after the instance index");
      }
      segs.push_back(std::move(s));
    }
    return segs;
  }

  ExprPtr parseCall(std::string callee, Location calleeLoc) {
    Location loc = take().loc; // '('
    auto call = std::make_unique<CallExpr>(calleeLoc, std::move(callee));
    call->calleeLoc = calleeLoc;
    (void)loc;
    if (!at(Tok::RParen)) {
      do {
        if (at(Tok::Ident) && peekTok().kind == Tok::Assign) {
          KeywordArg k;
          k.loc = cur().loc;
          k.name = take().text;
          take();
          k.value = parseExpr();
          call->kwargs.push_back(std::move(k));
        } else {
          if (!call->kwargs.empty())
            throw CompileError(cur().loc, "positional argument after a "
                                          "keyword argument");
          call->args.push_back(parseExpr());
        }
      } while (accept(Tok::Comma));
    }
    expect(Tok::RParen, "')' or ',' in the call to '" + call->callee + "'");
    return grown(std::move(call));
  }

  ExprPtr parseIndex(ExprPtr base) {
    Location loc = take().loc; // '['
    auto ix = std::make_unique<IndexExpr>(loc, std::move(base));
    do {
      IndexItem item;
      item.loc = cur().loc;
      if (!at(Tok::Colon))
        item.index = parseExpr();
      if (accept(Tok::Colon)) {
        item.isSlice = true;
        item.lo = std::move(item.index);
        if (!at(Tok::Comma) && !at(Tok::RBracket))
          item.hi = parseExpr();
      } else if (!item.index) {
        fail("an index or ':'");
      }
      ix->items.push_back(std::move(item));
    } while (accept(Tok::Comma));
    expect(Tok::RBracket, "']' or ',' in the index");
    return grown(std::move(ix));
  }

  ExprPtr parsePrimary() {
    Location loc = cur().loc;
    switch (cur().kind) {
    case Tok::IntLit:
      return std::make_unique<IntExpr>(loc, take().intValue);
    case Tok::FloatLit: {
      Token t = take();
      return std::make_unique<FloatExpr>(loc, t.floatValue, t.text);
    }
    case Tok::KwTrue:
      take();
      return std::make_unique<BoolExpr>(loc, true);
    case Tok::KwFalse:
      take();
      return std::make_unique<BoolExpr>(loc, false);
    case Tok::StringLit:
      return std::make_unique<StringExpr>(loc, take().text);
    case Tok::Ident:
      return std::make_unique<NameExpr>(loc, take().text);
    case Tok::KwFrozen:
    case Tok::KwTrainable: {
      Training training =
          take().kind == Tok::KwFrozen ? Training::Frozen : Training::Trainable;
      Location nameLoc = cur().loc;
      std::string name =
          expect(Tok::Ident, "a call after 'frozen' or 'trainable'").text;
      if (!at(Tok::LParen))
        fail("'(': 'frozen' and 'trainable' mark a call, as in "
             "frozen Linear(x, 8)");
      ExprPtr call = parseCall(name, nameLoc);
      static_cast<CallExpr &>(*call).training = training;
      return call;
    }
    case Tok::At: {
      take();
      std::string path = expect(Tok::Ident, "a parameter name after '@'").text;
      while (at(Tok::Dot)) {
        take();
        if (at(Tok::IntLit))
          path += "." + take().text;
        else
          path += "." + expect(Tok::Ident, "a name after '.'").text;
      }
      return std::make_unique<ParamRefExpr>(loc, path);
    }
    case Tok::LParen: {
      take();
      ExprPtr e = parseExpr();
      expect(Tok::RParen, "')'");
      return e;
    }
    case Tok::LBracket: {
      take();
      auto list = std::make_unique<ListExpr>(loc);
      if (!at(Tok::RBracket)) {
        do
          list->elements.push_back(parseExpr());
        while (accept(Tok::Comma));
      }
      expect(Tok::RBracket, "']' or ',' in the list");
      return grown(std::move(list));
    }
    default:
      fail("an expression");
    }
  }

  const SourceFile &file;
  std::vector<Token> toks;
  size_t pos = 0;
  int depth = 0;
};

} // namespace

std::unique_ptr<Module> parseModule(const SourceFile &file) {
  return Parser(file).parse();
}

} // namespace gptc
