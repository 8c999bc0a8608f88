//===- Autodiff.cpp - Reverse-mode differentiation of the loss ------------===//
//
// Algorithm:
//  1. Check that @func returns one scalar tensor<f32>; clone it as
//     @func_grad.
//  2. Activity: a float value is active if it depends on a trainable
//     parameter (forward sweep); integers and masks never are. Only active
//     ops get backward work, so frozen parameters cost nothing.
//  3. Seed d loss = 1. Walk the ops in reverse; for an active op whose
//     result has a gradient, ask its gradient rule for the operand
//     gradients (built at the end of the function, so the backward follows
//     the forward and reuses its values); sum gradients of values with
//     several users.
//  4. Return the loss and each trainable parameter's gradient (zeros for a
//     parameter the loss does not use).
//
//===----------------------------------------------------------------------===//

#include "gptc/Passes/Passes.h"
#include "gptc/Support/Glob.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace gptc {
#define GEN_PASS_DEF_GPTAUTODIFF
#include "gptc/Passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

namespace {

/// acc + og. A scatter of an embedding's gradient (a tied embedding's,
/// added to the LM head's weight gradient) takes the other term as its base
/// instead: one pass over the table rather than a zero-filled table, then
/// an add that reads two tables and writes a third. Neither term has users
/// yet: a gradient is read only once its value's gradients are all summed.
Value accumulate(OpBuilder &b, mlir::Location loc, Value acc, Value og) {
  for (auto [term, other] : {std::pair{og, acc}, std::pair{acc, og}}) {
    auto scatter = term.getDefiningOp<gpt::EmbeddingGradOp>();
    if (!scatter || scatter.getBase() || !term.use_empty() ||
        other.getType() != term.getType())
      continue;
    Value sum = gpt::EmbeddingGradOp::create(
        b, scatter.getLoc(), term.getType(), scatter.getGrad(),
        scatter.getIds(), scatter.getTable(), other);
    scatter.erase();
    return sum;
  }
  return gpt::AddOp::create(b, loc, acc.getType(), acc, og);
}

struct AutodiffPass : gptc::impl::GptAutodiffBase<AutodiffPass> {
  using GptAutodiffBase::GptAutodiffBase;

  bool isTrainable(StringRef name) { return matchesAny(trainable, name); }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fwd = module.lookupSymbol<func::FuncOp>(func);
    if (!fwd) {
      module.emitError("gpt-autodiff: no function @")
          << func << " to differentiate";
      return signalPassFailure();
    }
    auto resultTypes = fwd.getResultTypes();
    auto scalar = resultTypes.size() == 1
                      ? dyn_cast<RankedTensorType>(resultTypes[0])
                      : RankedTensorType();
    if (!scalar || scalar.getRank() != 0 || !scalar.getElementType().isF32()) {
      fwd.emitError("gpt-autodiff: the loss @")
          << func << " must return one scalar tensor<f32>, but returns "
          << fwd.getFunctionType().getResults();
      return signalPassFailure();
    }
    if (module.lookupSymbol(func + "_grad")) {
      fwd.emitError("gpt-autodiff: @") << func << "_grad already exists";
      return signalPassFailure();
    }

    func::FuncOp grad = fwd.clone();
    grad.setName(func + "_grad");
    module.insert(std::next(Block::iterator(fwd)), grad);
    Block &body = grad.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());

    // 2. Activity.
    llvm::DenseSet<Value> active;
    SmallVector<unsigned> trained;
    // The model's `frozen` parameters stay frozen: patterns only narrow
    // what it leaves trainable.
    auto frozen = [&](unsigned i) {
      return static_cast<bool>(grad.getArgAttr(i, "gpt.frozen"));
    };
    for (unsigned i = 0; i < grad.getNumArguments(); ++i)
      if (auto p = grad.getArgAttrOfType<StringAttr>(i, "gpt.param"))
        if (!frozen(i) && isTrainable(p.getValue())) {
          active.insert(body.getArgument(i));
          trained.push_back(i);
        }
    // A pattern that names no parameter is a typo, and one that names only
    // frozen parameters asks for what the model forbids; neither is a
    // request to train nothing.
    for (const std::string &p : trainable) {
      bool any = false, anyTrainable = false;
      for (unsigned i = 0; i < grad.getNumArguments(); ++i)
        if (auto name = grad.getArgAttrOfType<StringAttr>(i, "gpt.param"))
          if (globMatch(p, name.getValue())) {
            any = true;
            anyTrainable |= !frozen(i);
          }
      if (!anyTrainable) {
        fwd.emitError("gpt-autodiff: the trainable pattern '")
            << p << "' matches "
            << (any ? "only parameters the model freezes ('frozen' in its "
                      "source)"
                    : "no parameter")
            << " of @" << func;
        grad.erase();
        return signalPassFailure();
      }
    }
    // Integers and masks carry no gradient: a comparison or a cast to i32
    // ends the active path, a cast back to f32 does not revive it.
    auto isFloat = [](Value v) {
      auto t = dyn_cast<RankedTensorType>(v.getType());
      return t && isa<FloatType>(t.getElementType());
    };
    for (Operation &op : body.without_terminator())
      if (llvm::any_of(op.getOperands(),
                       [&](Value v) { return active.contains(v); }))
        for (Value r : op.getResults())
          if (isFloat(r))
            active.insert(r);

