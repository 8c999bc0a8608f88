//===- Builtins.cpp - The builtins: shape rules and graph nodes -----------===//
//
// Each builtin (the ops that declare one in GptOps.td, plus spellings such
// as zeros/ones/stack) checks its arguments, runs its op's shape rule from
// ShapeRules.h over the symbolic dims, and appends a node; static numbers
// fold with the op's own formula.
//
//===----------------------------------------------------------------------===//

#include "Elaborator.h"
#include "gptc/IR/OpInfo.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace gptc::sema {

int Elaborator::addNode(std::string op, std::vector<int> operands,
                        TensorType type, Location loc,
                        std::vector<std::pair<std::string, Attr>> attrs) {
  if (entry->nodes.size() >= kMaxNodes)
    throw CompileError(loc, "the model has more than " +
                                std::to_string(kMaxNodes) + " operations");
  Node n;
  n.op = std::move(op);
  n.operands = std::move(operands);
  n.type = std::move(type);
  n.loc = loc;
  n.attrs = std::move(attrs);
  n.scope = frames.empty() ? "" : frames.back().scope;
  for (size_t f = frames.size(); f-- > 1;)
    n.callers.push_back(
        {frames[f].callLoc, frames[f].def->name, frames[f].scope});
  entry->nodes.push_back(std::move(n));
  return static_cast<int>(entry->nodes.size() - 1);
}

void Elaborator::requireFloat(const Value &v, Location loc,
                              const std::string &what) {
  if (v.kind != Value::Kind::Tensor || v.type.elem != ElemType::F32)
    throw CompileError(loc, what + " needs an f32 tensor, got " + v.describe());
}

/// Turns a static number into a scalar f32 constant node.
Value Elaborator::materialize(const Value &v, Location loc) {
  if (v.kind == Value::Kind::Tensor)
    return v;
  if (!v.isStaticNumber())
    throw CompileError(loc,
                       "cannot use " + v.describe() + " as a tensor operand");
  TensorType t;
  return Value::tensor(
      t, addNode("constant", {}, t, loc, {{"value", v.asDouble()}}));
}

Value Elaborator::tensorBinary(BinaryOp op, const Value &a0, const Value &b0,
                               Location loc) {
  if (op == BinaryOp::MatMul)
    return matmul(a0, b0, loc);
  if (op == BinaryOp::Pow) {
    if (!b0.isStaticNumber())
      throw CompileError(loc, "the exponent of '**' must be a static "
                              "number, got " +
                                  b0.describe());
    requireFloat(a0, loc, "'**'");
    return Value::tensor(a0.type, addNode("pow", {a0.node}, a0.type, loc,
                                          {{"exponent", b0.asDouble()}}));
  }
  const char *opName = nullptr;
  switch (op) {
  case BinaryOp::Add:
    opName = "add";
    break;
  case BinaryOp::Sub:
    opName = "sub";
    break;
  case BinaryOp::Mul:
    opName = "mul";
    break;
  case BinaryOp::Div:
    opName = "div";
    break;
  case BinaryOp::Eq:
  case BinaryOp::Ne:
  case BinaryOp::Lt:
  case BinaryOp::Le:
  case BinaryOp::Gt:
  case BinaryOp::Ge:
    return tensorCompare(op, a0, b0, loc);
  default:
    throw CompileError(loc, std::string("operator '") + spelling(op) +
                                "' is not defined on tensors");
  }
  Value a = materialize(a0, loc), b = materialize(b0, loc);
  requireFloat(a, loc, std::string("'") + spelling(op) + "'");
  requireFloat(b, loc, std::string("'") + spelling(op) + "'");
  TensorType t;
  t.shape = ruleShape(shapes::broadcast(a.type.shape, b.type.shape), loc, {},
                      std::string("'") + spelling(op) + "': ");
  return Value::tensor(t, addNode(opName, {a.node, b.node}, t, loc));
}

