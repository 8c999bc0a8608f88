//===- CostModel.cpp - FLOPs and activation memory of a function ----------===//
//
// FLOPs: each op declares its cost in GptOps.td (a few operations per
// result or input element: GELU 8, layer norm 8, softmax 5, cross entropy 4
// per logit, most others 1), which is what a roofline comparison needs;
// products (matmul, attention) are computed here: 2*m*k*n. Memory counts the
// bytes of every op result; the peak is the most results alive at once with
// each freed after its last use in program order.
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/CostModel.h"
#include "gptc/IR/GptOps.h"
#include "gptc/IR/OpInfo.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace gptc {

static int64_t numel(Type t) {
  return cast<RankedTensorType>(t).getNumElements();
}

static int64_t bytesOf(Type t) {
  auto r = cast<RankedTensorType>(t);
  return r.getNumElements() *
         std::max<int64_t>(1, r.getElementTypeBitWidth() / 8);
}

/// The ops whose cost ODS declares as Gpt_CustomCost: products.
static void customFlops(Operation *op, double n, Cost &c) {
  llvm::TypeSwitch<Operation *>(op)
      .Case<gpt::MatmulOp>([&](auto m) {
        auto a = cast<RankedTensorType>(m.getLhs().getType());
        c.matmulFlops += 2.0 * n * a.getShape().back();
      })
      .Case<gpt::AttentionOp>([&](auto a) {
        // Two products of q [.., T, D] with the keys; causal halves them.
        auto q = cast<RankedTensorType>(a.getQ().getType()).getShape();
        auto k = cast<RankedTensorType>(a.getK().getType()).getShape();
        double products = 4.0 * numel(a.getQ().getType()) * k[k.size() - 2];
        c.matmulFlops += a.getCausal() ? products / 2 : products;
        c.otherFlops +=
            5.0 * numel(a.getQ().getType()) / q.back() * k[k.size() - 2];
      })
      .Case<gpt::AttentionGradOp>([&](auto a) {
        // Recomputing the scores and four more products.
        auto k = cast<RankedTensorType>(a.getK().getType()).getShape();
        double products = 10.0 * numel(a.getQ().getType()) * k[k.size() - 2];
        c.matmulFlops += a.getCausal() ? products / 2 : products;
      })
      .Default([&](Operation *o) {
        llvm::report_fatal_error("gpt." + o->getName().stripDialect() +
                                 " declares a custom cost that "
                                 "CostModel.cpp does not compute");
      });
}

FailureOr<Cost> estimateCost(func::FuncOp func) {
  Cost c;
  Block &body = func.getBody().front();
  llvm::DenseMap<Value, Operation *> lastUse;
  for (Operation &op : body)
    for (Value v : op.getOperands())
      lastUse[v] = &op;
  int64_t live = 0;
  for (Operation &op : body) {
    if (!isa<gpt::GptDialect>(op.getDialect()))
      continue;
    Type result = op.getResult(0).getType();
    for (Type t : op.getResultTypes())
      if (!cast<RankedTensorType>(t).hasStaticShape())
        return op.emitOpError("has a dynamic result type; specialize the "
                              "function's dims before estimating its cost");
    double n = static_cast<double>(numel(result));
    const ops::OpInfo *info = ops::lookupOp(op.getName().stripDialect());
    if (!info)
      return op.emitOpError("has no entry in the op table");
    switch (info->costBasis) {
    case ops::CostBasis::none:
      break;
    case ops::CostBasis::result:
      c.otherFlops += info->flopsPerElement * n;
      break;
    case ops::CostBasis::input:
      c.otherFlops += info->flopsPerElement * numel(op.getOperand(0).getType());
      break;
    case ops::CostBasis::custom:
      customFlops(&op, n, c);
      break;
    }
    if (isa<gpt::ConstantOp>(op))
      continue;
    int64_t b = 0;
    for (Type t : op.getResultTypes())
      b += bytesOf(t);
    c.activationBytes += b;
    if (isa<gpt::SoftmaxOp>(op) &&
        cast<RankedTensorType>(result).getRank() == 4)
      c.attentionBytes += b;
    if (op.hasAttr("gpt.saved"))
      c.savedBytes += b;
    live += b;
    c.peakLiveBytes = std::max(c.peakLiveBytes, live);
    // Free the operands (op results, not arguments) used for the last time.
    llvm::SmallPtrSet<Value, 4> seen;
    for (Value v : op.getOperands())
      if (v.getDefiningOp() && lastUse.lookup(v) == &op &&
          seen.insert(v).second &&
          isa<gpt::GptDialect>(v.getDefiningOp()->getDialect()) &&
          !isa<gpt::ConstantOp>(v.getDefiningOp()))
        live -= bytesOf(v.getType());
    // Results nobody reads (an lse outside training) die at once.
    for (Value r : op.getResults())
      if (r.use_empty())
        live -= bytesOf(r.getType());
  }
  return c;
}

} // namespace gptc
