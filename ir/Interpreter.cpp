//===- Interpreter.cpp - Reference evaluation of gpt functions ------------===//
//
// Written for obviousness, not speed: multi-index loops over row-major
// buffers, every reduction in double, softmax and log-sum-exp with the
// maximum subtracted. Run-time sizes are checked against the static dims of
// the IR types, so a wrong input shape is an error, not a wrong answer.
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/Interpreter.h"
#include "gptc/IR/GptOps.h"
#include "gptc/IR/OpInfo.h"
#include "gptc/IR/SourceLoc.h"
#include "gptc/Runtime/Philox.h"
#include "gptc/Runtime/Safetensors.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace gptc {

int64_t Buffer::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

/// The flat offset in a buffer of `shape` read at the result index `ix`
/// under broadcasting: aligned from the right, size-1 dims read index 0.
int64_t broadcastOffset(const std::vector<int64_t> &shape,
                        const std::vector<int64_t> &ix) {
  int64_t off = 0;
  size_t skip = ix.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d)
    off = off * shape[d] + (shape[d] == 1 ? 0 : ix[skip + d]);
  return off;
}

std::vector<int64_t> stridesOf(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/// Iterates a multi-index over `shape` in row-major order.
template <typename F>
void forEachIndex(const std::vector<int64_t> &shape, F f) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t flat = 0; flat < n; ++flat) {
    f(idx, flat);
    for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
      if (++idx[i] < shape[i])
        break;
      idx[i] = 0;
    }
  }
}

class Interpreter {
public:
  explicit Interpreter(const InterpreterOptions &o) : opts(o) {}

  std::vector<Buffer> run(func::FuncOp func, const std::vector<Buffer> &args) {
    Block &body = func.getBody().front();
    if (args.size() != body.getNumArguments())
      throw RuntimeError("@" + func.getName().str() + " takes " +
                         std::to_string(body.getNumArguments()) +
                         " arguments, got " + std::to_string(args.size()));
    for (size_t i = 0; i < args.size(); ++i) {
      Buffer b = args[i];
      if (static_cast<int64_t>(b.data.size()) != b.numel())
        throw RuntimeError("argument " + std::to_string(i) +
                           ": data does not match its shape");
      round(b);
      check(body.getArgument(i), b, "argument " + std::to_string(i));
      tensors[body.getArgument(i)] = std::move(b);
    }
    for (Operation &op : body) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        std::vector<Buffer> results;
        for (Value v : ret.getOperands())
          results.push_back(tensors.at(v));
        return results;
      }
      currentOp = &op;
      eval(op);
      if (opts.afterOp)
        observe(op);
    }
    throw RuntimeError("@" + func.getName().str() + " has no return");
  }

