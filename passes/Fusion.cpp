//===- Fusion.cpp - Grouping ops into kernels -----------------------------===//
//
// Outlines each group of ops that one generated kernel computes into a
// `gpt.kernel`, so that every intermediate inside a group stays in
// registers and only group results reach memory.
//
// Algorithm (one function at a time, visiting ops last to first so that
// every user of an op is placed before the op itself):
//  0. A transpose of the last two dims read by several matmuls is copied
//     per matmul, so each absorbs it (below) instead of reading one
//     materialized transpose. Likewise an elementwise op of one tensor and
//     scalars (a gradient times the clipping scale) read by several fused
//     consumers is copied per consumer: each recomputes it from the one
//     tensor it reads, where a materialized copy costs a write and as many
//     reads.
//  1. Index arithmetic (tensor.dim, arith) stays outside kernels: the host
//     program computes sizes. Cheap generators (constant, causal_mask,
//     arange) are never materialized: a copy is cloned into each kernel
//     that reads them.
//  2. A matmul whose right operand is a matrix, or a batch of products
//     with equal batch dims (attention's per-head products), becomes a
//     `matmul` kernel: a transpose of the last two dims feeding either
//     operand is absorbed as trans_a/trans_b,
//     a single-use bias add (and a GELU after it) as the epilogue. The
//     weight gradient unbroadcast(matmul(transpose(x), dy)) over a batch
//     dim is one matmul with trans_a (the batch folds into the reduction);
//     its 2-D transpose, dy^T x, is the same with a and b swapped.
//  3. Every other op roots a `fused` kernel unless its consumer pulls it in.
//     A fused kernel pulls in a producer when the producer is elementwise
//     or a layout change (injective) and every reader of its result is in
//     the kernel, so elementwise chains fuse into their consumer, down to
//     the reduction or store that ends them. A producer with a reader
//     outside is materialized once rather than recomputed.
//  4. A reshape that would be a kernel on its own (a pure copy) stays
//     outside as a view: the host reinterprets the dense buffer.
//  5. Attention (gpt.attention, gpt.attention_grad) is a kernel family of
//     its own and stays a top-level op; the host program calls it.
//  6. A fused group of elementwise ops alone absorbs the elementwise
//     groups whose results it reads, when those results have its result's
//     static type and no reader but it and the function's return: one pass
//     computes them all (AdamW's moments and the parameter they update
//     read the gradient, m and v once, not three times).
//  7. Groups are outlined in place of their root; their inputs become the
//     kernel's operands (for matmul: a, b, then bias), their roots' results
//     its results. A value a matmul kernel reads only for its static shape
//     becomes a tensor.empty inside it; kernels left without readers are
//     erased.
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/GptOps.h"
#include "gptc/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/SetVector.h"

namespace gptc {
#define GEN_PASS_DEF_GPTFUSE
#include "gptc/Passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc::gpt;

namespace {

/// Recomputed in every kernel that reads them.
bool isCheap(Operation *op) {
  return op->hasTrait<gptc::gpt::OpTrait::Generator>();
}

/// One output element reads a bounded set of input elements: fusing the op
/// into its consumer never repeats work beyond a broadcast.
bool isInjective(Operation *op) {
  return op->hasTrait<gptc::gpt::OpTrait::Elementwise>() ||
         op->hasTrait<gptc::gpt::OpTrait::Injective>();
}

/// The only op using `v`'s defining op's result, or null.
Operation *soleUser(Value v) {
  Operation *user = nullptr;
  for (Operation *u : v.getUsers()) {
    if (user && u != user)
      return nullptr;
    user = u;
  }
  return user;
}

/// The top-level gpt op defining `v` unless it is cloned into each reader
/// (isCheap), else null.
Operation *producer(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def || !isa<GptDialect>(def->getDialect()) || isCheap(def))
    return nullptr;
  return def;
}

/// `v` as a top-level gpt op's result that only `user` reads.
Operation *pullable(Value v, Operation *user) {
  Operation *def = producer(v);
  return def && soleUser(v) == user ? def : nullptr;
}

bool isTranspose2d(Operation *op) {
  auto t = dyn_cast_or_null<TransposeOp>(op);
  return t && t.getPerm().size() == 2;
}

bool swapsLastTwo(Operation *op) {
  auto t = dyn_cast_or_null<TransposeOp>(op);
  return t && t.swapsLastTwoDims();
}

struct Group {
  std::string kind = "fused";
  Operation *root = nullptr;
  /// The ops whose results the kernel returns, in program order: the root
  /// and the roots of the groups it absorbed (step 6).
  SmallVector<Operation *> results;
  bool absorbed = false; ///< Merged into another group (step 6).
  llvm::SetVector<Operation *> ops;
  /// Matmul kernels: the values read as a, b and bias (null when absent).
  Value a, b, bias;
  bool transA = false, transB = false, batched = false;
  std::string epilogue = "none";
};

struct FusePass : gptc::impl::GptFuseBase<FusePass> {
  void runOnOperation() override {
    getOperation().walk([&](func::FuncOp func) { fuse(func); });
  }