/// `a < b` (and the other comparisons) on tensors: a mask. Both sides f32
/// or both i32; a static number takes the tensor's element type.
Value Elaborator::tensorCompare(BinaryOp op, const Value &a0, const Value &b0,
                                Location loc) {
  static const std::map<BinaryOp, const char *> kOps = {
      {BinaryOp::Eq, "eq"}, {BinaryOp::Ne, "ne"}, {BinaryOp::Lt, "lt"},
      {BinaryOp::Le, "le"}, {BinaryOp::Gt, "gt"}, {BinaryOp::Ge, "ge"}};
  ElemType elem = (a0.kind == Value::Kind::Tensor ? a0 : b0).type.elem;
  Value a = materializeAs(a0, elem, loc), b = materializeAs(b0, elem, loc);
  for (const Value *v : {&a, &b})
    if (v->type.elem == ElemType::Bool || v->type.elem != elem)
      throw CompileError(loc,
                         std::string("'") + spelling(op) +
                             "' compares two f32 or two i32 tensors, got " +
                             a.type.str() + " and " + b.type.str() +
                             "; cast(x, \"f32\") converts");
  TensorType t;
  t.elem = ElemType::Bool;
  t.shape = ruleShape(shapes::broadcast(a.type.shape, b.type.shape), loc, {},
                      std::string("'") + spelling(op) + "': ");
  return Value::tensor(t, addNode(kOps.at(op), {a.node, b.node}, t, loc));
}

/// `v` as a tensor of element type `elem`: a static number becomes a
/// scalar constant (cast for i32).
Value Elaborator::materializeAs(const Value &v, ElemType elem, Location loc) {
  Value t = materialize(v, loc);
  if (v.kind == Value::Kind::Tensor || elem != ElemType::I32)
    return t;
  if (v.kind != Value::Kind::Int)
    throw CompileError(loc, "an i32 tensor compares with whole numbers, "
                            "got " +
                                v.describe());
  TensorType i;
  i.elem = ElemType::I32;
  return Value::tensor(i, addNode("cast", {t.node}, i, loc));
}

/// The shape a rule of ShapeRules.h gives, or its error at `loc` (at the
/// operand's location when the rule names one of `operandLocs`).
std::vector<Dim> Elaborator::ruleShape(shapes::Result r, Location loc,
                                       const std::vector<Location> &operandLocs,
                                       const std::string &prefix) {
  if (!r.failed())
    return std::move(r.shape);
  if (r.operand >= 0 && static_cast<size_t>(r.operand) < operandLocs.size())
    loc = operandLocs[r.operand];
  throw CompileError(loc, prefix + r.error);
}

Value Elaborator::matmul(const Value &a, const Value &b, Location loc) {
  requireFloat(a, loc, "matmul");
  requireFloat(b, loc, "matmul");
  TensorType t;
  t.shape = ruleShape(shapes::matmul(a.type.shape, b.type.shape), loc);
  return Value::tensor(t, addNode("matmul", {a.node, b.node}, t, loc));
}

/// The builtins are the ops that declare one in GptOps.td.
void Elaborator::registerBuiltins() {
#define GPT_BUILTIN(Name, Rule, ...)                                           \
  builtins[Name] = {__VA_ARGS__, &Elaborator::Rule};
#include "gptc/IR/GptOpTable.inc"
  // Spellings of full() with the value implied.
  builtins["zeros"] = {{{"shape", std::nullopt}}, &Elaborator::biZeros};
  builtins["ones"] = {{{"shape", std::nullopt}}, &Elaborator::biOnes};
  builtins["len"] = {{{"xs", std::nullopt}}, &Elaborator::biLen};
  builtins["expand"] = {{{"x", std::nullopt}, {"shape", std::nullopt}},
                        &Elaborator::biExpand};
  builtins["repeat"] = {
      {{"x", std::nullopt}, {"n", std::nullopt}, {"axis", Value::integer(-1)}},
      &Elaborator::biRepeat};
  // concat of the inputs with a new dim inserted at `axis`.
  builtins["stack"] = {{{"xs", std::nullopt}, {"axis", Value::integer(0)}},
                       &Elaborator::biStack};
}

Value Elaborator::biUnary(BoundArgs &a, const CallExpr &c) {
  const Value &x = a.values[0];
  if (x.isStaticNumber()) {
    // Folded with the op's own formula, so `exp(1.0)` here and in a kernel
    // agree; a non-finite result (log of 0, sqrt of -1) is an error.
    double r = ops::unaryFormula(c.callee)(x.asDouble());
    if (!std::isfinite(r))
      throw CompileError(a.locs[0],
                         c.callee + " of " + x.describe() + " is undefined");
    return Value::number(r);
  }
  requireFloat(x, a.locs[0], c.callee);
  return Value::tensor(x.type, addNode(c.callee, {x.node}, x.type, c.loc));
}