private:
  [[noreturn]] void fail(const std::string &what) {
    if (!currentOp)
      throw RuntimeError(what);
    throw LocatedError(currentOp->getLoc(),
                       currentOp->getName().getStringRef().str() + ": " + what);
  }

  void observe(Operation &op) {
    std::vector<Buffer> results;
    std::vector<Value> values;
    for (Value r : op.getResults())
      if (isa<RankedTensorType>(r.getType())) {
        values.push_back(r);
        results.push_back(tensors.at(r));
      }
    if (values.empty())
      return;
    opts.afterOp(&op, results);
    for (auto [v, b] : llvm::zip(values, results)) {
      if (b.shape != tensors.at(v).shape)
        fail("a replaced result changes its shape");
      tensors[v] = std::move(b);
    }
  }

  void round(Buffer &b) {
    if (opts.float32)
      for (double &x : b.data)
        x = static_cast<double>(static_cast<float>(x));
  }

  /// Checks `b` against the static dims of `v`'s type.
  void check(Value v, const Buffer &b, const std::string &what) {
    auto t = cast<RankedTensorType>(v.getType());
    bool ok = t.getRank() == static_cast<int64_t>(b.shape.size());
    for (int64_t i = 0; ok && i < t.getRank(); ++i)
      ok = t.getDimSize(i) == kDyn || t.getDimSize(i) == b.shape[i];
    if (!ok) {
      std::string s;
      llvm::raw_string_ostream os(s);
      os << t;
      throw RuntimeError(what + " has shape " + gpt::formatShape(b.shape) +
                         " but the IR expects " + s);
    }
  }

  const Buffer &in(Value v) { return tensors.at(v); }
  int64_t idx(Value v) { return indices.at(v); }

  void set(Operation &op, Buffer b) { set(op.getResult(0), std::move(b)); }
  void set(Value result, Buffer b) {
    round(b);
    check(result, b, "the result");
    tensors[result] = std::move(b);
  }

  template <typename F> Buffer map(const Buffer &x, F f) {
    Buffer r{x.shape, std::vector<double>(x.data.size())};
    for (size_t i = 0; i < x.data.size(); ++i)
      r.data[i] = f(x.data[i]);
    return r;
  }

  /// Elementwise `f(a, b)` with NumPy broadcasting.
  template <typename F> Buffer zip(const Buffer &a, const Buffer &b, F f) {
    size_t rank = std::max(a.shape.size(), b.shape.size());
    std::vector<int64_t> shape(rank);
    auto dimAt = [&](const Buffer &x, size_t i) -> int64_t {
      size_t off = rank - x.shape.size();
      return i < off ? 1 : x.shape[i - off];
    };
    for (size_t i = 0; i < rank; ++i) {
      int64_t x = dimAt(a, i), y = dimAt(b, i);
      if (x != y && x != 1 && y != 1)
        fail("shapes " + gpt::formatShape(a.shape) + " and " +
             gpt::formatShape(b.shape) + " do not broadcast");
      shape[i] = x == 1 ? y : x;
    }
    auto broadcastStrides = [&](const Buffer &x) {
      std::vector<int64_t> s(rank, 0), own = stridesOf(x.shape);
      size_t off = rank - x.shape.size();
      for (size_t i = 0; i < x.shape.size(); ++i)
        s[i + off] = x.shape[i] == 1 ? 0 : own[i];
      return s;
    };
    std::vector<int64_t> sa = broadcastStrides(a), sb = broadcastStrides(b);
    Buffer r{shape, {}};
    r.data.resize(r.numel());
    forEachIndex(shape, [&](const std::vector<int64_t> &ix, int64_t flat) {
      int64_t oa = 0, ob = 0;
      for (size_t i = 0; i < rank; ++i) {
        oa += ix[i] * sa[i];
        ob += ix[i] * sb[i];
      }
      r.data[flat] = f(a.data[oa], b.data[ob]);
    });
    return r;
  }

  /// Applies `f` to each row along `axis`: f(values, out), both strided.
  template <typename F>
  Buffer alongAxis(const Buffer &x, int64_t axis, bool keep, bool reduce, F f) {
    std::vector<int64_t> outer = x.shape;
    int64_t n = x.shape[axis];
    outer[axis] = 1;
    std::vector<int64_t> st = stridesOf(x.shape);
    Buffer r;
    r.shape = x.shape;
    if (reduce)
      r.shape[axis] = 1;
    r.data.assign(reduce ? x.numel() / std::max<int64_t>(n, 1) : x.numel(), 0);
    std::vector<int64_t> rst = stridesOf(r.shape);
    std::vector<double> row(n), res(reduce ? 1 : n);
    forEachIndex(outer, [&](const std::vector<int64_t> &ix, int64_t) {
      int64_t base = 0, rbase = 0;
      for (size_t i = 0; i < ix.size(); ++i) {
        base += ix[i] * st[i];
        rbase += ix[i] * rst[i];
      }
      for (int64_t k = 0; k < n; ++k)
        row[k] = x.data[base + k * st[axis]];
      f(row, res);
      for (size_t k = 0; k < res.size(); ++k)
        r.data[rbase + k * rst[axis]] = res[k];
    });
    if (reduce && !keep)
      r.shape.erase(r.shape.begin() + axis);
    return r;
  }

  static double maxOf(const std::vector<double> &v) {
    double m = -std::numeric_limits<double>::infinity();
    for (double x : v)
      m = std::max(m, x);
    return m;
  }

  static double logSumExp(const std::vector<double> &v) {
    double m = maxOf(v);
    if (std::isinf(m))
      return m;
    double s = 0;
    for (double x : v)
      s += std::exp(x - m);
    return m + std::log(s);
  }

  std::vector<int64_t> mixed(ArrayRef<int64_t> statics, OperandRange dyn) {
    std::vector<int64_t> out;
    size_t k = 0;
    for (int64_t s : statics)
      out.push_back(s == kDyn ? idx(dyn[k++]) : s);
    return out;
  }

  void eval(Operation &op) {
    using namespace gpt;
    // Elementwise ops with a formula in ODS evaluate it in double.
    if (isa<GptDialect>(op.getDialect())) {
      StringRef name = op.getName().stripDialect();
      if (auto f = ops::unaryFormula(name))
        return set(op, map(in(op.getOperand(0)), f));
      if (auto f = ops::binaryFormula(name))
        return set(op, zip(in(op.getOperand(0)), in(op.getOperand(1)), f));
    }
    llvm::TypeSwitch<Operation *>(&op)
        .Case<arith::ConstantIndexOp>([&](auto c) { indices[c] = c.value(); })
        .Case<arith::MulIOp>(
            [&](auto m) { indices[m] = idx(m.getLhs()) * idx(m.getRhs()); })
        .Case<arith::AddIOp>(
            [&](auto m) { indices[m] = idx(m.getLhs()) + idx(m.getRhs()); })
        .Case<KernelOp>([&](KernelOp k) {
          Block &body = k.getBody().front();
          // A bf16 matmul (gpt-mixed-precision) multiplies its operands,
          // the first two, rounded to bf16 as the backend does.
          auto precision = k->getAttrOfType<StringAttr>("precision");
          const bool bf16 = precision && precision.getValue() == "bf16";
          for (auto [i, arg, v] :
               llvm::enumerate(body.getArguments(), k.getInputs())) {
            if (isa<IndexType>(v.getType())) {
              indices[arg] = idx(v);
            } else {
              // Copy first: inserting may move the map's storage.
              Buffer b = in(v);
              if (bf16 && i < 2)
                for (double &x : b.data)
                  x = roundToBf16(static_cast<float>(x));
              tensors[arg] = std::move(b);
            }
          }
          for (Operation &inner : body.without_terminator()) {
            currentOp = &inner;
            eval(inner);
          }
          currentOp = &op;
          for (auto [result, value] :
               llvm::zip(k.getResults(),
                         cast<YieldOp>(body.getTerminator()).getValues()))
            set(result, in(value));
        })
        .Case<tensor::EmptyOp>([&](tensor::EmptyOp e) {
          // Only its shape is read (a matmul kernel's unbroadcast target).
          std::vector<int64_t> shape(e.getType().getShape());
          Buffer r{shape, {}};
          r.data.assign(r.numel(), 0.0);
          set(op, std::move(r));
        })
        .Case<tensor::DimOp>([&](auto d) {
          const Buffer &b = in(d.getSource());
          int64_t k = idx(d.getIndex());
          if (k < 0 || k >= static_cast<int64_t>(b.shape.size()))
            fail("dim index out of range");
          indices[d] = b.shape[k];
        })
        .Case<ConstantOp>([&](auto c) {
          set(op, Buffer{{}, {c.getValue().convertToDouble()}});
        })
        .Case<PowOp>([&](auto o) {
          double e = o.getExponent().convertToDouble();
          set(op,
              map(in(o.getInput()), [e](double x) { return std::pow(x, e); }));
        })
        .Case<MatmulOp>(
            [&](auto o) { set(op, matmul(in(o.getLhs()), in(o.getRhs()))); })
        .Case<TransposeOp>(
            [&](auto o) { set(op, transpose(in(o.getInput()), o.getPerm())); })
        .Case<ReshapeOp>([&](auto o) {
          Buffer r = in(o.getInput());
          std::vector<int64_t> shape =
              mixed(o.getStaticShape(), o.getDynamicShape());
          Buffer probe{shape, {}};
          if (probe.numel() != r.numel())
            fail("cannot reshape " + gpt::formatShape(r.shape) + " into " +
                 gpt::formatShape(shape));
          r.shape = shape;
          set(op, std::move(r));
        })
        .Case<SplitOp>([&](auto o) {
          const Buffer &x = in(o.getInput());
          int64_t axis = o.getAxis(), parts = o.getParts();
          if (x.shape[axis] % parts)
            fail("dim of size " + std::to_string(x.shape[axis]) +
                 " does not split into " + std::to_string(parts));
          int64_t size = x.shape[axis] / parts;
          std::vector<int64_t> starts(x.shape.size(), 0), ends = x.shape;
          starts[axis] = o.getIndex() * size;
          ends[axis] = starts[axis] + size;
          set(op, slice(x, starts, ends, {}));
        })
        .Case<SliceOp>([&](auto o) {
          const Buffer &x = in(o.getInput());
          std::vector<int64_t> starts =
              mixed(o.getStaticStarts(), o.getDynamicStarts());
          std::vector<int64_t> ends =
              mixed(o.getStaticEnds(), o.getDynamicEnds());
          std::vector<int64_t> squeeze(o.getSqueeze().begin(),
                                       o.getSqueeze().end());
          for (int64_t s : squeeze) {
            if (starts[s] < 0)
              starts[s] += x.shape[s];
            ends[s] = starts[s] + 1;
          }
          set(op, slice(x, starts, ends, squeeze));
        })
        .Case<SumOp, MeanOp, MaxOp, VarOp>([&](auto o) {
          using OpT = decltype(o);
          const Buffer &x = in(o.getInput());
          set(op, alongAxis(
                      x, o.getAxis(), o.getKeepdim(), true,
                      [](const std::vector<double> &v, std::vector<double> &r) {
                        double s = 0;
                        for (double e : v)
                          s += e;
                        double n = static_cast<double>(v.size());
                        if constexpr (std::is_same_v<OpT, SumOp>) {
                          r[0] = s;
                        } else if constexpr (std::is_same_v<OpT, MeanOp>) {
                          r[0] = s / n;
                        } else if constexpr (std::is_same_v<OpT, MaxOp>) {
                          r[0] = maxOf(v);
                        } else {
                          double m = s / n, q = 0;
                          for (double e : v)
                            q += (e - m) * (e - m);
                          r[0] = q / n;
                        }
                      }));
        })
        .Case<SoftmaxOp>([&](auto o) {
          set(op, alongAxis(
                      in(o.getInput()), o.getAxis(), true, false,
                      [](const std::vector<double> &v, std::vector<double> &r) {
                        double lse = logSumExp(v);
                        for (size_t k = 0; k < v.size(); ++k)
                          r[k] = std::exp(v[k] - lse);
                      }));
        })
        .Case<LogSoftmaxOp>([&](auto o) {
          set(op, alongAxis(
                      in(o.getInput()), o.getAxis(), true, false,
                      [](const std::vector<double> &v, std::vector<double> &r) {
                        double lse = logSumExp(v);
                        for (size_t k = 0; k < v.size(); ++k)
                          r[k] = v[k] - lse;
                      }));
        })
        .Case<LayerNormOp>([&](auto o) {
          const Buffer &x = in(o.getInput());
          const Buffer &g = in(o.getScale()), &b = in(o.getShift());
          double eps = o.getEps().convertToDouble();
          int64_t axis = static_cast<int64_t>(x.shape.size()) - 1;
          if (g.numel() != x.shape[axis] || b.numel() != x.shape[axis])
            fail("scale/shift do not match the last dim");
          set(op, alongAxis(x, axis, true, false,
                            [&](const std::vector<double> &v,
                                std::vector<double> &r) {
                              double n = static_cast<double>(v.size()), m = 0,
                                     q = 0;
                              for (double e : v)
                                m += e;
                              m /= n;
                              for (double e : v)
                                q += (e - m) * (e - m);
                              double inv = 1.0 / std::sqrt(q / n + eps);
                              for (size_t k = 0; k < v.size(); ++k)
                                r[k] = (v[k] - m) * inv * g.data[k] + b.data[k];
                            }));
        })
        .Case<CausalMaskOp>([&](auto o) {
          int64_t n = idx(o.getSize());
          Buffer r{{n, n}, std::vector<double>(n * n, 0)};
          for (int64_t i = 0; i < n; ++i)
            for (int64_t j = i + 1; j < n; ++j)
              r.data[i * n + j] = 1;
          set(op, std::move(r));
        })
        .Case<MaskedFillOp>([&](auto o) {
          double v = o.getValue().convertToDouble();
          Buffer r = zip(in(o.getInput()), in(o.getMask()),
                         [v](double x, double m) { return m != 0 ? v : x; });
          if (r.shape != in(o.getInput()).shape)
            fail("the mask does not broadcast to the input");
          set(op, std::move(r));
        })
        .Case<DropoutOp>([&](auto o) {
          double p = o.getP().convertToDouble();
          if (!opts.training || p == 0) {
            set(op, in(o.getInput()));
            return;
          }
          Buffer r = in(o.getInput());
          double scale = 1.0 / (1.0 - p);
          uint32_t id = static_cast<uint32_t>(o.getId());
          uint64_t offset = opts.firstRow *
                            (r.data.size() / std::max<uint64_t>(1, opts.rows));
          for (size_t i = 0; i < r.data.size(); ++i)
            r.data[i] = dropoutKeeps(p, opts.seed, opts.step, id, offset + i)
                            ? r.data[i] * scale
                            : 0.0;
          set(op, std::move(r));
        })
        .Case<WhereOp>([&](auto o) {
          const Buffer &c = in(o.getCond()), &a = in(o.getA()),
                       &b = in(o.getB());
          // The broadcast shape, then each operand read at its own index.
          auto none = [](double, double) { return 0.0; };
          Buffer r = zip(zip(a, b, none), c, none);
          auto read = [](const Buffer &x, const std::vector<int64_t> &ix) {
            return x.data[broadcastOffset(x.shape, ix)];
          };
          forEachIndex(
              r.shape, [&](const std::vector<int64_t> &ix, int64_t flat) {
                r.data[flat] = read(c, ix) != 0 ? read(a, ix) : read(b, ix);
              });
          set(op, std::move(r));
        })
        .Case<ConcatOp>([&](auto o) {
          int64_t axis = o.getAxis();
          std::vector<int64_t> shape = in(o.getInputs()[0]).shape;
          shape[axis] = 0;
          for (Value v : o.getInputs())
            shape[axis] += in(v).shape[axis];
          Buffer r{shape, {}};
          r.data.resize(r.numel());
          int64_t offset = 0;
          for (Value v : o.getInputs()) {
            const Buffer &x = in(v);
            std::vector<int64_t> rs = stridesOf(r.shape);
            forEachIndex(x.shape, [&](const std::vector<int64_t> &ix,
                                      int64_t flat) {
              int64_t off = 0;
              for (size_t d = 0; d < ix.size(); ++d)
                off +=
                    (ix[d] + (static_cast<int64_t>(d) == axis ? offset : 0)) *
                    rs[d];
              r.data[off] = x.data[flat];
            });
            offset += x.shape[axis];
          }
          set(op, std::move(r));
        })
        .Case<GatherOp, GatherGradOp>([&](auto o) {
          constexpr bool grad = std::is_same_v<decltype(o), GatherGradOp>;
          int64_t axis = o.getAxis();
          const Buffer &index = in(o.getIndex());
          const Buffer &x = grad ? in(o->getOperand(2)) : in(o->getOperand(0));
          // Gather reads x at the picked positions; its gradient adds the
          // incoming gradient there.
          const Buffer &small = grad ? in(o->getOperand(0)) : Buffer{};
          std::vector<int64_t> shape = x.shape;
          shape[axis] = index.shape[axis];
          std::vector<int64_t> xs = stridesOf(x.shape);
          Buffer r{grad ? x.shape : shape, {}};
          r.data.assign(r.numel(), 0.0);
          forEachIndex(shape, [&](const std::vector<int64_t> &ix,
                                  int64_t flat) {
            double k = index.data[broadcastOffset(index.shape, ix)];
            if (k < 0 || k >= x.shape[axis])
              fail("index " + std::to_string(static_cast<int64_t>(k)) +
                   " is outside dim " + std::to_string(axis) + " of size " +
                   std::to_string(x.shape[axis]));
            int64_t xoff = 0;
            for (size_t d = 0; d < ix.size(); ++d)
              xoff += (static_cast<int64_t>(d) == axis ? static_cast<int64_t>(k)
                                                       : ix[d]) *
                      xs[d];
            if constexpr (grad)
              r.data[xoff] += small.data[flat];
            else
              r.data[flat] = x.data[xoff];
          });
          set(op, std::move(r));
        })
        .Case<CastOp>([&](auto o) {
          Type to = cast<ShapedType>(o.getType()).getElementType();
          set(op, map(in(o.getInput()), [&](double x) {
                if (to.isInteger(1))
                  return x != 0 ? 1.0 : 0.0;
                if (to.isInteger(32))
                  return std::trunc(x);
                return x;
              }));
        })
        .Case<FullOp>([&](auto o) {
          std::vector<int64_t> shape;
          size_t k = 0;
          for (int64_t d : o.getStaticShape())
            shape.push_back(d == kDyn ? idx(o.getDynamicShape()[k++]) : d);
          Buffer r{shape, {}};
          r.data.assign(r.numel(), o.getValue().convertToDouble());
          set(op, std::move(r));
        })
        .Case<ArangeOp>([&](auto o) {
          int64_t n = idx(o.getSize());
          Buffer r{{n}, std::vector<double>(n)};
          for (int64_t i = 0; i < n; ++i)
            r.data[i] = static_cast<double>(i);
          set(op, std::move(r));
        })
        .Case<EmbeddingOp>([&](auto o) {
          const Buffer &ids = in(o.getIds()), &table = in(o.getTable());
          int64_t rows = table.shape[0], dim = table.shape[1];
          Buffer r{ids.shape, {}};
          r.shape.push_back(dim);
          r.data.resize(r.numel());
          for (int64_t i = 0; i < ids.numel(); ++i) {
            double id = ids.data[i];
            if (!(id >= 0 && id < static_cast<double>(rows)))
              fail("id " + std::to_string(static_cast<int64_t>(id)) +
                   " at flat position " + std::to_string(i) +
                   " is outside the table's " + std::to_string(rows) + " rows");
            std::copy_n(table.data.begin() + static_cast<int64_t>(id) * dim,
                        dim, r.data.begin() + i * dim);
          }
          set(op, std::move(r));
        })
        .Case<CrossEntropyOp>([&](auto o) {
          const Buffer &logits = in(o.getLogits()), &t = in(o.getTargets());
          int64_t v = logits.shape.back();
          int64_t ignore = o.getIgnoreIndex();
          double total = 0;
          int64_t count = 0;
          for (int64_t i = 0; i < t.numel(); ++i) {
            int64_t target = static_cast<int64_t>(t.data[i]);
            if (target == ignore)
              continue;
            if (target < 0 || target >= v)
              fail("target " + std::to_string(target) + " at flat position " +
                   std::to_string(i) + " is outside the vocabulary of " +
                   std::to_string(v) + " (ignore_index is " +
                   std::to_string(ignore) + ")");
            std::vector<double> row(logits.data.begin() + i * v,
                                    logits.data.begin() + (i + 1) * v);
            total += logSumExp(row) - row[target];
            ++count;
          }
          set(op, Buffer{{},
                         {count ? total / count
                                : std::numeric_limits<double>::quiet_NaN()}});
        })
        .Case<UnbroadcastOp>([&](auto o) {
          set(op, unbroadcast(in(o.getInput()), in(o.getLike()).shape));
        })
        .Case<BroadcastLikeOp>([&](auto o) {
          const Buffer &like = in(o.getLike());
          Buffer r =
              zip(in(o.getInput()),
                  Buffer{like.shape, std::vector<double>(like.data.size(), 0)},
                  [](double a, double) { return a; });
          if (r.shape != like.shape)
            fail("cannot broadcast " +
                 gpt::formatShape(in(o.getInput()).shape) + " to " +
                 gpt::formatShape(like.shape));
          set(op, std::move(r));
        })
        .Case<UnsqueezeOp>([&](auto o) {
          Buffer r = in(o.getInput());
          r.shape.insert(r.shape.begin() + o.getAxis(), 1);
          set(op, std::move(r));
        })
        .Case<StepOp>([&](auto o) {
          set(op, map(in(o.getInput()),
                      [](double x) { return x > 0 ? 1.0 : 0.0; }));
        })
        .Case<ArgmaxMaskOp>([&](auto o) {
          set(op, alongAxis(
                      in(o.getInput()), o.getAxis(), true, false,
                      [](const std::vector<double> &v, std::vector<double> &r) {
                        size_t best = 0;
                        for (size_t k = 1; k < v.size(); ++k)
                          if (v[k] > v[best])
                            best = k;
                        std::fill(r.begin(), r.end(), 0.0);
                        if (!r.empty())
                          r[best] = 1.0;
                      }));
        })
        .Case<EmbeddingGradOp>([&](auto o) {
          const Buffer &g = in(o.getGrad()), &ids = in(o.getIds());
          const Buffer &table = in(o.getTable());
          int64_t rows = table.shape[0], dim = table.shape[1];
          Buffer r = o.getBase()
                         ? in(o.getBase())
                         : Buffer{table.shape,
                                  std::vector<double>(table.data.size(), 0)};
          for (int64_t i = 0; i < ids.numel(); ++i) {
            int64_t id = static_cast<int64_t>(ids.data[i]);
            if (id < 0 || id >= rows)
              fail("id " + std::to_string(id) + " is outside the table");
            for (int64_t k = 0; k < dim; ++k)
              r.data[id * dim + k] += g.data[i * dim + k];
          }
          set(op, std::move(r));
        })
        .Case<AttentionOp>([&](AttentionOp o) {
          const Buffer &q = in(o.getQ()), &k = in(o.getK()), &v = in(o.getV());
          AttentionDims d = attentionDims(q, k, v);
          Buffer r{q.shape, std::vector<double>(d.batch * d.T * d.Dv, 0.0)};
          r.shape.back() = d.Dv;
          Buffer lse{std::vector<int64_t>(q.shape.begin(), q.shape.end() - 1),
                     std::vector<double>(d.batch * d.T)};
          std::vector<double> w;
          for (int64_t bi = 0; bi < d.batch; ++bi) {
            attentionWeights(q, k, d, bi, o.getCausal(),
                             o.getScale().convertToDouble(),
                             o.getP().convertToDouble(), o.getId(), w, true,
                             &lse.data[bi * d.T]);
            for (int64_t i = 0; i < d.T; ++i)
              for (int64_t j = 0; j < d.S; ++j)
                for (int64_t c = 0; c < d.Dv; ++c)
                  r.data[(bi * d.T + i) * d.Dv + c] +=
                      w[i * d.S + j] *
                      v.data[(bi / d.groups * d.S + j) * d.Dv + c];
          }
          set(o.getResult(), std::move(r));
          set(o.getLse(), std::move(lse));
        })
        .Case<CacheWriteOp>([&](CacheWriteOp o) {
          const Buffer &c = in(o.getCache()), &x = in(o.getNewEntries());
          Buffer r = c;
          int64_t B = c.shape[0], H = c.shape[1], S = c.shape[2],
                  D = c.shape[3], T = x.shape[2];
          for (int64_t b = 0; b < B; ++b) {
            int64_t p0 =
                o.getPositions()
                    ? static_cast<int64_t>(in(o.getPositions()).data[b * T])
                    : 0;
            if (p0 < 0 || p0 + T > S)
              fail("positions " + std::to_string(p0) + ".." +
                   std::to_string(p0 + T - 1) + " are outside the cache of " +
                   std::to_string(S));
            for (int64_t h = 0; h < H; ++h)
              for (int64_t t = 0; t < T; ++t)
                std::copy_n(&x.data[((b * H + h) * T + t) * D], D,
                            &r.data[((b * H + h) * S + p0 + t) * D]);
          }
          set(o.getResult(), std::move(r));
        })
        .Case<CachedAttentionOp>([&](CachedAttentionOp o) {
          const Buffer &q = in(o.getQ()), &k = in(o.getKCache()),
                       &v = in(o.getVCache()), &pos = in(o.getPositions());
          // The caches may hold fewer heads (grouped-query attention):
          // query head h reads cache head h / (H / Hk).
          int64_t B = q.shape[0], H = q.shape[1], T = q.shape[2],
                  D = q.shape[3], S = k.shape[2], Hk = k.shape[1], G = H / Hk;
          double scale = o.getScale().convertToDouble();
          Buffer r{q.shape, std::vector<double>(q.data.size(), 0.0)};
          std::vector<double> w;
          for (int64_t b = 0; b < B; ++b)
            for (int64_t i = 0; i < T; ++i) {
              int64_t p = static_cast<int64_t>(pos.data[b * T + i]);
              if (p < 0 || p >= S)
                fail("position " + std::to_string(p) +
                     " is outside the cache of " + std::to_string(S));
              for (int64_t h = 0; h < H; ++h) {
                const double *qi = &q.data[((b * H + h) * T + i) * D];
                const double *kb = &k.data[(b * Hk + h / G) * S * D];
                const double *vb = &v.data[(b * Hk + h / G) * S * D];
                w.assign(p + 1, 0.0);
                double m = -std::numeric_limits<double>::infinity(), sum = 0;
                for (int64_t j = 0; j <= p; ++j) {
                  for (int64_t c = 0; c < D; ++c)
                    w[j] += qi[c] * kb[j * D + c];
                  w[j] *= scale;
                  m = std::max(m, w[j]);
                }
                for (double &x : w)
                  sum += (x = std::exp(x - m));
                double *out = &r.data[((b * H + h) * T + i) * D];
                for (int64_t j = 0; j <= p; ++j)
                  for (int64_t c = 0; c < D; ++c)
                    out[c] += w[j] / sum * vb[j * D + c];
              }
            }
          set(o.getResult(), std::move(r));
        })
        .Case<AttentionGradOp>([&](AttentionGradOp o) {
          // The oracle recomputes the weights from q and k; it does not
          // trust the forward's out and lse.
          const Buffer &g = in(o.getGrad()), &q = in(o.getQ()),
                       &k = in(o.getK()), &v = in(o.getV());
          AttentionDims d = attentionDims(q, k, v);
          double scale = o.getScale().convertToDouble();
          double p = o.getP().convertToDouble();
          Buffer dq{q.shape, std::vector<double>(q.data.size(), 0.0)};
          Buffer dk{k.shape, std::vector<double>(k.data.size(), 0.0)};
          Buffer dv{v.shape, std::vector<double>(v.data.size(), 0.0)};
          std::vector<double> P, Pd;
          for (int64_t bi = 0; bi < d.batch; ++bi) {
            // P: the softmax; Pd: after dropout (P * M / (1 - p)).
            attentionWeights(q, k, d, bi, o.getCausal(), scale, p, o.getId(), P,
                             false);
            attentionWeights(q, k, d, bi, o.getCausal(), scale, p, o.getId(),
                             Pd, true);
            auto gAt = [&](int64_t i, int64_t c) {
              return g.data[(bi * d.T + i) * d.Dv + c];
            };
            for (int64_t i = 0; i < d.T; ++i)
              for (int64_t j = 0; j < d.S; ++j)
                for (int64_t c = 0; c < d.Dv; ++c)
                  dv.data[(bi / d.groups * d.S + j) * d.Dv + c] +=
                      Pd[i * d.S + j] * gAt(i, c);
            // dS = P (dP - rowsum(dP P)), dP = (g v^T) M / (1 - p).
            std::vector<double> dS(d.T * d.S, 0.0);
            for (int64_t i = 0; i < d.T; ++i) {
              double dot = 0;
              for (int64_t j = 0; j < d.S; ++j) {
                double dPd = 0;
                for (int64_t c = 0; c < d.Dv; ++c)
                  dPd +=
                      gAt(i, c) * v.data[(bi / d.groups * d.S + j) * d.Dv + c];
                double pij = P[i * d.S + j];
                // Pd / P is the dropout factor M / (1 - p) where P > 0.
                double dP = pij > 0 ? dPd * Pd[i * d.S + j] / pij : 0.0;
                dS[i * d.S + j] = dP;
                dot += dP * pij;
              }
              for (int64_t j = 0; j < d.S; ++j)
                dS[i * d.S + j] = P[i * d.S + j] * (dS[i * d.S + j] - dot);
            }
            for (int64_t i = 0; i < d.T; ++i)
              for (int64_t j = 0; j < d.S; ++j)
                for (int64_t c = 0; c < d.D; ++c) {
                  double s = scale * dS[i * d.S + j];
                  dq.data[(bi * d.T + i) * d.D + c] +=
                      s * k.data[(bi / d.groups * d.S + j) * d.D + c];
                  dk.data[(bi / d.groups * d.S + j) * d.D + c] +=
                      s * q.data[(bi * d.T + i) * d.D + c];
                }
          }
          set(o.getDq(), std::move(dq));
          set(o.getDk(), std::move(dk));
          set(o.getDv(), std::move(dv));
        })
        .Case<CrossEntropyGradOp>([&](auto o) {
          const Buffer &logits = in(o.getLogits()), &t = in(o.getTargets());
          double g = in(o.getGrad()).data[0];
          int64_t v = logits.shape.back(), ignore = o.getIgnoreIndex();
          int64_t count = 0;
          for (double target : t.data)
            count += static_cast<int64_t>(target) != ignore;
          Buffer r{logits.shape, std::vector<double>(logits.data.size(), 0)};
          for (int64_t i = 0; i < t.numel(); ++i) {
            int64_t target = static_cast<int64_t>(t.data[i]);
            if (target == ignore)
              continue;
            if (target < 0 || target >= v)
              fail("target " + std::to_string(target) +
                   " is outside the vocabulary");
            std::vector<double> row(logits.data.begin() + i * v,
                                    logits.data.begin() + (i + 1) * v);
            double lse = logSumExp(row);
            for (int64_t k = 0; k < v; ++k)
              r.data[i * v + k] =
                  g * (std::exp(row[k] - lse) - (k == target ? 1.0 : 0.0)) /
                  count;
          }
          set(op, std::move(r));
        })
        .Case<UnsplitOp>([&](auto o) {
          const Buffer &piece = in(o.getInput()), &like = in(o.getLike());
          int64_t axis = o.getAxis();
          std::vector<int64_t> starts(like.shape.size(), 0);
          starts[axis] = o.getIndex() * (like.shape[axis] / o.getParts());
          set(op, place(piece, like.shape, starts, {}));
        })
        .Case<UnsliceOp>([&](auto o) {
          const Buffer &like = in(o.getLike());
          std::vector<int64_t> starts =
              mixed(o.getStaticStarts(), o.getDynamicStarts());
          std::vector<int64_t> squeeze(o.getSqueeze().begin(),
                                       o.getSqueeze().end());
          for (int64_t sq : squeeze)
            if (starts[sq] < 0)
              starts[sq] += like.shape[sq];
          set(op, place(in(o.getInput()), like.shape, starts, squeeze));
        })
        .Default([&](Operation *) {
          fail("the interpreter does not support this op");
        });
  }

  Buffer matmul(const Buffer &a, const Buffer &b) {
    size_t ra = a.shape.size(), rb = b.shape.size();
    int64_t m = a.shape[ra - 2], k = a.shape[ra - 1], n = b.shape[rb - 1];
    if (b.shape[rb - 2] != k)
      fail("inner dimensions differ: " + gpt::formatShape(a.shape) + " @ " +
           gpt::formatShape(b.shape));
    std::vector<int64_t> ba(a.shape.begin(), a.shape.end() - 2),
        bb(b.shape.begin(), b.shape.end() - 2);
    size_t rank = std::max(ba.size(), bb.size());
    std::vector<int64_t> batch(rank);
    auto at = [&](const std::vector<int64_t> &s, size_t i) -> int64_t {
      size_t off = rank - s.size();
      return i < off ? 1 : s[i - off];
    };
    for (size_t i = 0; i < rank; ++i) {
      int64_t x = at(ba, i), y = at(bb, i);
      if (x != y && x != 1 && y != 1)
        fail("batch dims do not broadcast");
      batch[i] = x == 1 ? y : x;
    }
    auto batchStrides = [&](const std::vector<int64_t> &s) {
      std::vector<int64_t> st(rank, 0);
      int64_t acc = 1;
      for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
        st[i + rank - s.size()] = s[i] == 1 ? 0 : acc;
        acc *= s[i];
      }
      return st;
    };
    std::vector<int64_t> sa = batchStrides(ba), sb = batchStrides(bb);
    Buffer r{batch, {}};
    r.shape.push_back(m);
    r.shape.push_back(n);
    r.data.assign(r.numel(), 0);
    forEachIndex(batch, [&](const std::vector<int64_t> &ix, int64_t flat) {
      int64_t oa = 0, ob = 0;
      for (size_t i = 0; i < rank; ++i) {
        oa += ix[i] * sa[i];
        ob += ix[i] * sb[i];
      }
      const double *pa = a.data.data() + oa * m * k;
      const double *pb = b.data.data() + ob * k * n;
      double *pr = r.data.data() + flat * m * n;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t p = 0; p < k; ++p) {
          double av = pa[i * k + p];
          for (int64_t j = 0; j < n; ++j)
            pr[i * n + j] += av * pb[p * n + j];
        }
    });
    return r;
  }

  struct AttentionDims {
    int64_t batch = 1, T = 0, S = 0, D = 0, Dv = 0;
    /// Query heads per key/value head (grouped-query attention): batch
    /// element bi of q reads bi / groups of k and v.
    int64_t groups = 1;
  };

  AttentionDims attentionDims(const Buffer &q, const Buffer &k,
                              const Buffer &v) {
    AttentionDims d;
    size_t r = q.shape.size();
    for (size_t i = 0; i + 2 < r; ++i)
      d.batch *= q.shape[i];
    d.T = q.shape[r - 2];
    d.D = q.shape[r - 1];
    d.S = k.shape[r - 2];
    d.Dv = v.shape[r - 1];
    int64_t kvBatch = 1;
    for (size_t i = 0; i + 2 < r; ++i)
      kvBatch *= k.shape[i];
    d.groups = kvBatch > 0 ? d.batch / kvBatch : 1;
    if (k.shape[r - 1] != d.D || v.shape[r - 2] != d.S)
      fail("q, k and v do not fit together");
    return d;
  }

  /// The attention weights of batch element `bi` ([T, S]): softmax of the
  /// scaled (masked) scores, then, with `dropped` in a training step, the
  /// dropout of the unfused gpt.dropout with the same id (its flat index
  /// runs over [batch, T, S]). `lseOut` receives each row's log-sum-exp.
  void attentionWeights(const Buffer &q, const Buffer &k,
                        const AttentionDims &d, int64_t bi, bool causal,
                        double scale, double p, int64_t id,
                        std::vector<double> &w, bool dropped,
                        double *lseOut = nullptr) {
    w.assign(d.T * d.S, 0.0);
    std::vector<double> row(d.S);
    for (int64_t i = 0; i < d.T; ++i) {
      for (int64_t j = 0; j < d.S; ++j) {
        double s = 0;
        for (int64_t c = 0; c < d.D; ++c)
          s += q.data[(bi * d.T + i) * d.D + c] *
               k.data[(bi / d.groups * d.S + j) * d.D + c];
        row[j] = causal && j > i ? -std::numeric_limits<double>::infinity()
                                 : s * scale;
      }
      double lse = logSumExp(row);
      if (lseOut)
        lseOut[i] = lse;
      for (int64_t j = 0; j < d.S; ++j) {
        double pij = std::exp(row[j] - lse);
        if (dropped && opts.training && p > 0) {
          uint64_t flat =
              opts.firstRow * (static_cast<uint64_t>(d.batch * d.T * d.S) /
                               std::max<uint64_t>(1, opts.rows)) +
              static_cast<uint64_t>((bi * d.T + i) * d.S + j);
          pij = dropoutKeeps(p, opts.seed, opts.step, static_cast<uint32_t>(id),
                             flat)
                    ? pij / (1.0 - p)
                    : 0.0;
        }
        w[i * d.S + j] = pij;
      }
    }
  }

  /// Sums `g` over the dims broadcasting added or stretched to reach it
  /// from `shape`.
  Buffer unbroadcast(const Buffer &g, const std::vector<int64_t> &shape) {
    size_t off = g.shape.size() - shape.size();
    Buffer r{shape, std::vector<double>(Buffer{shape, {}}.numel(), 0)};
    std::vector<int64_t> rst = stridesOf(shape);
    forEachIndex(g.shape, [&](const std::vector<int64_t> &ix, int64_t flat) {
      int64_t o = 0;
      for (size_t i = 0; i < shape.size(); ++i)
        o += (shape[i] == 1 ? 0 : ix[i + off]) * rst[i];
      r.data[o] += g.data[flat];
    });
    return r;
  }

  /// Zeros of `shape` with `piece` written at `starts` (its dims listed in
  /// `squeeze` having been dropped).
  Buffer place(const Buffer &piece, const std::vector<int64_t> &shape,
               const std::vector<int64_t> &starts,
               const std::vector<int64_t> &squeeze) {
    std::vector<int64_t> box = piece.shape;
    for (int64_t sq : squeeze)
      box.insert(box.begin() + sq, 1);
    if (box.size() != shape.size())
      fail("the piece does not fit the result's rank");
    for (size_t i = 0; i < shape.size(); ++i)
      if (starts[i] < 0 || starts[i] + box[i] > shape[i])
        fail("the piece does not fit inside " + gpt::formatShape(shape));
    Buffer r{shape, std::vector<double>(Buffer{shape, {}}.numel(), 0)};
    std::vector<int64_t> st = stridesOf(shape);
    forEachIndex(box, [&](const std::vector<int64_t> &ix, int64_t flat) {
      int64_t o = 0;
      for (size_t i = 0; i < ix.size(); ++i)
        o += (ix[i] + starts[i]) * st[i];
      r.data[o] = piece.data[flat];
    });
    return r;
  }

  Buffer transpose(const Buffer &x, ArrayRef<int64_t> perm) {
    std::vector<int64_t> st = stridesOf(x.shape);
    Buffer r;
    for (int64_t p : perm)
      r.shape.push_back(x.shape[p]);
    r.data.resize(x.data.size());
    forEachIndex(r.shape, [&](const std::vector<int64_t> &ix, int64_t flat) {
      int64_t off = 0;
      for (size_t i = 0; i < ix.size(); ++i)
        off += ix[i] * st[perm[i]];
      r.data[flat] = x.data[off];
    });
    return r;
  }

  Buffer slice(const Buffer &x, const std::vector<int64_t> &starts,
               const std::vector<int64_t> &ends,
               const std::vector<int64_t> &squeeze) {
    std::vector<int64_t> box;
    for (size_t i = 0; i < x.shape.size(); ++i) {
      if (starts[i] < 0 || ends[i] > x.shape[i] || ends[i] < starts[i])
        fail("slice " + std::to_string(starts[i]) + ":" +
             std::to_string(ends[i]) + " is out of range for dim " +
             std::to_string(i) + " of " + gpt::formatShape(x.shape));
      box.push_back(ends[i] - starts[i]);
    }
    std::vector<int64_t> st = stridesOf(x.shape);
    Buffer r{box, std::vector<double>()};
    r.data.resize(r.numel());
    forEachIndex(box, [&](const std::vector<int64_t> &ix, int64_t flat) {
      int64_t off = 0;
      for (size_t i = 0; i < ix.size(); ++i)
        off += (ix[i] + starts[i]) * st[i];
      r.data[flat] = x.data[off];
    });
    for (auto it = squeeze.rbegin(); it != squeeze.rend(); ++it)
      r.shape.erase(r.shape.begin() + *it);
    return r;
  }

  InterpreterOptions opts;
  llvm::DenseMap<Value, Buffer> tensors;
  llvm::DenseMap<Value, int64_t> indices;
  Operation *currentOp = nullptr;
};

} // namespace