  void fuse(func::FuncOp func) {
    Block &body = func.getBody().front();
    splitSharedTransposes(body);
    splitScaledTensors(body);
    llvm::DenseMap<Operation *, size_t> groupOf;
    std::vector<Group> groups;
    SmallVector<Operation *> ops;
    for (Operation &op : body)
      ops.push_back(&op);
    for (Operation *op : llvm::reverse(ops)) {
      if (!isa<GptDialect>(op->getDialect()) || isCheap(op) ||
          groupOf.count(op) ||
          isa<KernelOp, AttentionOp, AttentionGradOp, CacheWriteOp,
              CachedAttentionOp>(op))
        continue;
      Group g;
      if (!formMatmul(op, g)) {
        g = Group();
        formFused(op, g);
      }
      if (!g.root)
        continue; // a view
      for (Operation *member : g.ops)
        groupOf[member] = groups.size();
      g.results = {g.root};
      groups.push_back(std::move(g));
    }
    for (size_t i = 0; i < groups.size(); ++i)
      absorbSiblings(groups, groupOf, i);
    SmallVector<Operation *> cheap;
    for (Operation *op : ops)
      if (isCheap(op))
        cheap.push_back(op);
    for (Group &g : groups)
      if (!g.absorbed)
        outline(g);
    // Kernels whose only reader was a shape (see outline) are dead.
    SmallVector<KernelOp> kernels(body.getOps<KernelOp>());
    for (KernelOp k : llvm::reverse(kernels))
      if (k->use_empty())
        k->erase();
    // Cheap generators now only feed kernels.
    for (Operation *op : llvm::reverse(cheap))
      if (op->use_empty())
        op->erase();
  }

  /// Step 0: a 2-D transpose read by several matmuls gets a copy per
  /// matmul, so each can absorb it as trans_a/trans_b instead of one
  /// materialized transposed copy.
  static void splitSharedTransposes(Block &body) {
    SmallVector<TransposeOp> shared;
    for (auto t : body.getOps<TransposeOp>())
      if (swapsLastTwo(t) && !t->hasOneUse())
        shared.push_back(t);
    for (TransposeOp t : shared) {
      for (OpOperand &use : llvm::make_early_inc_range(t->getUses())) {
        if (!isa<MatmulOp>(use.getOwner()))
          continue;
        OpBuilder b(use.getOwner());
        use.set(b.clone(*t)->getResult(0));
      }
      if (t->use_empty())
        t->erase();
    }
  }

  /// Step 0, second half: an elementwise op whose operands are one tensor
  /// of its result's shape and one or more rank-0 scalars (an op of one
  /// tensor alone, exp say, stays materialized), read only by ops that fuse
  /// producers (not matmuls, attention or the return), gets a copy per
  /// reader. Dropout is left alone: a copy would redraw its masks.
  static void splitScaledTensors(Block &body) {
    auto scalesOneTensor = [](Operation *op) {
      if (!op->hasTrait<gptc::gpt::OpTrait::Elementwise>() ||
          isa<DropoutOp>(op) || op->getNumResults() != 1 || op->hasOneUse() ||
          op->use_empty())
        return false;
      int tensors = 0, scalars = 0;
      for (Value v : op->getOperands()) {
        auto t = dyn_cast<RankedTensorType>(v.getType());
        if (!t)
          return false;
        if (t.getRank() == 0) {
          ++scalars;
          continue;
        }
        if (t != op->getResult(0).getType())
          return false;
        ++tensors;
      }
      return tensors == 1 && scalars > 0 &&
             llvm::all_of(op->getUsers(), [](Operation *u) {
               return isa<GptDialect>(u->getDialect()) &&
                      !isa<MatmulOp, AttentionOp, AttentionGradOp, KernelOp>(u);
             });
    };
    SmallVector<Operation *> shared;
    for (Operation &op : body)
      if (isa<GptDialect>(op.getDialect()) && scalesOneTensor(&op))
        shared.push_back(&op);
    for (Operation *op : shared) {
      for (OpOperand &use : llvm::make_early_inc_range(op->getUses())) {
        if (op->hasOneUse())
          break;
        OpBuilder b(use.getOwner());
        use.set(b.clone(*op)->getResult(0));
      }
    }
  }

