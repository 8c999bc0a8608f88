//===- MLIRGen.cpp - Lowering an elaborated model to the gpt dialect ------===//
//
// Algorithm, per entry point:
//  1. Arguments: the entry's inputs in order, then each parameter the entry
//     uses, in declaration order, tagged with their names.
//  2. Each symbolic dim (B, T) is a `tensor.dim` of the first input dim that
//     is exactly that symbol; products of symbols are `arith.muli`.
//  3. Every Sema node becomes one gpt op (or a function argument), with the
//     result type Sema computed and the node's source location. Sema names
//     nodes after ops' mnemonics and attributes after their ODS names, so
//     no op needs its own code here.
//
//===----------------------------------------------------------------------===//

#include "gptc/Frontend/MLIRGen.h"
#include "gptc/IR/GptOps.h"
#include "gptc/IR/SourceLoc.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include <map>

using namespace mlir;

namespace gptc {

void loadGptDialects(MLIRContext &context) {
  context.loadDialect<gpt::GptDialect, func::FuncDialect, arith::ArithDialect,
                      tensor::TensorDialect>();
}

namespace {

class MLIRGenImpl {
public:
  MLIRGenImpl(MLIRContext &ctx) : ctx(ctx), b(&ctx) {}

  OwningOpRef<ModuleOp> gen(const Program &p) {
    prog = &p;
    module = ModuleOp::create(b.getUnknownLoc());
    for (const Entry &e : p.entries)
      genEntry(e);
    return module;
  }

private:
  mlir::Location fileLoc(const gptc::Location &l) {
    return l.isValid() ? mlir::Location(FileLineColLoc::get(&ctx, l.file->path,
                                                            l.line, l.col))
                       : mlir::Location(b.getUnknownLoc());
  }

  /// The expression's position, inside call sites for the def calls that
  /// led to it (callsite(expr at callsite(inner call at outer call))), in a
  /// NameLoc with its instance scope (SourceLoc.h reads them back).
  mlir::Location locOf(const gptc::Location &l, const std::string &scope,
                       const std::vector<CallSite> &callers = {}) {
    mlir::Location loc = fileLoc(l);
    if (!callers.empty()) {
      mlir::Location caller = b.getUnknownLoc();
      for (size_t i = callers.size(); i-- > 0;) {
        const CallSite &c = callers[i];
        mlir::Location site = NameLoc::get(
            b.getStringAttr(callSiteName(c.def, c.scope)), fileLoc(c.loc));
        caller =
            i + 1 == callers.size() ? site : CallSiteLoc::get(site, caller);
      }
      loc = CallSiteLoc::get(loc, caller);
    }
    if (scope.empty())
      return loc;
    return NameLoc::get(b.getStringAttr(scope), loc);
  }

  Type elemType(ast::ElemType e) {
    switch (e) {
    case ast::ElemType::F32:
      return b.getF32Type();
    case ast::ElemType::I32:
      return b.getI32Type();
    case ast::ElemType::Bool:
      return b.getI1Type();
    }
    return {};
  }

  RankedTensorType tensorType(const TensorType &t) {
    SmallVector<int64_t> shape;
    for (const Dim &d : t.shape)
      shape.push_back(d.isConstant() ? d.coeff : ShapedType::kDynamic);
    return RankedTensorType::get(shape, elemType(t.elem));
  }

  Value indexConst(int64_t v, mlir::Location l) {
    return arith::ConstantIndexOp::create(b, l, v);
  }

  /// The run-time value of a symbolic dim, built from the input dims.
  Value dimValue(const Dim &d, mlir::Location l) {
    if (d.isConstant())
      return indexConst(d.coeff, l);
    std::string key = d.str();
    auto it = dimCache.find(key);
    if (it != dimCache.end())
      return it->second;
    Value v = d.coeff == 1 ? Value() : indexConst(d.coeff, l);
    for (auto &[sym, exp] : d.syms)
      for (int i = 0; i < exp; ++i) {
        Value s = symbols.at(sym);
        v = v ? Value(arith::MulIOp::create(b, l, v, s)) : s;
      }
    dimCache[key] = v;
    return v;
  }

  /// Splits dims into the static list (kDynamic where symbolic) and the
  /// index operands of the dynamic ones.
  void mixedDims(const std::vector<Dim> &dims, mlir::Location l,
                 SmallVectorImpl<int64_t> &statics,
                 SmallVectorImpl<Value> &dynamics) {
    for (const Dim &d : dims) {
      if (d.isConstant()) {
        statics.push_back(d.coeff);
      } else {
        statics.push_back(ShapedType::kDynamic);
        dynamics.push_back(dimValue(d, l));
      }
    }
  }