/// Collects the arguments of `func` from `file` by their gpt.input and
/// gpt.param names, checking presence, dtype class and static dims.
std::vector<Buffer> bindArguments(func::FuncOp func,
                                  const SafetensorsFile &file,
                                  const std::string &path) {
  std::vector<Buffer> args;
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    auto name = func.getArgAttrOfType<StringAttr>(i, "gpt.param");
    bool isParam = static_cast<bool>(name);
    if (!name)
      name = func.getArgAttrOfType<StringAttr>(i, "gpt.input");
    auto type = cast<RankedTensorType>(func.getArgument(i).getType());
    const TensorData *t = file.find(name.str());
    if (!t)
      throw RuntimeError(path + ": missing " +
                         (isParam ? "parameter" : "input") + " '" + name.str() +
                         "' (" + gpt::formatShape(type.getShape()) + ")");
    bool wantInt = type.getElementType().isInteger(32);
    bool isInt = t->dtype == DType::I32 || t->dtype == DType::I64;
    bool isFloat = t->dtype == DType::F32 || t->dtype == DType::F64 ||
                   t->dtype == DType::F16 || t->dtype == DType::BF16;
    // A scalar such as `step` may come as an integer.
    if (wantInt ? !isInt : !(isFloat || (isInt && type.getRank() == 0)))
      throw RuntimeError(path + ": tensor '" + name.str() + "' is " +
                         t->typeStr() + " but the model expects " +
                         (wantInt ? "integer ids (I32 or I64)" : "floats") +
                         " of shape " + gpt::formatShape(type.getShape()));
    bool ok = static_cast<int64_t>(t->shape.size()) == type.getRank();
    for (int64_t d = 0; ok && d < type.getRank(); ++d)
      ok = type.isDynamicDim(d) || type.getDimSize(d) == t->shape[d];
    if (!ok)
      throw RuntimeError(path + ": tensor '" + name.str() + "' has shape " +
                         t->typeStr() + " but the model expects " +
                         gpt::formatShape(type.getShape()));
    args.push_back(Buffer{t->shape, t->toDoubles()});
  }
  return args;
}

Buffer interpret(func::FuncOp func, const std::vector<Buffer> &args,
                 const InterpreterOptions &options) {
  return Interpreter(options).run(func, args).at(0);
}

std::vector<Buffer> interpretAll(func::FuncOp func,
                                 const std::vector<Buffer> &args,
                                 const InterpreterOptions &options) {
  return Interpreter(options).run(func, args);
}

} // namespace gptc
