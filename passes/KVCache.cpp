//===- KVCache.cpp - Deriving KV-cached generation from the model ---------===//
//
// Generation feeds a model its own output one token at a time. Recomputing
// the keys and values of the whole window for every new token repeats
// almost all the work; keeping them in a cache makes each step the cost of
// one position. The user writes the model once (@forward); this pass
// derives the two functions of cached generation from it:
//
//   @prefill(tokens [B, T], cache.k.i / cache.v.i [B, H, S, D])
//       -> (logits [B, V] of the last position, the caches)
//   @decode(tokens [B, T], positions [B, T], the caches)
//       -> (logits [B, V] of the last position, the caches)
//
// S, the cache's capacity, is the caller's choice (at most the context
// length, which the position embedding's table enforces). Sequences of one
// batch may have different lengths: `positions` gives each new token's
// position, and a query attends to the cache slots up to its own.
//
// Algorithm:
//  1. Check that @forward can be cached: one i32 input [B, T] (the tokens),
//     next-token logits [B, T, V] as its result;
//     every gpt.attention causal, over [B, H, T, D] with H and D static, its
//     lse unused; no slice of a table is bound by T (it would read rows
//     0..T-1 whatever the positions). An arange(T) is the tokens'
//     positions: what is computed from it alone (position embeddings,
//     rotary angles, their sines and cosines: elementwise ops, casts,
//     reshapes, concats, embeddings) must reach the tokens' values through
//     elementwise ops only, which broadcast it over the batch.
//  2. @prefill: a copy of @forward; each attention's k and v are also
//     written to slots 0..T-1 of its caches (gpt.cache_write), which become
//     results. With grouped-query attention, gpt.attention's k and v have
//     n_kv_heads heads (gpt-fuse-attention takes them from before the
//     model's repeat), and so do the caches, which gpt.cached_attention
//     reads per group.
//  3. @decode: a copy with the `positions` input [B, T] in place of each
//     arange(T), and what is computed from it alone given a leading batch
//     dim (so position embeddings and rotary angles follow each sequence's
//     cache), unit dims inserted where it meets the tokens' values; each
//     attention replaced by cache writes at the positions and
//     gpt.cached_attention over the written caches.
//  4. Both return the last position's logits: a slice x[:, -1] moved up
//     through ops that treat each position on its own (elementwise ops whose
//     operands carry the position dim or are broadcast over it, layer norm,
//     dropout, a matmul by a weight) while nothing else reads them, so the
//     LM head and the last MLP run on one position per sequence.
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/GptOps.h"
#include "gptc/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace gptc {
#define GEN_PASS_DEF_GPTKVCACHE
#include "gptc/Passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc::gpt;

