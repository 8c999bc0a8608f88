//===- TrainingStep.cpp - The AdamW training step as IR -------------------===//
//
// Algorithm:
//  1. Find @func_grad (from gpt-autodiff) and the parameter of each
//     `grad.NAME` result.
//  2. Create @train_step with @func_grad's arguments plus adam.m.NAME,
//     adam.v.NAME per trained parameter and the scalars lr, step,
//     weight_decay (and clip_norm); inline @func_grad's body.
//  3. Optionally scale all gradients by min(1, clip_norm / (norm + 1e-6)).
//  4. Apply AdamW per parameter in PyTorch's order of operations (decay,
//     moments, bias corrections, addcdiv) so float64 results agree with it
//     to rounding.
//  5. Return loss, parameters, moments and the unclipped gradients, each
//     tagged with its run-contract name (`gpt.output`).
//  6. Create @adamw_step: steps 3-5 alone, on gradients given as inputs
//     (`grad.NAME`), for a trainer that sums them first over micro-batches
//     or ranks.
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/GptBuilder.h"
#include "gptc/Passes/Passes.h"
#include "gptc/Support/Glob.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"

#include <cmath>

namespace gptc {
#define GEN_PASS_DEF_GPTTRAININGSTEP
#include "gptc/Passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

namespace {

struct TrainingStepPass : gptc::impl::GptTrainingStepBase<TrainingStepPass> {
  using GptTrainingStepBase::GptTrainingStepBase;

  bool decays(StringRef name) { return matchesAny(decay, name); }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto gradFn = module.lookupSymbol<func::FuncOp>(func + "_grad");
    if (!gradFn) {
      module.emitError("gpt-training-step: no @")
          << func << "_grad; run --gpt-autodiff first";
      return signalPassFailure();
    }
    for (const char *name : {"train_step", "adamw_step"})
      if (module.lookupSymbol(name)) {
        gradFn.emitError("gpt-training-step: @") << name << " already exists";
        return signalPassFailure();
      }
    MLIRContext *ctx = &getContext();
    OpBuilder b(ctx);
    auto scalar = RankedTensorType::get({}, b.getF32Type());

    // 1. Trained parameters: the argument behind each grad.NAME result.
    SmallVector<std::string> names;
    SmallVector<unsigned> paramArgs;
    for (unsigned r = 1; r < gradFn.getNumResults(); ++r) {
      auto out = gradFn.getResultAttrOfType<StringAttr>(r, "gpt.output");
      if (!out || !out.getValue().starts_with("grad.")) {
        gradFn.emitError("gpt-training-step: result ")
            << r << " of @" << func << "_grad is not a gradient";
        return signalPassFailure();
      }
      std::string name = out.getValue().drop_front(5).str();
      for (unsigned a = 0; a < gradFn.getNumArguments(); ++a)
        if (auto p = gradFn.getArgAttrOfType<StringAttr>(a, "gpt.param"))
          if (p.getValue() == name)
            paramArgs.push_back(a);
      names.push_back(name);
    }

    // 2. Signature.
    SmallVector<Type> argTypes(gradFn.getArgumentTypes());
    SmallVector<std::string> extraNames;
    for (size_t i = 0; i < names.size(); ++i) {
      argTypes.push_back(gradFn.getArgumentTypes()[paramArgs[i]]);
      extraNames.push_back("adam.m." + names[i]);
    }
    for (size_t i = 0; i < names.size(); ++i) {
      argTypes.push_back(gradFn.getArgumentTypes()[paramArgs[i]]);
      extraNames.push_back("adam.v." + names[i]);
    }
    for (const char *s : {"lr", "step", "weight_decay"}) {
      argTypes.push_back(scalar);
      extraNames.push_back(s);
    }
    if (clip) {
      argTypes.push_back(scalar);
      extraNames.push_back("clip_norm");
    }
    b.setInsertionPointAfter(gradFn);
    mlir::Location loc = gradFn.getLoc();
    auto step = func::FuncOp::create(b, loc, "train_step",
                                     b.getFunctionType(argTypes, {}));
    if (auto requirements = gradFn->getAttr("gpt.requirements"))
      step->setAttr("gpt.requirements", requirements);
    Block *body = step.addEntryBlock();
    unsigned nGradArgs = gradFn.getNumArguments();
    for (unsigned a = 0; a < nGradArgs; ++a)
      step.setArgAttrs(a, gradFn.getArgAttrDict(a));
    for (size_t k = 0; k < extraNames.size(); ++k)
      step.setArgAttr(nGradArgs + k, "gpt.input",
                      b.getStringAttr(extraNames[k]));

