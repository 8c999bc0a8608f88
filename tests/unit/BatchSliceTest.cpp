//===- BatchSliceTest.cpp - Slices of a batch sum to the whole ------------===//
//
// What data parallelism and gradient accumulation rest on, on the
// interpreter in float64: @loss_grad on row slices of a batch (uneven, with
// ignored targets), each placed in the batch for dropout, gives losses and
// gradients whose target-weighted sums are the whole batch's; and
// @adamw_step on those gradients is @train_step's update.
//
//===----------------------------------------------------------------------===//

#include "GoldenModel.h"

#include <random>

using namespace gptc;
using namespace gptc::test;

namespace {

/// Random parameters of `fn`, then tokens [4, 16] and targets with some
/// ignored (-100), as one state.
SafetensorsFile randomState(mlir::func::FuncOp fn) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 0.2);
  SafetensorsFile s;
  for (unsigned a = 0; a < fn.getNumArguments(); ++a) {
    auto p = fn.getArgAttrOfType<mlir::StringAttr>(a, "gpt.param");
    if (!p)
      continue;
    auto t = mlir::cast<mlir::RankedTensorType>(fn.getArgument(a).getType());
    std::vector<double> v(t.getNumElements());
    for (double &x : v)
      x = normal(rng);
    s.tensors[p.str()] = TensorData::fromDoubles(
        DType::F64, std::vector<int64_t>(t.getShape()), v);
  }
  std::vector<double> tokens(64), targets(64);
  for (int i = 0; i < 64; ++i) {
    tokens[i] = static_cast<double>(rng() % 256);
    // Row 1 has few targets, row 3 none: slices weigh differently.
    bool ignored = (i / 16 == 1 && i % 16 < 12) || i / 16 == 3 || i % 5 == 0;
    targets[i] = ignored ? -100.0 : static_cast<double>(rng() % 256);
  }
  s.tensors["tokens"] = TensorData::fromDoubles(DType::I32, {4, 16}, tokens);
  s.tensors["targets"] = TensorData::fromDoubles(DType::I32, {4, 16}, targets);
  return s;
}

/// Rows [first, first + rows) of the state's tokens and targets.
SafetensorsFile rowsOf(SafetensorsFile s, int64_t first, int64_t rows) {
  for (const char *name : {"tokens", "targets"}) {
    TensorData &t = s.tensors.at(name);
    std::vector<double> v = t.toDoubles();
    t = TensorData::fromDoubles(
        DType::I32, {rows, 16},
        std::vector<double>(v.begin() + first * 16,
                            v.begin() + (first + rows) * 16));
  }
  return s;
}

int64_t countTargets(const SafetensorsFile &s) {
  int64_t n = 0;
  for (double t : s.tensors.at("targets").toDoubles())
    n += t != -100.0;
  return n;
}