namespace {

/// What step 1 found in @forward.
struct Cacheable {
  unsigned tokens = 0;                  ///< The tokens' argument index.
  SmallVector<RankedTensorType> caches; ///< Per attention, [B, H, S, D].
};

std::optional<unsigned> tokensArgument(func::FuncOp f) {
  std::optional<unsigned> found;
  for (unsigned i = 0; i < f.getNumArguments(); ++i) {
    if (!f.getArgAttr(i, "gpt.input"))
      continue;
    auto t = dyn_cast<RankedTensorType>(f.getArgument(i).getType());
    if (found || !t || t.getRank() != 2 || !t.getElementType().isInteger(32))
      return std::nullopt;
    found = i;
  }
  return found;
}

/// Whether `size` is `tensor.dim %tokens, 1`.
bool isSequenceLength(Value size, Value tokens) {
  auto dim = size.getDefiningOp<tensor::DimOp>();
  auto index = dim ? dim.getConstantIndex() : std::nullopt;
  return dim && dim.getSource() == tokens && index == 1;
}

/// The values of `f` computed from `ids` (their sizes included).
llvm::DenseSet<Value> tokenDependent(func::FuncOp f, Value ids) {
  llvm::DenseSet<Value> from{ids};
  f.walk([&](Operation *op) {
    if (llvm::any_of(op->getOperands(),
                     [&](Value v) { return from.contains(v); }))
      from.insert(op->result_begin(), op->result_end());
  });
  return from;
}

/// What an arange(T) of the tokens' positions reaches: the ops computing
/// from it alone (in block order), and the operands where such a value
/// meets the tokens' values.
struct Positional {
  SmallVector<Operation *> ops;
  SmallVector<OpOperand *> boundary;
};

/// Step 1's check of the positions `ar`: fails with an error at the op
/// that could not take per-sequence positions [B, T] in @decode.
FailureOr<Positional> positionalOps(ArangeOp ar,
                                    const llvm::DenseSet<Value> &fromTokens) {
  Positional p;
  llvm::DenseSet<Value> inP{ar.getResult()};
  auto isTensor = [](Value v) { return isa<RankedTensorType>(v.getType()); };
  for (Operation *op = ar->getNextNode(); op; op = op->getNextNode()) {
    auto operands = llvm::make_filter_range(op->getOperands(), isTensor);
    if (llvm::none_of(operands, [&](Value v) { return inP.contains(v); }))
      continue;
    bool meetsTokens = llvm::any_of(operands, [&](Value v) {
      return fromTokens.contains(v) && !inP.contains(v);
    });
    bool elementwise = op->hasTrait<gptc::gpt::OpTrait::Elementwise>();
    if (meetsTokens) {
      // Broadcast over the batch: [T, D] against [B, T, D] or [B, H, T, D].
      int64_t rank =
          cast<RankedTensorType>(op->getResult(0).getType()).getRank();
      for (OpOperand &use : op->getOpOperands()) {
        if (!inP.contains(use.get()))
          continue;
        auto t = cast<RankedTensorType>(use.get().getType());
        bool fits =
            t.getRank() < rank || (t.getRank() == rank && t.getDimSize(0) == 1);
        if (!elementwise || !fits)
          return op->emitError("gpt-kv-cache: positions (arange(T)) meet "
                               "the tokens' values in this op, which cannot "
                               "take them per sequence ([B, T]) in @decode; "
                               "combine them by elementwise ops");
        p.boundary.push_back(&use);
      }
      continue;
    }
    auto embedding = dyn_cast<EmbeddingOp>(op);
    if (!elementwise && !isa<ReshapeOp, ConcatOp>(op) &&
        !(embedding && inP.contains(embedding.getIds()) &&
          !inP.contains(embedding.getTable())))
      return op->emitError("gpt-kv-cache: positions (arange(T)) reach a ")
             << op->getName()
             << ", which cannot take them per sequence ([B, T]) in @decode";
    if (auto concat = dyn_cast<ConcatOp>(op);
        concat && !llvm::all_of(concat.getInputs(),
                                [&](Value v) { return inP.contains(v); }))
      return op->emitError("gpt-kv-cache: a concat of positions with other "
                           "values cannot take them per sequence in "
                           "@decode");
    p.ops.push_back(op);
    inP.insert(op->result_begin(), op->result_end());
  }
  return p;
}

/// `batched` ([B] + `orig`'s dims) reshaped to rank `rank`: unit dims
/// inserted after B, or, at `orig`'s own rank, its leading unit dim
/// dropped.
Value fitRank(OpBuilder &b, Location loc, Value batched, RankedTensorType orig,
              int64_t rank, Value batch) {
  if (rank == orig.getRank() + 1)
    return batched;
  SmallVector<int64_t> shape{ShapedType::kDynamic};
  SmallVector<Value> dynamic{batch};
  int64_t insert = rank - orig.getRank() - 1, first = insert < 0 ? 1 : 0;
  shape.append(std::max<int64_t>(insert, 0), 1);
  for (int64_t d = first; d < orig.getRank(); ++d) {
    shape.push_back(orig.getDimSize(d));
    if (orig.isDynamicDim(d))
      dynamic.push_back(tensor::DimOp::create(b, loc, batched, d + 1));
  }
  return ReshapeOp::create(b, loc, orig.clone(shape), batched, dynamic,
                           b.getDenseI64ArrayAttr(shape));
}

/// Step 3 for one arange: `p`'s ops rebuilt over `positions` [B, T] with a
/// leading batch dim, joined to the tokens' values at its boundary.
void batchPositions(ArangeOp ar, const Positional &p, Value positions,
                    Value batch) {
  llvm::DenseMap<Value, Value> bat{{ar.getResult(), positions}};
  auto batchedType = [](Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> shape{ShapedType::kDynamic};
    llvm::append_range(shape, t.getShape());
    return t.clone(shape);
  };
  for (Operation *op : p.ops) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    Operation *made = nullptr;
    if (auto r = dyn_cast<ReshapeOp>(op)) {
      SmallVector<int64_t> shape{ShapedType::kDynamic};
      llvm::append_range(shape, r.getStaticShape());
      SmallVector<Value> dynamic{batch};
      llvm::append_range(dynamic, r.getDynamicShape());
      made = ReshapeOp::create(b, loc, batchedType(r.getResult()),
                               bat.lookup(r.getInput()), dynamic,
                               b.getDenseI64ArrayAttr(shape));
    } else {
      int64_t rank =
          cast<RankedTensorType>(op->getResult(0).getType()).getRank() + 1;
      IRMapping map;
      for (Value v : op->getOperands())
        if (Value x = bat.lookup(v))
          map.map(v,
                  isa<EmbeddingOp, ConcatOp>(op)
                      ? x
                      : fitRank(b, loc, x, cast<RankedTensorType>(v.getType()),
                                rank, batch));
      made = b.clone(*op, map);
      made->getResult(0).setType(batchedType(op->getResult(0)));
      if (auto c = dyn_cast<ConcatOp>(made))
        c.setAxis(c.getAxis() + 1);
    }
    bat[op->getResult(0)] = made->getResult(0);
  }
  for (OpOperand *use : p.boundary) {
    OpBuilder b(use->getOwner());
    int64_t rank =
        cast<RankedTensorType>(use->getOwner()->getResult(0).getType())
            .getRank();
    use->set(fitRank(b, use->getOwner()->getLoc(), bat.lookup(use->get()),
                     cast<RankedTensorType>(use->get().getType()), rank,
                     batch));
  }
  for (Operation *op : llvm::reverse(p.ops))
    op->erase();
  ar.erase();
}