    IRMapping map;
    Block &src = gradFn.getBody().front();
    for (unsigned a = 0; a < nGradArgs; ++a)
      map.map(src.getArgument(a), body->getArgument(a));
    b.setInsertionPointToEnd(body);
    for (Operation &op : src.without_terminator())
      b.clone(op, map);
    auto ret = cast<func::ReturnOp>(src.getTerminator());
    Value loss = map.lookup(ret.getOperand(0));
    SmallVector<Value> grads;
    for (size_t i = 0; i < names.size(); ++i)
      grads.push_back(map.lookup(ret.getOperand(i + 1)));

    size_t n = names.size();
    auto arg = [&](size_t k) { return body->getArgument(nGradArgs + k); };
    SmallVector<Value> params, m, v;
    for (size_t i = 0; i < n; ++i) {
      params.push_back(body->getArgument(paramArgs[i]));
      m.push_back(arg(i));
      v.push_back(arg(n + i));
    }
    Update u = emitUpdate(b, loc, names, params, grads, m, v, arg(2 * n),
                          arg(2 * n + 1), arg(2 * n + 2),
                          clip ? arg(2 * n + 3) : Value());

    // 5. Results.
    SmallVector<Value> results{loss};
    SmallVector<std::string> outNames{"loss"};
    auto append = [&](ArrayRef<Value> vs, StringRef prefix) {
      for (size_t i = 0; i < n; ++i) {
        results.push_back(vs[i]);
        outNames.push_back(prefix.str() + names[i]);
      }
    };
    append(u.params, "");
    append(u.m, "adam.m.");
    append(u.v, "adam.v.");
    append(grads, "grad.");
    func::ReturnOp::create(b, loc, results);
    step.setType(b.getFunctionType(argTypes, ValueRange(results).getTypes()));
    for (size_t r = 0; r < outNames.size(); ++r)
      step.setResultAttr(r, "gpt.output", b.getStringAttr(outNames[r]));