Value Elaborator::biSoftmax(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  requireFloat(x, a.locs[0], c.callee);
  int64_t axis = normAxis(staticInt(a.values[1], a.locs[1], "axis"),
                          x.type.rank(), a.locs[1]);
  TensorType t = x.type;
  t.shape = ruleShape(shapes::alongAxis(x.type.shape, axis), c.loc);
  return Value::tensor(t,
                       addNode(c.callee, {x.node}, t, c.loc, {{"axis", axis}}));
}

Value Elaborator::biReduce(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  requireFloat(x, a.locs[0], c.callee);
  int64_t axis = normAxis(staticInt(a.values[1], a.locs[1], "axis"),
                          x.type.rank(), a.locs[1]);
  bool keep = staticBool(a.values[2], a.locs[2], "keepdim");
  TensorType t = x.type;
  t.shape = ruleShape(shapes::reduce(x.type.shape, axis, keep), c.loc);
  return Value::tensor(t, addNode(c.callee, {x.node}, t, c.loc,
                                  {{"axis", axis}, {"keepdim", keep}}));
}

Value Elaborator::biMatmul(BoundArgs &a, const CallExpr &c) {
  return matmul(a.values[0], a.values[1], c.loc);
}

Value Elaborator::biTranspose(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  int64_t d0 = normAxis(staticInt(a.values[1], a.locs[1], "dim0"),
                        x.type.rank(), a.locs[1]);
  int64_t d1 = normAxis(staticInt(a.values[2], a.locs[2], "dim1"),
                        x.type.rank(), a.locs[2]);
  std::vector<int64_t> perm(x.type.rank());
  for (size_t i = 0; i < perm.size(); ++i)
    perm[i] = static_cast<int64_t>(i);
  std::swap(perm[d0], perm[d1]);
  TensorType t = x.type;
  t.shape = ruleShape(shapes::transpose(x.type.shape, perm), c.loc);
  return Value::tensor(
      t, addNode("transpose", {x.node}, t, c.loc, {{"perm", perm}}));
}

Value Elaborator::biReshape(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  const Value &s = a.values[1];
  if (s.kind != Value::Kind::List)
    throw CompileError(a.locs[1], "the shape of reshape must be a list "
                                  "such as [B, T, 12, 64], got " +
                                      s.describe());
  TensorType t;
  t.elem = x.type.elem;
  int inferred = -1;
  Dim known(1);
  for (size_t i = 0; i < s.elems.size(); ++i) {
    const Value &e = s.elems[i];
    if (e.kind != Value::Kind::Int)
      throw CompileError(a.locs[1], "reshape dim " + std::to_string(i) +
                                        " must be an int, got " + e.describe());
    if (e.dim == Dim(-1)) {
      if (inferred >= 0)
        throw CompileError(a.locs[1], "reshape may infer only one dim (-1)");
      inferred = static_cast<int>(i);
      t.shape.push_back(Dim(-1));
      continue;
    }
    if (e.dim.coeff <= 0)
      throw CompileError(a.locs[1],
                         "reshape dims must be positive, got " + e.dim.str());
    known = checkedMul(known, e.dim, a.locs[1]);
    t.shape.push_back(e.dim);
  }
  Dim total = checkedNumElements(x.type, c.loc);
  // -1 is the DSL's: the dim that keeps the element count.
  if (inferred >= 0) {
    auto q = exactDiv(total, known);
    if (!q)
      throw CompileError(c.loc, "cannot reshape " + x.type.str() + " (" +
                                    total.str() + " elements) into " +
                                    shapeStr(t.shape) +
                                    ": the -1 dim is not a whole number");
    t.shape[inferred] = *q;
  }
  t.shape = ruleShape(shapes::reshape(x.type.shape, t.shape), c.loc);
  return Value::tensor(
      t, addNode("reshape", {x.node}, t, c.loc, {{"shape", t.shape}}));
}

Value Elaborator::biSplit(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  int64_t parts = staticInt(a.values[1], a.locs[1], "parts");
  if (parts < 1 || parts > 4096)
    throw CompileError(a.locs[1], "split needs 1..4096 parts, got " +
                                      std::to_string(parts));
  int64_t axis = normAxis(staticInt(a.values[2], a.locs[2], "axis"),
                          x.type.rank(), a.locs[2]);
  Value tuple;
  tuple.kind = Value::Kind::Tuple;
  TensorType t = x.type;
  t.shape = ruleShape(shapes::split(x.type.shape, axis, parts, 0), c.loc);
  for (int64_t i = 0; i < parts; ++i)
    tuple.elems.push_back(Value::tensor(
        t, addNode("split", {x.node}, t, c.loc,
                   {{"axis", axis}, {"parts", parts}, {"index", i}})));
  return tuple;
}