  void genEntry(const Entry &e) {
    symbols.clear();
    dimCache.clear();
    // Dropout ids count per function, so `forward` and `loss` number the
    // same dropouts the same way.
    nextDropoutId = 0;
    SmallVector<Type> argTypes;
    SmallVector<int> argNodes(e.inputs.begin(), e.inputs.end());
    for (size_t i = 0; i < e.nodes.size(); ++i)
      if (e.nodes[i].op == "param")
        argNodes.push_back(static_cast<int>(i));
    for (int n : argNodes)
      argTypes.push_back(tensorType(e.nodes[n].type));
    Type resultType = tensorType(e.nodes[e.result].type);

    b.setInsertionPointToEnd(module.getBody());
    auto func = func::FuncOp::create(b, locOf(e.loc, ""), e.name,
                                     b.getFunctionType(argTypes, resultType));
    // What the front end could not decide about the symbolic dims (asserts,
    // slice bounds) is checked by the run time: `gpt.requirements`, one
    // {lhs, rel, rhs, message} per condition; derived functions copy it.
    SmallVector<Attribute> requirements;
    for (const RuntimeCheck &c : e.checks)
      requirements.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("lhs", b.getStringAttr(c.lhs.str())),
           b.getNamedAttr("rel", b.getStringAttr(ast::spelling(c.op))),
           b.getNamedAttr("rhs", b.getStringAttr(c.rhs.str())),
           b.getNamedAttr("message",
                          b.getStringAttr(c.loc.str() + ": " + c.message))}));
    if (!requirements.empty())
      func->setAttr("gpt.requirements", b.getArrayAttr(requirements));
    std::vector<Value> values(e.nodes.size());
    Block *body = func.addEntryBlock();
    for (size_t i = 0; i < argNodes.size(); ++i) {
      const Node &n = e.nodes[argNodes[i]];
      bool isParam = n.op == "param";
      const std::string &name = std::get<std::string>(*n.attr("name"));
      func.setArgAttr(i, isParam ? "gpt.param" : "gpt.input",
                      b.getStringAttr(name));
      // Frozen in the model: no training config may train it.
      if (isParam && prog->findParam(name)->frozen)
        func.setArgAttr(i, "gpt.frozen", b.getUnitAttr());
      if (!isParam) {
        // Name each input dim (B, T, or its size) so tools can bind them.
        SmallVector<Attribute> dims;
        for (const Dim &d : n.type.shape)
          dims.push_back(b.getStringAttr(d.str()));
        func.setArgAttr(i, "gpt.dims", b.getArrayAttr(dims));
      }
      body->getArgument(i).setLoc(locOf(n.loc, n.scope, n.callers));
      values[argNodes[i]] = body->getArgument(i);
    }
    b.setInsertionPointToStart(body);

    // Bind each symbol to the first input dim that is exactly it.
    for (int in : e.inputs) {
      const TensorType &t = e.nodes[in].type;
      for (size_t d = 0; d < t.shape.size(); ++d) {
        const Dim &dim = t.shape[d];
        if (dim.syms.size() != 1 || dim.coeff != 1 ||
            dim.syms.begin()->second != 1 ||
            symbols.count(dim.syms.begin()->first))
          continue;
        symbols[dim.syms.begin()->first] =
            tensor::DimOp::create(b, locOf(e.nodes[in].loc, ""), values[in], d);
      }
    }

    for (size_t i = 0; i < e.nodes.size(); ++i) {
      const Node &n = e.nodes[i];
      if (n.op == "input" || n.op == "param")
        continue;
      values[i] = genNode(n, values);
    }
    func::ReturnOp::create(b, locOf(e.loc, ""), values[e.result]);
  }

  /// Sema names each node after its op's mnemonic and each attribute after
  /// the op's ODS attribute, so one generic rule builds every op:
  ///  - int64, double, bool, int list: I64Attr, F64Attr, BoolAttr,
  ///    DenseI64ArrayAttr;
  ///  - a list of dims `X`: the static list `static_X` and an index operand
  ///    `dynamic_X` per symbolic dim (with operand segment sizes when the
  ///    op has several variadic groups);
  ///  - ops that make a tensor from a size (causal_mask, arange) take the
  ///    size of their result's first dim; dropout numbers its ids.
  Value genNode(const Node &n, const std::vector<Value> &values) {
    mlir::Location l = locOf(n.loc, n.scope, n.callers);
    OperationState state(l, "gpt." + n.op);
    if (!state.name.isRegistered())
      llvm::report_fatal_error(llvm::Twine("Sema produced gpt.") + n.op +
                               ", which the dialect does not define");
    state.addTypes(tensorType(n.type));
    for (int k : n.operands)
      state.addOperands(values[k]);
    SmallVector<int32_t> segments{static_cast<int32_t>(n.operands.size())};
    NamedAttrList props;
    for (const auto &[name, attr] : n.attrs) {
      if (auto *dims = std::get_if<std::vector<Dim>>(&attr)) {
        SmallVector<int64_t> statics;
        SmallVector<Value> dynamics;
        mixedDims(*dims, l, statics, dynamics);
        props.append("static_" + name, b.getDenseI64ArrayAttr(statics));
        state.addOperands(dynamics);
        segments.push_back(static_cast<int32_t>(dynamics.size()));
        continue;
      }
      Attribute a = std::visit(
          [&](const auto &v) -> Attribute {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, int64_t>)
              return b.getI64IntegerAttr(v);
            else if constexpr (std::is_same_v<T, double>)
              return b.getF64FloatAttr(v);
            else if constexpr (std::is_same_v<T, bool>)
              return b.getBoolAttr(v);
            else if constexpr (std::is_same_v<T, std::string>)
              return b.getStringAttr(v);
            else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
              return b.getDenseI64ArrayAttr(v);
            else
              return Attribute();
          },
          attr);
      props.append(name, a);
    }
    if (n.op == "causal_mask" || n.op == "arange")
      state.addOperands(dimValue(n.type.shape[0], l));
    if (n.op == "dropout")
      props.append("id", b.getI64IntegerAttr(nextDropoutId++));
    if (segments.size() > 2)
      props.append("operandSegmentSizes", b.getDenseI32ArrayAttr(segments));
    if (!props.empty())
      state.propertiesAttr = props.getDictionary(&ctx);
    return b.create(state)->getResult(0);
  }

  MLIRContext &ctx;
  OpBuilder b;
  ModuleOp module;
  const Program *prog = nullptr;
  std::map<std::string, Value> symbols;
  std::map<std::string, Value> dimCache;
  int64_t nextDropoutId = 0;
};

} // namespace

OwningOpRef<ModuleOp> mlirGen(MLIRContext &context, const Program &prog) {
  return MLIRGenImpl(context).gen(prog);
}

} // namespace gptc