  /// unbroadcast(matmul(transpose(x), dy)) from [batch, k, n] to [k, n],
  /// every intermediate used once.
  static bool matchWeightGrad(UnbroadcastOp u, MatmulOp &mm, TransposeOp &t) {
    mm = dyn_cast_or_null<MatmulOp>(pullable(u.getInput(), u));
    if (!mm || cast<RankedTensorType>(u.getType()).getRank() != 2 ||
        cast<RankedTensorType>(mm.getType()).getRank() != 3)
      return false;
    t = dyn_cast_or_null<TransposeOp>(pullable(mm.getLhs(), mm));
    return t && t.getPerm() == ArrayRef<int64_t>{0, 2, 1} &&
           cast<RankedTensorType>(mm.getRhs().getType()).getRank() == 3;
  }

  /// A 2-D transpose of a weight gradient: a matmul kernel's root.
  static bool isTransposedWeightGrad(Operation *op) {
    MatmulOp mm;
    TransposeOp t;
    if (!isTranspose2d(op))
      return false;
    auto u = dyn_cast_or_null<UnbroadcastOp>(pullable(op->getOperand(0), op));
    return u && matchWeightGrad(u, mm, t);
  }

  /// Step 2: the matmul families rooted at `op`.
  bool formMatmul(Operation *op, Group &g) {
    // Weight gradient: unbroadcast(matmul(transpose(x), dy)) to a matrix,
    // x^T dy; transposed, it is dy^T x.
    Operation *outer = nullptr;
    if (isTranspose2d(op)) {
      outer = op;
      op = pullable(op->getOperand(0), op);
    }
    if (auto u = dyn_cast_or_null<UnbroadcastOp>(op)) {
      MatmulOp mm;
      TransposeOp t;
      if (!matchWeightGrad(u, mm, t))
        return false;
      g.kind = "matmul";
      g.root = outer ? outer : op;
      g.ops.insert(t);
      g.ops.insert(mm);
      g.ops.insert(op);
      if (outer)
        g.ops.insert(outer);
      g.a = outer ? mm.getRhs() : t.getInput();
      g.b = outer ? t.getInput() : mm.getRhs();
      g.transA = true;
      return true;
    }
    if (outer)
      return false;
    // Epilogues: matmul [+ bias [+ gelu]], matched from the last op.
    Operation *gelu = nullptr, *add = nullptr;
    MatmulOp mm;
    if (isa<GeluOp>(op)) {
      gelu = op;
      add = pullable(op->getOperand(0), op);
    } else if (isa<AddOp>(op)) {
      add = op;
    } else if (auto m = dyn_cast<MatmulOp>(op)) {
      mm = m;
    }
    if (add) {
      auto addOp = dyn_cast_or_null<AddOp>(add);
      if (!addOp)
        return false;
      mm = dyn_cast_or_null<MatmulOp>(pullable(addOp.getLhs(), add));
      auto biasType = cast<RankedTensorType>(addOp.getRhs().getType());
      if (!mm || biasType.getRank() != 1 ||
          biasType.getDimSize(0) !=
              cast<RankedTensorType>(mm.getType()).getShape().back() ||
          biasType.isDynamicDim(0))
        return false;
      g.bias = addOp.getRhs();
      g.epilogue = gelu ? "bias_gelu" : "bias";
    }
    if (!mm || !matrixOperands(mm, g) || (g.batched && add))
      return false;
    g.kind = "matmul";
    g.root = op;
    g.ops.insert(mm);
    if (add)
      g.ops.insert(add);
    if (gelu)
      g.ops.insert(gelu);
    return true;
  }