    // 6. The update alone, on gradients given as inputs.
    SmallVector<Type> updTypes;
    SmallVector<std::pair<StringRef, std::string>> updAttrs;
    for (size_t i = 0; i < n; ++i) {
      updTypes.push_back(gradFn.getArgumentTypes()[paramArgs[i]]);
      updAttrs.push_back({"gpt.param", names[i]});
    }
    for (const char *prefix : {"grad.", "adam.m.", "adam.v."})
      for (size_t i = 0; i < n; ++i) {
        updTypes.push_back(gradFn.getArgumentTypes()[paramArgs[i]]);
        updAttrs.push_back({"gpt.input", prefix + names[i]});
      }
    for (size_t k = 2 * n; k < extraNames.size(); ++k) {
      updTypes.push_back(scalar);
      updAttrs.push_back({"gpt.input", extraNames[k]});
    }
    b.setInsertionPointAfter(step);
    auto update = func::FuncOp::create(b, loc, "adamw_step",
                                       b.getFunctionType(updTypes, {}));
    Block *ub = update.addEntryBlock();
    for (size_t a = 0; a < updAttrs.size(); ++a)
      update.setArgAttr(a, updAttrs[a].first,
                        b.getStringAttr(updAttrs[a].second));
    b.setInsertionPointToEnd(ub);
    auto uarg = [&](size_t k) { return ub->getArgument(k); };
    SmallVector<Value> up, ug, um, uv;
    for (size_t i = 0; i < n; ++i) {
      up.push_back(uarg(i));
      ug.push_back(uarg(n + i));
      um.push_back(uarg(2 * n + i));
      uv.push_back(uarg(3 * n + i));
    }
    Update u2 =
        emitUpdate(b, loc, names, up, ug, um, uv, uarg(4 * n), uarg(4 * n + 1),
                   uarg(4 * n + 2), clip ? uarg(4 * n + 3) : Value());
    SmallVector<Value> updResults;
    SmallVector<std::string> updNames;
    for (auto [vals, prefix] :
         {std::pair{&u2.params, ""}, {&u2.m, "adam.m."}, {&u2.v, "adam.v."}})
      for (size_t i = 0; i < n; ++i) {
        updResults.push_back((*vals)[i]);
        updNames.push_back(prefix + names[i]);
      }
    func::ReturnOp::create(b, loc, updResults);
    update.setType(
        b.getFunctionType(updTypes, ValueRange(updResults).getTypes()));
    for (size_t r = 0; r < updNames.size(); ++r)
      update.setResultAttr(r, "gpt.output", b.getStringAttr(updNames[r]));
  }

  struct Update {
    SmallVector<Value> params, m, v;
  };

  /// Steps 3 and 4: clipping (when `clipNorm` is given) and AdamW of every
  /// parameter from its gradient and moments.
  Update emitUpdate(OpBuilder &b, mlir::Location loc,
                    ArrayRef<std::string> names, ArrayRef<Value> params,
                    ArrayRef<Value> grads, ArrayRef<Value> m, ArrayRef<Value> v,
                    Value lr, Value t, Value wd, Value clipNorm) {
    GptBuilder gb{b, loc};
    // 3. Global-norm clipping: min(1, c) = 1 - relu(1 - c).
    SmallVector<Value> used(grads);
    if (clipNorm) {
      Value total = gb.cst(0.0);
      for (Value g : grads)
        total = gb.add(total, gb.sumAll(gb.mul(g, g)));
      Value coef = gb.div(clipNorm, gb.add(gb.sqrt(total), gb.cst(1e-6)));
      Value scale = gb.sub(gb.cst(1.0), gb.relu(gb.sub(gb.cst(1.0), coef)));
      for (Value &g : used)
        g = gb.mul(g, scale);
    }

    // 4. AdamW, as torch.optim.AdamW (single tensor, no amsgrad).
    Value bc1 = gb.sub(gb.cst(1.0), gb.exp(gb.mul(t, std::log(double(beta1)))));
    Value bc2 = gb.sub(gb.cst(1.0), gb.exp(gb.mul(t, std::log(double(beta2)))));
    Value stepSize = gb.div(lr, bc1);
    Value bc2Sqrt = gb.sqrt(bc2);
    Update u;
    for (size_t i = 0; i < names.size(); ++i) {
      Value p = params[i], g = used[i];
      if (decays(names[i]))
        p = gb.mul(p, gb.sub(gb.cst(1.0), gb.mul(lr, wd)));
      Value m1 = gb.add(m[i], gb.mul(gb.sub(g, m[i]), 1.0 - beta1));
      Value v1 = gb.add(gb.mul(v[i], double(beta2)),
                        gb.mul(gb.mul(g, g), 1.0 - beta2));
      Value denom = gb.add(gb.div(gb.sqrt(v1), bc2Sqrt), gb.cst(eps));
      u.params.push_back(gb.sub(p, gb.mul(stepSize, gb.div(m1, denom))));
      u.m.push_back(m1);
      u.v.push_back(v1);
    }
    return u;
  }
};

} // namespace