FailureOr<Cacheable> checkCacheable(func::FuncOp f) {
  Cacheable c;
  std::optional<unsigned> tokens = tokensArgument(f);
  if (!tokens)
    return f.emitError("gpt-kv-cache: @")
           << f.getName()
           << " must take one input, the token ids i32[B, T], and parameters";
  c.tokens = *tokens;
  Value ids = f.getArgument(*tokens);
  // Values computed from the tokens (their sizes T and B included).
  llvm::DenseSet<Value> fromTokens = tokenDependent(f, ids);
  WalkResult r = f.walk([&](Operation *op) {
    if (auto s = dyn_cast<SliceOp>(op)) {
      // wpe[:T] reads the first T rows whatever the positions are: in
      // @decode (T = 1) always row 0.
      bool boundByT = llvm::any_of(
          llvm::concat<Value>(s.getDynamicStarts(), s.getDynamicEnds()),
          [&](Value v) { return fromTokens.contains(v); });
      if (boundByT && !fromTokens.contains(s.getInput())) {
        s.emitError("gpt-kv-cache: a slice of a table by the sequence length "
                    "(such as wpe[:T]) cannot follow the cache's positions; "
                    "read positions as embedding(arange(T), table)");
        return WalkResult::interrupt();
      }
    }
    if (auto a = dyn_cast<AttentionOp>(op)) {
      auto k = cast<RankedTensorType>(a.getK().getType());
      auto v = cast<RankedTensorType>(a.getV().getType());
      if (!a.getCausal()) {
        a.emitError("gpt-kv-cache: only causal attention can be cached");
        return WalkResult::interrupt();
      }
      if (k.getRank() != 4 || k != v || k.isDynamicDim(1) ||
          k.isDynamicDim(3)) {
        a.emitError("gpt-kv-cache: keys and values must be [B, H, T, D] "
                    "with static H and D, got ")
            << k << " and " << v;
        return WalkResult::interrupt();
      }
      if (!a.getLse().use_empty()) {
        a.emitError("gpt-kv-cache: the attention's lse is used");
        return WalkResult::interrupt();
      }
      c.caches.push_back(k);
    } else if (auto ar = dyn_cast<ArangeOp>(op);
               ar && fromTokens.contains(ar.getSize())) {
      // An arange of a static size is a constant; one of T, positions.
      if (!isSequenceLength(ar.getSize(), ids)) {
        ar.emitError("gpt-kv-cache: an arange sized by the tokens must be "
                     "arange(T), their positions");
        return WalkResult::interrupt();
      }
      if (failed(positionalOps(ar, fromTokens)))
        return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (r.wasInterrupted())
    return failure();
  auto logits = f.getNumResults() == 1
                    ? dyn_cast<RankedTensorType>(f.getResultTypes()[0])
                    : RankedTensorType();
  if (!logits || logits.getRank() != 3 || logits.isDynamicDim(2))
    return f.emitError("gpt-kv-cache: @")
           << f.getName()
           << " must return next-token logits [B, T, V] to generate text, "
              "got "
           << f.getFunctionType().getResults();
  if (c.caches.empty())
    return f.emitError("gpt-kv-cache: @")
           << f.getName() << " has no gpt.attention to cache (run "
           << "--gpt-fuse-attention first)";
  return c;
}

/// x[:, -1] of `x` [B, T, ...] (dims after the second kept whole); `batch`
/// is B (the tokens' dim, so that the slice does not read x's).
Value lastPosition(OpBuilder &b, Location loc, Value x, Value batch) {
  auto t = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> starts(t.getRank(), 0), ends, shape;
  SmallVector<Value> dynEnds;
  for (int64_t d = 0; d < t.getRank(); ++d) {
    if (d == 1) {
      starts[d] = -1;
      ends.push_back(0);
      continue;
    }
    shape.push_back(t.getDimSize(d));
    ends.push_back(t.getDimSize(d));
    if (t.isDynamicDim(d))
      dynEnds.push_back(d == 0 ? batch : tensor::DimOp::create(b, loc, x, d));
  }
  return SliceOp::create(
      b, loc, t.clone(shape), x, ValueRange{}, b.getDenseI64ArrayAttr(starts),
      dynEnds, b.getDenseI64ArrayAttr(ends), b.getDenseI64ArrayAttr({1}));
}

/// Step 4: moves `slice` (a lastPosition) above its producer while the
/// producer treats positions independently and has no other user.
void sinkLastPosition(SliceOp slice, Value batch) {
  SmallVector<SliceOp> work{slice};
  while (!work.empty()) {
    SliceOp s = work.pop_back_val();
    Operation *def = s.getInput().getDefiningOp();
    if (!def || !def->hasOneUse() || def->getNumResults() != 1)
      continue;
    int64_t rank = cast<RankedTensorType>(s.getInput().getType()).getRank();
    // The operands to slice too; others are broadcast over the positions.
    SmallVector<unsigned> positional;
    bool ok = false;
    if (def->hasTrait<gptc::gpt::OpTrait::PositionWise>()) {
      ok = true;
      for (unsigned i = 0; i < def->getNumOperands(); ++i) {
        auto t = dyn_cast<RankedTensorType>(def->getOperand(i).getType());
        if (!t)
          continue;
        if (t.getRank() == rank)
          positional.push_back(i);
        else if (t.getRank() >= rank - 1)
          ok = false; // reaches the position dim: would need its own slice
      }
    } else if (auto mm = dyn_cast<MatmulOp>(def)) {
      ok = cast<RankedTensorType>(mm.getRhs().getType()).getRank() == 2 &&
           rank >= 3;
      positional.push_back(0);
    }
    if (!ok)
      continue;
    OpBuilder b(def);
    IRMapping map;
    SmallVector<SliceOp> made;
    for (unsigned i : positional) {
      Value sliced = lastPosition(b, s.getLoc(), def->getOperand(i), batch);
      map.map(def->getOperand(i), sliced);
      made.push_back(sliced.getDefiningOp<SliceOp>());
    }
    Operation *moved = b.clone(*def, map);
    moved->getResult(0).setType(s.getType());
    s.getResult().replaceAllUsesWith(moved->getResult(0));
    s.erase();
    def->erase();
    work.append(made.begin(), made.end());
  }
}

/// A copy of `forward` named `name` with `extra` arguments appended.
func::FuncOp cloneWithArguments(func::FuncOp forward, StringRef name,
                                ArrayRef<std::pair<Type, DictionaryAttr>> extra,
                                IRMapping &map) {
  OpBuilder b(forward);
  b.setInsertionPointAfter(forward);
  SmallVector<Type> types(forward.getArgumentTypes());
  for (auto &[t, a] : extra)
    types.push_back(t);
  auto fn = func::FuncOp::create(b, forward.getLoc(), name,
                                 b.getFunctionType(types, {}));
  Block *body = fn.addEntryBlock();
  unsigned n = forward.getNumArguments();
  for (unsigned i = 0; i < n; ++i) {
    fn.setArgAttrs(i, forward.getArgAttrDict(i));
    map.map(forward.getArgument(i), body->getArgument(i));
  }
  for (size_t i = 0; i < extra.size(); ++i)
    fn.setArgAttrs(n + i, extra[i].second);
  b.setInsertionPointToEnd(body);
  for (Operation &op : forward.getBody().front())
    b.clone(op, map);
  return fn;
}

/// Re-infers result types in order where a rewrite changed an operand's
/// rank (position embeddings become [B, T, C] in @decode).
LogicalResult refreshTypes(func::FuncOp f) {
  WalkResult r = f.walk([&](ShapeInference op) {
    SmallVector<SmallVector<int64_t>> shapes;
    if (failed(op.inferResultShapes(shapes)))
      return WalkResult::interrupt();
    for (auto [result, shape] : llvm::zip(op->getResults(), shapes)) {
      auto t = cast<RankedTensorType>(result.getType());
      if (t.getRank() != static_cast<int64_t>(shape.size()))
        result.setType(t.clone(shape));
    }
    return WalkResult::advance();
  });
  return failure(r.wasInterrupted());
}

struct KVCachePass : gptc::impl::GptKVCacheBase<KVCachePass> {
  using GptKVCacheBase::GptKVCacheBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>(func);
    if (!forward) {
      module.emitError("gpt-kv-cache: no function @") << func;
      return signalPassFailure();
    }
    FailureOr<Cacheable> c = checkCacheable(forward);
    // Each lands right after @forward: decode first, so prefill precedes it.
    if (failed(c) || failed(derive(forward, *c, /*decode=*/true)) ||
        failed(derive(forward, *c, /*decode=*/false)))
      return signalPassFailure();
  }

  LogicalResult derive(func::FuncOp forward, const Cacheable &c, bool decode) {
    MLIRContext *ctx = &getContext();
    Builder b(ctx);
    auto tokenDims = forward.getArgAttrOfType<ArrayAttr>(c.tokens, "gpt.dims");
    std::string batchName = tokenDims && tokenDims.size() == 2
                                ? cast<StringAttr>(tokenDims[0]).str()
                                : "B";
    std::string capacity = "S";
    while (tokenDims && llvm::any_of(tokenDims, [&](Attribute a) {
             return cast<StringAttr>(a).str() == capacity;
           }))
      capacity += "_";
    auto named = [&](StringRef key, StringRef name, ArrayAttr dims) {
      SmallVector<NamedAttribute> attrs{
          b.getNamedAttr(key, b.getStringAttr(name))};
      if (dims)
        attrs.push_back(b.getNamedAttr("gpt.dims", dims));
      return b.getDictionaryAttr(attrs);
    };
    SmallVector<std::pair<Type, DictionaryAttr>> extra;
    if (decode)
      extra.push_back({forward.getArgument(c.tokens).getType(),
                       named("gpt.input", "positions", tokenDims)});
    SmallVector<std::string> cacheNames;
    for (auto [i, kv] : llvm::enumerate(c.caches)) {
      auto type =
          RankedTensorType::get({ShapedType::kDynamic, kv.getDimSize(1),
                                 ShapedType::kDynamic, kv.getDimSize(3)},
                                kv.getElementType());
      auto dims =
          b.getArrayAttr({b.getStringAttr(batchName),
                          b.getStringAttr(std::to_string(kv.getDimSize(1))),
                          b.getStringAttr(capacity),
                          b.getStringAttr(std::to_string(kv.getDimSize(3)))});
      for (const char *which : {"k", "v"}) {
        cacheNames.push_back("cache." + std::string(which) + "." +
                             std::to_string(i));
        extra.push_back({type, named("gpt.input", cacheNames.back(), dims)});
      }
    }
    IRMapping map;
    func::FuncOp fn =
        cloneWithArguments(forward, decode ? "decode" : "prefill", extra, map);
    // The prompt meets the forward's requirements on T; a decode step's T
    // is 1 and its positions are checked against the cache by the kernels.
    if (auto requirements = forward->getAttr("gpt.requirements");
        requirements && !decode)
      fn->setAttr("gpt.requirements", requirements);
    Block &body = fn.getBody().front();
    unsigned first = forward.getNumArguments();
    Value positions = decode ? body.getArgument(first) : Value();
    unsigned cacheArg = first + (decode ? 1 : 0);

    // Steps 2 and 3.
    SmallVector<Value> caches;
    SmallVector<AttentionOp> attentions;
    fn.walk([&](AttentionOp a) { attentions.push_back(a); });
    for (AttentionOp a : attentions) {
      OpBuilder ob(a);
      Value kc = body.getArgument(cacheArg++),
            vc = body.getArgument(cacheArg++);
      auto write = [&](Value cache, Value entries) {
        return CacheWriteOp::create(ob, a.getLoc(), cache.getType(), cache,
                                    entries, positions)
            .getResult();
      };
      Value k = write(kc, a.getK()), v = write(vc, a.getV());
      caches.append({k, v});
      if (!decode)
        continue;
      auto o = CachedAttentionOp::create(ob, a.getLoc(),
                                         a.getResult().getType(), a.getQ(), k,
                                         v, positions, a.getScaleAttr());
      a.getResult().replaceAllUsesWith(o.getResult());
      a.erase();
    }
    if (decode) {
      Value ids = body.getArgument(c.tokens);
      OpBuilder ob(&body, body.begin());
      Value batch = tensor::DimOp::create(ob, fn.getLoc(), ids, 0);
      // One arange at a time: each rewrite changes what depends on what.
      while (true) {
        llvm::DenseSet<Value> fromTokens = tokenDependent(fn, ids);
        ArangeOp next;
        fn.walk([&](ArangeOp ar) {
          if (!next && fromTokens.contains(ar.getSize()))
            next = ar;
        });
        if (!next)
          break;
        batchPositions(next, *positionalOps(next, fromTokens), positions,
                       batch);
      }
      if (failed(refreshTypes(fn)))
        return fn.emitError("gpt-kv-cache: shapes do not follow the "
                            "positions input");
    }

    // Step 4.
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    if (ret.getNumOperands() != 1 ||
        cast<RankedTensorType>(ret.getOperand(0).getType()).getRank() != 3)
      return forward.emitError("gpt-kv-cache: @")
             << forward.getName() << " must return logits [B, T, V]";
    OpBuilder ob(ret);
    ob.setInsertionPointToStart(&body);
    Value batch =
        tensor::DimOp::create(ob, ret.getLoc(), body.getArgument(c.tokens), 0);
    ob.setInsertionPoint(ret);
    Value logits = lastPosition(ob, ret.getLoc(), ret.getOperand(0), batch);
    SmallVector<Value> results{logits};
    results.append(caches);
    func::ReturnOp::create(ob, ret.getLoc(), results);
    ret.erase();
    sinkLastPosition(logits.getDefiningOp<SliceOp>(), batch);
    fn.setType(FunctionType::get(ctx, body.getArgumentTypes(),
                                 body.getTerminator()->getOperandTypes()));
    fn.setResultAttr(0, "gpt.output", b.getStringAttr("logits"));
    for (auto [i, name] : llvm::enumerate(cacheNames))
      fn.setResultAttr(i + 1, "gpt.output", b.getStringAttr(name));
    return success();
  }
};

} // namespace