  /// Fills a, b and the transposes when `mm` is x [..., k] times a matrix,
  /// or a batch of products with the same batch dims on both sides.
  bool matrixOperands(MatmulOp mm, Group &g) {
    auto lhsType = cast<RankedTensorType>(mm.getLhs().getType());
    auto rhsType = cast<RankedTensorType>(mm.getRhs().getType());
    int64_t rank = rhsType.getRank();
    if (lhsType.getRank() < 2 || rank < 2)
      return false;
    if (rank > 2) {
      if (lhsType.getRank() != rank)
        return false;
      for (int64_t i = 0; i + 2 < rank; ++i)
        if (lhsType.getDimSize(i) != rhsType.getDimSize(i) ||
            lhsType.getDimSize(i) == 1)
          return false; // broadcasting batch dims: not a plain batch
      g.batched = true;
    }
    g.a = mm.getLhs();
    g.b = mm.getRhs();
    if (Operation *t = pullable(mm.getLhs(), mm);
        t && swapsLastTwo(t) && lhsType.getRank() == rank) {
      g.ops.insert(t);
      g.a = t->getOperand(0);
      g.transA = true;
    }
    if (Operation *t = pullable(mm.getRhs(), mm); t && swapsLastTwo(t)) {
      g.ops.insert(t);
      g.b = t->getOperand(0);
      g.transB = true;
    }
    return true;
  }

  /// Step 3 and 4: `op` and the injective producers whose readers are all
  /// in the group.
  void formFused(Operation *op, Group &g) {
    llvm::SetVector<Operation *> members;
    members.insert(op);
    // A producer joins once every reader of its result is a member; a
    // producer read twice in the group (tanh in GELU's gradient) waits for
    // its second reader, so sweep until nothing joins.
    auto joins = [&](Value v) -> Operation * {
      Operation *p = producer(v);
      if (!p || members.contains(p) || !isInjective(p) ||
          isTransposedWeightGrad(p))
        return nullptr;
      bool inside = llvm::all_of(
          v.getUsers(), [&](Operation *u) { return members.contains(u); });
      return inside ? p : nullptr;
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i = 0; i < members.size(); ++i)
        for (Value v : members[i]->getOperands())
          if (Operation *p = joins(v)) {
            members.insert(p);
            changed = true;
          }
    }
    if (members.size() == 1 && isa<ReshapeOp>(op))
      return; // a view of its operand's buffer
    g.root = op;
    g.ops = std::move(members);
  }

  /// A fused group of elementwise ops alone (dropout aside: a copy of its
  /// mask per result would be needed), with a static result type.
  static bool isElementwiseGroup(const Group &g) {
    auto type = dyn_cast<RankedTensorType>(g.root->getResult(0).getType());
    return g.kind == "fused" && type && type.hasStaticShape() &&
           llvm::all_of(g.ops, [](Operation *op) {
             return op->hasTrait<gptc::gpt::OpTrait::Elementwise>() &&
                    !isa<DropoutOp>(op) && op->getNumResults() == 1;
           });
  }

  /// Step 6: groups[i] absorbs the groups rooted at its operands'
  /// producers while they qualify.
  static void absorbSiblings(std::vector<Group> &groups,
                             llvm::DenseMap<Operation *, size_t> &groupOf,
                             size_t i) {
    Group &g = groups[i];
    if (g.absorbed || !isElementwiseGroup(g))
      return;
    Type type = g.root->getResult(0).getType();
    for (bool changed = true; changed;) {
      changed = false;
      SmallVector<Operation *> members(g.ops.begin(), g.ops.end());
      for (Operation *op : members)
        for (Value v : op->getOperands()) {
          Operation *def = v.getDefiningOp();
          auto it = def ? groupOf.find(def) : groupOf.end();
          if (it == groupOf.end() || it->second == i)
            continue;
          Group &h = groups[it->second];
          if (h.absorbed || h.root != def || !isElementwiseGroup(h) ||
              def->getResult(0).getType() != type)
            continue;
          // Its results must not be needed before g's kernel runs.
          bool onlyHere = llvm::all_of(h.results, [&](Operation *r) {
            return llvm::all_of(r->getUsers(), [&](Operation *u) {
              return g.ops.contains(u) || h.ops.contains(u) ||
                     isa<func::ReturnOp>(u);
            });
          });
          if (!onlyHere)
            continue;
          for (Operation *member : h.ops) {
            g.ops.insert(member);
            groupOf[member] = i;
          }
          g.results.append(h.results.begin(), h.results.end());
          h.absorbed = true;
          changed = true;
        }
    }
    llvm::sort(g.results, [](Operation *x, Operation *y) {
      return x->isBeforeInBlock(y);
    });
  }