Value Elaborator::biConcat(BoundArgs &a, const CallExpr &c) {
  return concat(a.values[0], a.locs[0], a.values[1], a.locs[1], c.loc, false);
}

Value Elaborator::biStack(BoundArgs &a, const CallExpr &c) {
  return concat(a.values[0], a.locs[0], a.values[1], a.locs[1], c.loc, true);
}

/// concat(xs, axis), or with `stack` a new dim of size 1 inserted into
/// each input at `axis` first.
Value Elaborator::concat(const Value &xs, Location xsLoc, const Value &axisArg,
                         Location axisLoc, Location loc, bool stack) {
  const char *what = stack ? "stack" : "concat";
  if (xs.kind != Value::Kind::List || xs.elems.empty())
    throw CompileError(xsLoc, std::string(what) +
                                  " needs a list of tensors such as [a, b], "
                                  "got " +
                                  xs.describe());
  std::vector<Value> inputs;
  for (const Value &e : xs.elems) {
    if (e.kind != Value::Kind::Tensor)
      throw CompileError(xsLoc, std::string(what) + " needs tensors, got " +
                                    e.describe());
    requireFloat(e, xsLoc, what);
    inputs.push_back(e);
  }
  size_t rank = inputs[0].type.rank() + (stack ? 1 : 0);
  int64_t axis = normAxis(staticInt(axisArg, axisLoc, "axis"), rank, axisLoc);
  if (stack)
    for (Value &x : inputs) {
      TensorType t = x.type;
      if (t.rank() + 1 != rank)
        throw CompileError(xsLoc, "stack needs tensors of one rank, got " +
                                      inputs[0].type.str() + " and " + t.str());
      t.shape.insert(t.shape.begin() + axis, Dim(1));
      x = Value::tensor(
          t, addNode("reshape", {x.node}, t, loc, {{"shape", t.shape}}));
    }
  std::vector<shapes::Shape> shapesIn;
  std::vector<int> nodes;
  for (const Value &x : inputs) {
    shapesIn.push_back(x.type.shape);
    nodes.push_back(x.node);
  }
  TensorType t;
  t.shape = ruleShape(shapes::concat(shapesIn, axis), loc);
  return Value::tensor(t, addNode("concat", nodes, t, loc, {{"axis", axis}}));
}

Value Elaborator::biGather(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  const Value &index = tensorArg(a, 1, c, "index");
  requireFloat(x, a.locs[0], "gather");
  if (index.type.elem != ElemType::I32)
    throw CompileError(a.locs[1], "the index of gather must be an i32 "
                                  "tensor, got " +
                                      index.type.str());
  int64_t axis = normAxis(staticInt(a.values[2], a.locs[2], "axis"),
                          x.type.rank(), a.locs[2]);
  TensorType t;
  t.shape = ruleShape(shapes::gather(x.type.shape, index.type.shape, axis),
                      c.loc, a.locs);
  return Value::tensor(
      t, addNode("gather", {x.node, index.node}, t, c.loc, {{"axis", axis}}));
}

Value Elaborator::biMaskedFill(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  const Value &m = tensorArg(a, 1, c, "mask");
  requireFloat(x, a.locs[0], "masked_fill");
  if (m.type.elem != ElemType::Bool)
    throw CompileError(a.locs[1], "the mask of masked_fill must be a bool "
                                  "tensor (e.g. causal_mask(T)), got " +
                                      m.type.str());
  double v = staticFloat(a.values[2], a.locs[2], "the fill value");
  TensorType t = x.type;
  t.shape = ruleShape(shapes::maskedFill(x.type.shape, m.type.shape), c.loc);
  return Value::tensor(
      t, addNode("masked_fill", {x.node, m.node}, t, c.loc, {{"value", v}}));
}

