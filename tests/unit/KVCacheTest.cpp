//===- KVCacheTest.cpp - Cached decoding equals the full forward ----------===//
//
// --gpt-kv-cache's @prefill and @decode, run by the interpreter (the
// oracle), against @forward on the whole sequences: the logits of every
// step equal the forward's at that position. The steps cover a prefill, a
// decode of two tokens at once, and a ragged batch (the second sequence one
// position behind, re-writing a slot it had written), on two golden
// configs (tied and untied embeddings).
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/GptOps.h"
#include "gptc/IR/Interpreter.h"
#include "gptc/Passes/Passes.h"

#include "mlir/IR/MLIRContext.h"

#include "GoldenModel.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace gptc;

namespace {

class KVCache : public testing::TestWithParam<const char *> {};

TensorData tensor(DType dtype, std::vector<int64_t> shape,
                  const std::vector<double> &values) {
  return TensorData::fromDoubles(dtype, std::move(shape), values);
}

TEST_P(KVCache, DecodeStepsEqualTheForward) {
  std::string base =
      std::string(GPTC_SOURCE_DIR) + "/tests/reference/goldens/" + GetParam();
  mlir::MLIRContext context;
  auto module = test::compileGolden(context, base, {}, true);
  mlir::PassManager pm(&context);
  pm.addPass(createGptKVCache());
  ASSERT_TRUE(mlir::succeeded(pm.run(*module)));
  auto forward = module->lookupSymbol<mlir::func::FuncOp>("forward");
  auto prefill = module->lookupSymbol<mlir::func::FuncOp>("prefill");
  auto decode = module->lookupSymbol<mlir::func::FuncOp>("decode");
  ASSERT_TRUE(prefill && decode);

  SafetensorsFile state = readSafetensors(base + ".safetensors");
  const int64_t B = 2, S = state.find("wpe.weight")->shape[0];
  const int64_t V = state.find("wte.weight")->shape[0];
  std::vector<double> ids;
  for (int64_t i = 0; i < B * S; ++i)
    ids.push_back(static_cast<double>((i * 37 + 11) % V));
  state.tensors["tokens"] = tensor(DType::I32, {B, S}, ids);
  Buffer full = interpret(forward, bindArguments(forward, state, "forward"));
  auto expectRow = [&](const Buffer &logits, int64_t b, int64_t t,
                       const std::string &what) {
    for (int64_t v = 0; v < V; ++v)
      ASSERT_NEAR(logits.data[b * V + v], full.data[(b * S + t) * V + v], 1e-9)
          << what << ": sequence " << b << ", position " << t;
  };

  // Empty caches, [B, H, S, D] as decode declares them.
  std::vector<std::string> caches;
  for (unsigned a = 0; a < decode.getNumArguments(); ++a) {
    auto name = decode.getArgAttrOfType<mlir::StringAttr>(a, "gpt.input");
    if (!name || !name.getValue().starts_with("cache."))
      continue;
    auto type =
        mlir::cast<mlir::RankedTensorType>(decode.getArgument(a).getType());
    std::vector<int64_t> shape = {B, type.getDimSize(1), S, type.getDimSize(3)};
    state.tensors[name.str()] = tensor(
        DType::F64, shape, std::vector<double>(B * shape[1] * S * shape[3]));
    caches.push_back(name.str());
  }
  // Runs `fn` on tokens [B, T] (and positions), keeps the caches it returns.
  auto step = [&](mlir::func::FuncOp fn, std::vector<std::vector<double>> tok,
                  std::vector<std::vector<double>> pos) {
    int64_t T = static_cast<int64_t>(tok[0].size());
    std::vector<double> t, p;
    for (int64_t b = 0; b < B; ++b) {
      t.insert(t.end(), tok[b].begin(), tok[b].end());
      if (!pos.empty())
        p.insert(p.end(), pos[b].begin(), pos[b].end());
    }
    state.tensors["tokens"] = tensor(DType::I32, {B, T}, t);
    if (!p.empty())
      state.tensors["positions"] = tensor(DType::I32, {B, T}, p);
    std::vector<Buffer> r = interpretAll(fn, bindArguments(fn, state, "step"));
    EXPECT_EQ(r.size(), caches.size() + 1);
    for (size_t i = 0; i < caches.size(); ++i)
      state.tensors[caches[i]] =
          tensor(DType::F64, r[i + 1].shape, r[i + 1].data);
    return r[0];
  };
  auto at = [&](int64_t b, int64_t t) { return ids[b * S + t]; };

  Buffer logits = step(prefill,
                       {{at(0, 0), at(0, 1), at(0, 2), at(0, 3)},
                        {at(1, 0), at(1, 1), at(1, 2), at(1, 3)}},
                       {});
  EXPECT_EQ(logits.shape, (std::vector<int64_t>{B, V}));
  for (int64_t b = 0; b < B; ++b)
    expectRow(logits, b, 3, "prefill");
  logits = step(decode, {{at(0, 4), at(0, 5)}, {at(1, 4), at(1, 5)}},
                {{4, 5}, {4, 5}});
  for (int64_t b = 0; b < B; ++b)
    expectRow(logits, b, 5, "two tokens");
  // Sequence 1 lags one position: it first re-feeds position 5.
  for (int64_t t = 6; t < S; ++t) {
    logits = step(decode, {{at(0, t)}, {at(1, t - 1)}},
                  {{double(t)}, {double(t - 1)}});
    expectRow(logits, 0, t, "decode");
    expectRow(logits, 1, t - 1, "lagging decode");
  }
}

INSTANTIATE_TEST_SUITE_P(Goldens, KVCache,
                         testing::Values("tied-bias-odd-t",
                                         "untied-bias-full-ctx"),
                         [](const auto &info) {
                           std::string s = info.param;
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

} // namespace