void expectSlicesSumToTheWhole(bool fuseAttention) {
  mlir::MLIRContext context;
  auto module =
      compileModel(context, "models/gpt2.gpt",
                   std::string(GPTC_SOURCE_DIR) + "/models/configs/tiny",
                   {"drop_rate=0.2"}, fuseAttention);
  auto grad = module->lookupSymbol<mlir::func::FuncOp>("loss_grad");
  ASSERT_TRUE(grad);
  SafetensorsFile state = randomState(grad);
  InterpreterOptions opts;
  opts.training = true;
  opts.seed = 99;
  opts.step = 3;
  std::vector<Buffer> whole =
      interpretAll(grad, bindArguments(grad, state, "whole"), opts);

  // Uneven slices; the last holds no targets at all.
  std::vector<std::pair<int64_t, int64_t>> slices = {{0, 1}, {1, 2}, {3, 1}};
  std::vector<std::vector<double>> sums(whole.size());
  for (size_t r = 0; r < whole.size(); ++r)
    sums[r].assign(whole[r].data.size(), 0.0);
  double count = 0;
  for (auto [first, rows] : slices) {
    SafetensorsFile part = rowsOf(state, first, rows);
    double n = static_cast<double>(countTargets(part));
    if (n == 0)
      continue;
    InterpreterOptions o = opts;
    o.firstRow = first;
    o.rows = rows;
    std::vector<Buffer> out =
        interpretAll(grad, bindArguments(grad, part, "slice"), o);
    for (size_t r = 0; r < out.size(); ++r)
      for (size_t k = 0; k < out[r].data.size(); ++k)
        sums[r][k] += n * out[r].data[k];
    count += n;
  }
  ASSERT_GT(count, 0);
  for (size_t r = 0; r < whole.size(); ++r) {
    for (double &x : sums[r])
      x /= count;
    EXPECT_LT(relError(sums[r], whole[r].data), 1e-10)
        << grad.getResultAttrOfType<mlir::StringAttr>(r, "gpt.output").str();
  }

  // Without the slices' places, dropout would draw other masks.
  SafetensorsFile part = rowsOf(state, 1, 2);
  InterpreterOptions placed = opts, unplaced = opts;
  placed.firstRow = 1;
  placed.rows = 2;
  std::vector<Buffer> a = interpretAll(grad, bindArguments(grad, part, "p"),
                                       placed),
                      b = interpretAll(grad, bindArguments(grad, part, "u"),
                                       unplaced);
  EXPECT_NE(a[0].data, b[0].data);
}

TEST(BatchSlice, SlicesSumToTheWholeBatch) { expectSlicesSumToTheWhole(false); }

TEST(BatchSlice, SlicesSumToTheWholeBatchWithFusedAttention) {
  expectSlicesSumToTheWhole(true);
}

// @adamw_step on @loss_grad's gradients is @train_step.
TEST(BatchSlice, AdamWStepIsTheTrainingStepsUpdate) {
  mlir::MLIRContext context;
  auto module =
      compileModel(context, "models/gpt2.gpt",
                   std::string(GPTC_SOURCE_DIR) + "/models/configs/tiny");
  auto grad = module->lookupSymbol<mlir::func::FuncOp>("loss_grad");
  auto step = module->lookupSymbol<mlir::func::FuncOp>("train_step");
  auto update = module->lookupSymbol<mlir::func::FuncOp>("adamw_step");
  ASSERT_TRUE(grad && step && update);
  SafetensorsFile state = randomState(grad);
  addStepInputs(state, step, 0.01);
  state.tensors["step"] = TensorData::fromDoubles(DType::F64, {}, {2.0});
  state.tensors["clip_norm"] = TensorData::fromDoubles(DType::F64, {}, {0.5});
  std::vector<Buffer> g =
      interpretAll(grad, bindArguments(grad, state, "state"));
  for (unsigned r = 1; r < g.size(); ++r)
    state.tensors[grad.getResultAttrOfType<mlir::StringAttr>(r, "gpt.output")
                      .str()] =
        TensorData::fromDoubles(DType::F64, g[r].shape, g[r].data);
  std::vector<Buffer> stepped =
      interpretAll(step, bindArguments(step, state, "state"));
  std::vector<Buffer> updated =
      interpretAll(update, bindArguments(update, state, "state"));
  std::map<std::string, const Buffer *> byName;
  for (unsigned r = 0; r < stepped.size(); ++r)
    byName[step.getResultAttrOfType<mlir::StringAttr>(r, "gpt.output").str()] =
        &stepped[r];
  ASSERT_EQ(updated.size(), 3 * (g.size() - 1));
  for (unsigned r = 0; r < updated.size(); ++r) {
    std::string name =
        update.getResultAttrOfType<mlir::StringAttr>(r, "gpt.output").str();
    ASSERT_TRUE(byName.count(name)) << name;
    EXPECT_LT(relError(updated[r].data, byName[name]->data), 1e-14) << name;
  }
}

} // namespace