    // 3. Backward, in reverse.
    OpBuilder b(ret);
    llvm::DenseMap<Value, Value> grads;
    Value loss = ret.getOperand(0);
    grads[loss] = gpt::ConstantOp::create(
        b, grad.getLoc(), RankedTensorType::get({}, b.getF32Type()),
        b.getF64FloatAttr(1.0));
    SmallVector<Operation *> order;
    for (Operation &op : body.without_terminator())
      order.push_back(&op);
    for (Operation *op : llvm::reverse(order)) {
      if (op->getNumResults() == 0 || !active.contains(op->getResult(0)))
        continue;
      // Gradient rules take the gradient of the first result; the others
      // (attention's lse) are saved for the backward, not differentiated.
      for (Value extra : op->getResults().drop_front())
        if (grads.count(extra)) {
          op->emitError("gpt-autodiff: a gradient flows into result ")
              << cast<OpResult>(extra).getResultNumber() << " of '"
              << op->getName() << "', which its gradient rule does not take";
          return signalPassFailure();
        }
      Value g = grads.lookup(op->getResult(0));
      if (!g)
        continue;
      auto rule = dyn_cast<gpt::Differentiable>(op);
      if (!rule) {
        op->emitError("gpt-autodiff: '")
            << op->getName() << "' has no gradient rule";
        return signalPassFailure();
      }
      SmallVector<Value> operandGrads;
      b.setInsertionPoint(ret);
      rule.buildGradients(b, g, operandGrads);
      for (auto [operand, og] : llvm::zip(op->getOperands(), operandGrads)) {
        if (!og || !active.contains(operand))
          continue;
        Value &acc = grads[operand];
        acc = acc ? accumulate(b, op->getLoc(), acc, og) : og;
      }
    }

    // 4. Results.
    SmallVector<Value> results{loss};
    SmallVector<Attribute> names{b.getStringAttr("loss")};
    b.setInsertionPoint(ret);
    for (unsigned i : trained) {
      Value arg = body.getArgument(i);
      Value g = grads.lookup(arg);
      if (!g)
        g = gpt::BroadcastLikeOp::create(
            b, grad.getLoc(), arg.getType(),
            gpt::ConstantOp::create(b, grad.getLoc(),
                                    RankedTensorType::get({}, b.getF32Type()),
                                    b.getF64FloatAttr(0.0)),
            arg);
      results.push_back(g);
      names.push_back(b.getStringAttr(
          "grad." + grad.getArgAttrOfType<StringAttr>(i, "gpt.param").str()));
    }
    func::ReturnOp::create(b, ret.getLoc(), results);
    ret.erase();
    grad.setType(FunctionType::get(&getContext(), grad.getArgumentTypes(),
                                   ValueRange(results).getTypes()));
    for (unsigned i = 0; i < names.size(); ++i)
      grad.setResultAttr(i, "gpt.output", names[i]);

    llvm::DenseSet<Operation *> forward(order.begin(), order.end());
    // Gradients of operands nobody needs (inputs, frozen values) were built
    // anyway by the rules; drop them before deciding what is saved.
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
      if (!forward.contains(&op) && op.use_empty() && isPure(&op) &&
          !op.hasTrait<mlir::OpTrait::IsTerminator>())
        op.erase();

    // Tag the forward values the backward reads: the activations training
    // must keep (gptc info reports their memory).
    for (Operation *op : order)
      for (Operation *user : op->getUsers())
        if (!forward.contains(user) && !isa<func::ReturnOp>(user) &&
            op->getNumResults() >= 1 &&
            isa<RankedTensorType>(op->getResult(0).getType())) {
          op->setAttr("gpt.saved", b.getUnitAttr());
          break;
        }
  }
};

} // namespace
