//===- ConformanceTest.cpp - Every op compiled, against the interpreter ---===//
//
// Each row is a small model around the ops it exercises: token ids are
// embedded at an odd width (7), the row's body transforms them, and a
// projection gives 11 logits. `gptc run` compiles a training step (forward,
// every gradient the body needs, AdamW) for the CPU and runs it on random
// parameters; `gptc run --interpret` runs the same inputs on the reference
// interpreter. Every output (logits, loss, each gradient, updated weights
// and moments) must agree within fp32 tolerances, at B=2, T=3 and at T=1,
// for the host target and every forced target this host can run (on an
// AVX-512 host: cpu-avx2 and cpu-avx512 too; an AVX2-only host prints the
// targets it could not run).
//
// The rows together must reach every op of the dialect's table that the
// fused kernel family lowers (checked against the fused IR of the training
// step), so a new op without a row fails `EveryFusedOpHasARow`.
//
//===----------------------------------------------------------------------===//

#include "gptc/Backends/KernelCache.h"
#include "gptc/IR/OpInfo.h"
#include "gptc/Runtime/Safetensors.h"

#include "../unit/TestUtil.h"
#include "RunContract.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace gptc;
namespace fs = std::filesystem;

namespace {

const std::string kWork = std::string(GPTC_BINARY_DIR) + "/conformance-work/" +
                          std::to_string(getpid()) + "/";
constexpr int kVocab = 11;

struct CleanUp : testing::Environment {
  void TearDown() override { fs::remove_all(kWork); }
};
const testing::Environment *const kCleanUp =
    testing::AddGlobalTestEnvironment(new CleanUp);

struct Row {
  const char *name;
  /// DSL statements computing `y: [B, T, 7]` from `x: [B, T, 7]` (params
  /// may be declared).
  const char *body;
};

// clang-format off
const Row kRows[] = {
  {"unary", "let y = exp(sin(x)) + cos(x) * tanh(x) - sigmoid(x) / (1.0 + relu(x))\n"
            "  y = y + silu(x) * rsqrt(x * x + 1.0)"},
  {"gelu_sqrt_log_pow", "let y = gelu(x) + sqrt(x * x + 1.0) - log(x * x + 2.0) + x ** 3"},
  {"softmax_rows", "let y = softmax(x) + log_softmax(x, axis = 1)"},
  {"reductions",
   "let m = mean(x, axis = -1, keepdim = true)\n"
   "  let v = var(x, axis = 1, keepdim = true)\n"
   "  let s = sum(x, axis = 0)\n"
   "  let y = x - m + v + s + max(x, axis = -1, keepdim = true)"},
  {"layout",
   "let h = reshape(x * 1.0, [B, T, 7, 1])\n"
   "  let t = transpose(h, 2, 3)\n"
   "  let y = reshape(t, [B, T, 7])"},
  {"split_slice",
   "param w: [7, 21] = normal(0.5)\n"
   "  let a, b, c = split(x @ w, 3)\n"
   "  let last = (a * b)[:, -1, :]\n"
   "  let y = c + reshape(last, [B, 1, 7])"},
  {"layer_norm_mask_dropout",
   "param g: [7] = ones()\n"
   "  param z: [7] = zeros()\n"
   "  param w: [7, 7] = normal(0.5)\n"
   "  let n = layer_norm(x, g, z)\n"
   "  let s = masked_fill(n @ transpose(n) + (n @ w) @ transpose(n), causal_mask(T), -2.5)\n"
   "  let y = dropout(softmax(s) @ n, 0.25)"},
  // A slice whose start is a symbolic dim (T), and its gradient.
  {"symbolic_slice",
   "let h = reshape(x, [B, 7 * T])\n"
   "  let y = x * reshape(h[:, T:2 * T], [B, T, 1])"},
  // Row statistics over rows 37 wide: more than two vectors and a partial
  // one on every target.
  {"wide_rows",
   "param w: [7, 37] = normal(0.5)\n"
   "  let h = x @ w\n"
   "  let s = softmax(h) + log_softmax(h)\n"
   "  let m = mean(h, axis = -1, keepdim = true) + var(h, axis = -1, keepdim = true)\n"
   "  let y = (s + m + max(h, axis = -1, keepdim = true))[:, :, 0:7]"},
  // Sums of whole tensors 48 and 16 floats wide (s, and clipping's squared
  // norms of w and u): reduced a block of rows at a time, not by flat index.
  {"whole_tensor_sums",
   "param w: [7, 48] = normal(0.5)\n"
   "  param u: [3, 16] = normal(0.5)\n"
   "  let h = x @ w + reshape(u, [48])\n"
   "  let s = sum(reshape(h * h, [B * T * 48]), axis = 0)\n"
   "  let y = h[:, :, 0:7] + s * 0.01"},
  // Attention as written, unscaled, with q = k = v (the Gram matrix).
  {"self_attention", "let y = softmax(x @ transpose(x)) @ x"},
  // Grouped-query attention with repeat_kv: 4 query heads over 2 key/value
  // heads; fused, the flash kernels read each shared head for its group.
  // (wq and wk also feed y directly: at T = 1 their gradient through the
  // attention vanishes, and fp32 noise against zero is no measure.)
  {"repeated_kv_attention",
   "param wq: [7, 28] = normal(0.5)\n"
   "  param wk: [7, 14] = normal(0.5)\n"
   "  param wv: [7, 14] = normal(0.5)\n"
   "  let q = transpose(reshape(x @ wq, [B, T, 4, 7]), 1, 2)\n"
   "  let k = repeat(transpose(reshape(x @ wk, [B, T, 2, 7]), 1, 2), 2, axis = 1)\n"
   "  let v = repeat(transpose(reshape(x @ wv, [B, T, 2, 7]), 1, 2), 2, axis = 1)\n"
   "  let s = masked_fill(q @ transpose(k), causal_mask(T), -inf)\n"
   "  let y = sum(softmax(s * 0.4, axis = -1) @ v, axis = 1) + (x @ wq)[:, :, 0:7]"
   " + (x @ wk)[:, :, 0:7]"},
  // Grouped-query attention by broadcasting: 2 query heads share k and v;
  // not one batch of heads, so it stays unfused.
  {"grouped_query_attention",
   "param wq: [7, 14] = normal(0.5)\n"
   "  let q = reshape(transpose(reshape(x @ wq, [B, T, 2, 7]), 1, 2), [B, 1, 2, T, 7])\n"
   "  let k = reshape(x, [B, 1, 1, T, 7])\n"
   "  let s = masked_fill(q @ transpose(k, 3, 4), causal_mask(T), -inf)\n"
   "  let a = softmax(s * 0.5, axis = -1) @ k\n"
   "  let y = reshape(sum(a, axis = 2), [B, T, 7])"},
  // Masks from comparisons, where, casts and constant tensors.
  {"masks_casts_constants",
   "let pos = reshape(cast(arange(T), \"f32\"), [T, 1])\n"
   "  let a = where(pos < 1.5, x * 2.0, x) + zeros([B, T, 7]) + ones([7]) * sin(pos)\n"
   "  let keep = cast(tokens != 3, \"f32\") + cast(tokens == 4, \"f32\") - cast(tokens <= 7, \"f32\")\n"
   "  let b = where(reshape(tokens != 3, [B, T, 1]), a, 0.0 - a) * reshape(keep, [B, T, 1])\n"
   "  let y = b * cast(cast(x * 3.0, \"i32\"), \"f32\") + full([B, T, 1], 0.25) * cast(x >= 0.0, \"f32\")\n"
   "  y = y + where(x > 0.5, x, 0.0)"},
  // rotate_half as concat, a concat along T (2*T) read back at a symbolic
  // start, and stack.
  {"concat_stack",
   "let r = concat([0.0 - x[:, :, 3:7], x[:, :, 0:3]])\n"
   "  let d = concat([x * 2.0, r], axis = 1)\n"
   "  let s = stack([r, x], axis = 0)\n"
   "  let y = r * x + d[:, T:2 * T, :] + sum(s, axis = 0)"},
  // repeat (grouped-query attention's repeat_kv) and expand.
  {"repeat_expand",
   "let r = repeat(reshape(x, [B, T, 1, 7]), 2, axis = 2)\n"
   "  let e = expand(reshape(x[:, :, 0:1], [B, T, 1, 1]), [B, T, 2, 7])\n"
   "  let y = sum(r * e, axis = 2)"},
  // gather along the width by a computed index, and along T (the first
  // token's row, as a classifier reads the last one).
  {"gather",
   "let w = gather(x, cast(reshape(tokens < 5, [B, T, 1]), \"i32\"), axis = 2)\n"
   "  let first = gather(x, cast(reshape(tokens[:, 0:1] < 0, [B, 1, 1]), \"i32\"), axis = 1)\n"
   "  let y = x * w + first"},
  {"positions",
   "param pos: [8, 7] = normal(0.5)\n"
   "  let y = x + embedding(arange(T), pos)"},
};
// clang-format on

std::string modelText(const Row &r) {
  return std::string("def Net(tokens: i32[B, T]) -> [B, T, 11] {\n"
                     "  param wte: [11, 7] = normal(0.5)\n"
                     "  let x = embedding(tokens, wte)\n  ") +
         r.body +
         "\n  param head: [7, 11] = normal(0.5)\n"
         "  return y @ head\n}\n"
         "export def forward(tokens: i32[B, T]) -> [B, T, 11] {\n"
         "  return Net(tokens)\n}\n"
         "export def loss(tokens: i32[B, T], targets: i32[B, T]) -> f32[] {\n"
         "  return cross_entropy(Net(tokens), targets)\n}\n";
}

std::string writeModel(const Row &r) {
  fs::create_directories(kWork);
  std::string path = kWork + r.name + ".gpt";
  std::ofstream(path) << modelText(r);
  return path;
}

/// `gptc ARGS...`, expected to succeed; its output.
std::string gptc(std::vector<std::string> args) {
  args.insert(args.begin(), GPTC_BIN);
  std::string out;
  EXPECT_EQ(runCapture(args, out), 0) << out;
  return out;
}

/// The CPU targets to compile for: the host's features, then each forced
/// target the host can execute that differs from them.
std::vector<std::string> runnableTargets() {
  std::vector<std::string> targets = {"cpu"};
  __builtin_cpu_init();
  bool avx512 =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd");
  // Without AVX-512 the host target is the AVX2 one.
  if (avx512) {
    targets.push_back("cpu-avx2");
    targets.push_back("cpu-avx512");
  } else {
    static bool told = false;
    if (!told)
      std::cerr << "[ conformance ] cpu-avx512 not run: this host has no "
                   "AVX-512 (cpu is the AVX2 target here)\n";
    told = true;
  }
  return targets;
}

/// `gptc run` of `model` on `in`, interpreted (empty `target`) or compiled
/// for `target`.
SafetensorsFile runModel(const std::string &model, const SafetensorsFile &in,
                         const std::string &target) {
  bool interpret = target.empty();
  std::string base = model + "." + (interpret ? "interp" : target);
  writeSafetensors(base + ".in.safetensors", in);
  std::vector<std::string> args = {"run",      model,
                                   "--seed",   "5",
                                   "--inputs", base + ".in.safetensors",
                                   "-o",       base + ".out.safetensors"};
  if (interpret)
    args.push_back("--interpret");
  else
    args.insert(args.end(),
                {"--target", target, "--cache-dir",
                 std::string(GPTC_BINARY_DIR) + "/test-kernel-cache"});
  gptc(args);
  return readSafetensors(base + ".out.safetensors");
}

class Conformance : public testing::TestWithParam<Row> {};

TEST_P(Conformance, CompiledTrainingStepMatchesTheInterpreter) {
  std::string model = writeModel(GetParam());
  std::string plan = gptc({"emit", model, "--stage=kernels", "--task=train"});
  for (int64_t t : {3, 1}) {
    SCOPED_TRACE("T=" + std::to_string(t));
    SafetensorsFile in = test::randomTrainInputs(plan, 2, t, 17, kVocab);
    SafetensorsFile want = runModel(model, in, "");
    for (const std::string &target : runnableTargets()) {
      SCOPED_TRACE("target " + target);
      SafetensorsFile got = runModel(model, in, target);
      ASSERT_EQ(got.tensors.size(), want.tensors.size());
      for (auto &[name, w] : want.tensors) {
        const TensorData *g = got.find(name);
        ASSERT_NE(g, nullptr) << name;
        EXPECT_LT(test::relError(g->toDoubles(), w.toDoubles()), 1e-4) << name;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, Conformance, testing::ValuesIn(kRows),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

// The rows' training steps, fused, use every op the fused family lowers.
TEST(Conformance, EveryFusedOpHasARow) {
  std::string ir;
  for (const Row &r : kRows)
    ir += gptc({"emit", writeModel(r), "--stage=fused", "--task=train"});
  for (const ops::OpInfo &op : ops::allOps()) {
    if (op.lowering != ops::Lowering::fused)
      continue;
    std::string spelled = "gpt." + std::string(op.mnemonic) + " ";
    EXPECT_NE(ir.find(spelled), std::string::npos)
        << "no conformance row reaches gpt." << op.mnemonic;
  }
}

} // namespace