  /// Step 7.
  void outline(Group &g) {
    // Members in program order.
    SmallVector<Operation *> members(g.ops.begin(), g.ops.end());
    llvm::sort(members, [](Operation *x, Operation *y) {
      return x->isBeforeInBlock(y);
    });
    // A matmul kernel's operands are positional and may repeat (the Gram
    // matrix x @ transpose(x) reads x twice); the other inputs are unique.
    SmallVector<Value> positional;
    if (g.kind == "matmul") {
      positional = {g.a, g.b};
      if (g.bias)
        positional.push_back(g.bias);
    }
    llvm::SetVector<Value> inputs(positional.begin(), positional.end());
    // A matmul kernel's unbroadcast reads only the shape of its `like`
    // operand (the weight): with a static shape, a tensor.empty inside the
    // kernel stands for it, so the weight (or its transposed copy) is not
    // an input that must be computed.
    llvm::DenseSet<Value> shapeOnly;
    if (g.kind == "matmul")
      for (Operation *op : members)
        if (auto u = dyn_cast<UnbroadcastOp>(op);
            u && cast<RankedTensorType>(u.getLike().getType()).hasStaticShape())
          shapeOnly.insert(u.getLike());
    llvm::DenseSet<Operation *> cheapNeeded;
    std::function<void(Operation *)> collect = [&](Operation *op) {
      for (Value v : op->getOperands()) {
        if (shapeOnly.contains(v))
          continue;
        Operation *def = v.getDefiningOp();
        if (def && g.ops.contains(def))
          continue;
        if (def && isCheap(def)) {
          cheapNeeded.insert(def);
          collect(def);
          continue;
        }
        inputs.insert(v);
      }
    };
    for (Operation *op : members)
      collect(op);

    SmallVector<Value> operands(positional);
    for (Value v : inputs)
      if (!llvm::is_contained(positional, v))
        operands.push_back(v);
    OpBuilder b(g.root);
    SmallVector<Type> resultTypes;
    for (Operation *r : g.results)
      resultTypes.push_back(r->getResult(0).getType());
    auto kernel = KernelOp::create(b, g.root->getLoc(), resultTypes,
                                   b.getStringAttr(g.kind), operands);
    if (g.kind == "matmul") {
      kernel->setAttr("trans_a", b.getBoolAttr(g.transA));
      kernel->setAttr("trans_b", b.getBoolAttr(g.transB));
      kernel->setAttr("epilogue", b.getStringAttr(g.epilogue));
      if (g.batched)
        kernel->setAttr("batch", b.getBoolAttr(true));
    }
    Block *inner = b.createBlock(&kernel.getBody());
    IRMapping map;
    for (Value v : operands) {
      BlockArgument arg = inner->addArgument(v.getType(), v.getLoc());
      if (!map.contains(v))
        map.map(v, arg);
    }
    for (Value v : shapeOnly) {
      auto type = cast<RankedTensorType>(v.getType());
      map.map(v, tensor::EmptyOp::create(b, v.getLoc(), type.getShape(),
                                         type.getElementType()));
    }
    // Cheap generators first (in program order), then the members.
    SmallVector<Operation *> cheap(cheapNeeded.begin(), cheapNeeded.end());
    llvm::sort(cheap, [](Operation *x, Operation *y) {
      return x->isBeforeInBlock(y);
    });
    for (Operation *op : cheap)
      b.clone(*op, map);
    for (Operation *op : members)
      b.clone(*op, map);
    SmallVector<Value> yielded;
    for (Operation *r : g.results)
      yielded.push_back(map.lookup(r->getResult(0)));
    YieldOp::create(b, g.root->getLoc(), yielded);
    for (auto [r, result] : llvm::zip(g.results, kernel.getResults()))
      r->getResult(0).replaceAllUsesWith(result);
    for (Operation *op : llvm::reverse(members))
      op->erase();
  }
};

} // namespace