Value Elaborator::biWhere(BoundArgs &a, const CallExpr &c) {
  const Value &m = tensorArg(a, 0, c, "cond");
  if (m.type.elem != ElemType::Bool)
    throw CompileError(a.locs[0], "the condition of where must be a mask "
                                  "(a comparison or causal_mask), got " +
                                      m.type.str());
  Value x = materialize(a.values[1], a.locs[1]);
  Value y = materialize(a.values[2], a.locs[2]);
  requireFloat(x, a.locs[1], "where");
  requireFloat(y, a.locs[2], "where");
  TensorType t;
  t.shape =
      ruleShape(shapes::where(m.type.shape, x.type.shape, y.type.shape), c.loc);
  return Value::tensor(t, addNode("where", {m.node, x.node, y.node}, t, c.loc));
}

Value Elaborator::biCast(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  const Value &d = a.values[1];
  static const std::map<std::string, ElemType> kTypes = {
      {"f32", ElemType::F32}, {"i32", ElemType::I32}, {"bool", ElemType::Bool}};
  auto it = d.kind == Value::Kind::String ? kTypes.find(d.s) : kTypes.end();
  if (it == kTypes.end())
    throw CompileError(
        a.locs[1],
        "cast needs the element type as a "
        "string: \"f32\", \"i32\" or \"bool\", "
        "got " +
            (d.kind == Value::Kind::String ? "\"" + d.s + "\"" : d.describe()));
  if (it->second == x.type.elem)
    return x;
  TensorType t = x.type;
  t.elem = it->second;
  return Value::tensor(t, addNode("cast", {x.node}, t, c.loc));
}

Value Elaborator::biFull(BoundArgs &a, const CallExpr &c) {
  return full(shapeList(a.values[0], a.locs[0]),
              staticFloat(a.values[1], a.locs[1], "the fill value"), c.loc);
}

/// The dims of a shape written as a list (`[B, T, 8]`).
std::vector<Dim> Elaborator::shapeList(const Value &shape, Location loc) {
  if (shape.kind != Value::Kind::List)
    throw CompileError(loc, "the shape must be a list such as "
                            "[B, T, 8], got " +
                                shape.describe());
  std::vector<Dim> dims;
  for (size_t i = 0; i < shape.elems.size(); ++i) {
    const Value &e = shape.elems[i];
    if (e.kind != Value::Kind::Int)
      throw CompileError(loc, "dim " + std::to_string(i) +
                                  " of the shape must be an int, got " +
                                  e.describe());
    dims.push_back(e.dim);
  }
  return ruleShape(shapes::full(dims), loc);
}

/// A tensor of `value` with the shape `dims` (checked by shapeList).
Value Elaborator::full(std::vector<Dim> dims, double value, Location loc) {
  TensorType t;
  t.shape = std::move(dims);
  return Value::tensor(
      t, addNode("full", {}, t, loc, {{"shape", t.shape}, {"value", value}}));
}

/// zeros(shape) and ones(shape): full with 0 and 1.
Value Elaborator::biZeros(BoundArgs &a, const CallExpr &c) {
  return full(shapeList(a.values[0], a.locs[0]), 0.0, c.loc);
}

Value Elaborator::biOnes(BoundArgs &a, const CallExpr &c) {
  return full(shapeList(a.values[0], a.locs[0]), 1.0, c.loc);
}

/// expand(x, shape): `x` broadcast to `shape` (broadcast_like of a
/// constant of that shape, whose values are not read).
Value Elaborator::biExpand(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  requireFloat(x, a.locs[0], "expand");
  return expand(x, full(shapeList(a.values[1], a.locs[1]), 0.0, c.loc), c.loc);
}

Value Elaborator::expand(const Value &x, const Value &like, Location loc) {
  TensorType t = like.type;
  t.shape = ruleShape(shapes::broadcastLike(x.type.shape, like.type.shape), loc,
                      {}, "expand: ");
  return Value::tensor(t,
                       addNode("broadcast_like", {x.node, like.node}, t, loc));
}

/// repeat(x, n, axis): each slice along `axis` n times in a row
/// (torch.repeat_interleave; grouped-query attention's repeat_kv).
Value Elaborator::biRepeat(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  requireFloat(x, a.locs[0], "repeat");
  int64_t n = staticInt(a.values[1], a.locs[1], "the repeat count");
  if (n < 1)
    throw CompileError(a.locs[1],
                       "repeat needs a count >= 1, got " + std::to_string(n));
  int64_t axis = normAxis(staticInt(a.values[2], a.locs[2], "axis"),
                          x.type.rank(), a.locs[2]);
  // [.., d, ..] -> [.., d, 1, ..] -> [.., d, n, ..] -> [.., d*n, ..]
  TensorType split = x.type;
  split.shape.insert(split.shape.begin() + axis + 1, Dim(1));
  Value one = Value::tensor(split, addNode("reshape", {x.node}, split, c.loc,
                                           {{"shape", split.shape}}));
  std::vector<Dim> wideShape = split.shape;
  wideShape[axis + 1] = Dim(n);
  Value wide = expand(one, full(wideShape, 0.0, c.loc), c.loc);
  TensorType t = x.type;
  t.shape[axis] = checkedMul(t.shape[axis], Dim(n), c.loc);
  return Value::tensor(
      t, addNode("reshape", {wide.node}, t, c.loc, {{"shape", t.shape}}));
}

Value Elaborator::biCausalMask(BoundArgs &a, const CallExpr &c) {
  Dim n = staticDim(a.values[0], a.locs[0], "the size of causal_mask");
  TensorType t;
  t.elem = ElemType::Bool;
  t.shape = ruleShape(shapes::causalMask(n), c.loc, a.locs);
  return Value::tensor(t, addNode("causal_mask", {}, t, c.loc));
}

Value Elaborator::biDropout(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  requireFloat(x, a.locs[0], "dropout");
  double p = staticFloat(a.values[1], a.locs[1], "the dropout rate");
  if (!(p >= 0 && p < 1))
    throw CompileError(a.locs[1], "the dropout rate must be in [0, 1), got " +
                                      Value::number(p).describe());
  return Value::tensor(x.type,
                       addNode("dropout", {x.node}, x.type, c.loc, {{"p", p}}));
}

Value Elaborator::biEmbedding(BoundArgs &a, const CallExpr &c) {
  const Value &ids = tensorArg(a, 0, c, "ids");
  const Value &table = tensorArg(a, 1, c, "table");
  if (ids.type.elem != ElemType::I32)
    throw CompileError(a.locs[0], "embedding ids must be an i32 tensor, "
                                  "got " +
                                      ids.type.str());
  requireFloat(table, a.locs[1], "the embedding table");
  TensorType t;
  t.shape = ruleShape(shapes::embedding(ids.type.shape, table.type.shape),
                      c.loc, a.locs);
  return Value::tensor(t,
                       addNode("embedding", {ids.node, table.node}, t, c.loc));
}

Value Elaborator::biArange(BoundArgs &a, const CallExpr &c) {
  Dim n = staticDim(a.values[0], a.locs[0], "the length of arange");
  TensorType t;
  t.elem = ElemType::I32;
  t.shape = ruleShape(shapes::arange(n), c.loc, a.locs);
  return Value::tensor(t, addNode("arange", {}, t, c.loc));
}

Value Elaborator::biLayerNorm(BoundArgs &a, const CallExpr &c) {
  const Value &x = tensorArg(a, 0, c, "x");
  const Value &scale = tensorArg(a, 1, c, "scale");
  const Value &shift = tensorArg(a, 2, c, "shift");
  requireFloat(x, a.locs[0], "layer_norm");
  requireFloat(scale, a.locs[1], "layer_norm's scale");
  requireFloat(shift, a.locs[2], "layer_norm's shift");
  ruleShape(shapes::layerNorm(x.type.shape, scale.type.shape, shift.type.shape),
            c.loc, a.locs);
  double eps = staticFloat(a.values[3], a.locs[3], "eps");
  if (!(eps > 0))
    throw CompileError(a.locs[3], "eps must be positive");
  return Value::tensor(x.type,
                       addNode("layer_norm", {x.node, scale.node, shift.node},
                               x.type, c.loc, {{"eps", eps}}));
}

Value Elaborator::biCrossEntropy(BoundArgs &a, const CallExpr &c) {
  const Value &logits = tensorArg(a, 0, c, "logits");
  const Value &targets = tensorArg(a, 1, c, "targets");
  requireFloat(logits, a.locs[0], "cross_entropy");
  if (targets.type.elem != ElemType::I32)
    throw CompileError(a.locs[1], "cross_entropy targets must be i32, got " +
                                      targets.type.str());
  TensorType t; // scalar f32
  t.shape = ruleShape(
      shapes::crossEntropy(logits.type.shape, targets.type.shape), c.loc);
  int64_t ignore = staticInt(a.values[2], a.locs[2], "ignore_index");
  return Value::tensor(t, addNode("cross_entropy", {logits.node, targets.node},
                                  t, c.loc, {{"ignore_index", ignore}}));
}

} // namespace gptc::sema
