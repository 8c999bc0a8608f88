//===- GradientTest.cpp - Every gradient rule against finite differences
//---===//
//
// Each case is a small @loss whose differentiable inputs are parameters; the
// loss is sum(op(...) * R) with a fixed random R so every output element
// matters. --gpt-autodiff builds @loss_grad; the interpreter (double)
// evaluates it and central differences of @loss (h = 1e-5). Shapes use odd
// and size-1 dims, and broadcasting where the op allows it.
//
//===----------------------------------------------------------------------===//

#include "gptc/Frontend/MLIRGen.h"
#include "gptc/IR/Interpreter.h"
#include "gptc/IR/OpInfo.h"
#include "gptc/Passes/Passes.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <regex>

using namespace gptc;

namespace {

struct GradCase {
  const char *name;
  /// The op under test; `%out` must be defined with type RESULT_TYPE.
  const char *body;
  /// Parameter args `%p0, %p1, ...` (types), e.g. {"3x1x5", "5"}.
  std::vector<std::string> params;
  const char *resultType; ///< e.g. "3x4x5"
  /// Values drawn in [lo, hi] (positive for log/sqrt/pow).
  double lo = -1.5, hi = 1.5;
  /// Extra non-differentiable inputs: `%ids` i32 of this shape, values
  /// in [0, idRange).
  std::string idsShape = "";
  int idRange = 0;
  bool training = false;
};

std::vector<int64_t> parseShape(const std::string &s) {
  std::vector<int64_t> out;
  if (s.empty())
    return out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, 'x'))
    out.push_back(std::stoll(part));
  return out;
}

std::string tensorType(const std::string &s, const char *elem = "f32") {
  return "tensor<" + (s.empty() ? std::string() : s + "x") + elem + ">";
}

int64_t numel(const std::vector<int64_t> &s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

std::string buildModule(const GradCase &c) {
  std::string args;
  for (size_t i = 0; i < c.params.size(); ++i)
    args += "%p" + std::to_string(i) + ": " + tensorType(c.params[i]) +
            " {gpt.param = \"p" + std::to_string(i) + "\"}, ";
  if (!c.idsShape.empty())
    args +=
        "%ids: " + tensorType(c.idsShape, "i32") + " {gpt.input = \"ids\"}, ";
  std::string rt = c.resultType;
  int64_t n = numel(parseShape(rt));
  args += "%r: " + tensorType(rt) + " {gpt.input = \"r\"}";
  std::string flat = "tensor<" + std::to_string(n) + "xf32>";
  return "func.func @loss(" + args + ") -> tensor<f32> {\n" + c.body +
         "\n  %weighted = gpt.mul %out, %r : " + tensorType(rt) + ", " +
         tensorType(rt) + " -> " + tensorType(rt) +
         "\n  %flat = gpt.reshape %weighted to [" + std::to_string(n) +
         "] : " + tensorType(rt) + " -> " + flat +
         "\n  %l = gpt.sum %flat {axis = 0 : i64, keepdim = false} : " + flat +
         " -> tensor<f32>\n  return %l : tensor<f32>\n}\n";
}

class GradientRule : public testing::TestWithParam<GradCase> {};

TEST_P(GradientRule, MatchesCentralDifferences) {
  const GradCase &c = GetParam();
  mlir::MLIRContext context;
  loadGptDialects(context);
  std::string text = buildModule(c);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
  ASSERT_TRUE(module) << text;
  mlir::PassManager pm(&context);
  pm.addPass(createGptAutodiff());
  ASSERT_TRUE(mlir::succeeded(pm.run(*module))) << text;

  std::mt19937 rng(1234);
  std::uniform_real_distribution<double> value(c.lo, c.hi), weight(-1, 1);
  std::vector<Buffer> args;
  for (auto &p : c.params) {
    Buffer b{parseShape(p), {}};
    for (int64_t i = 0; i < numel(b.shape); ++i)
      b.data.push_back(value(rng));
    args.push_back(b);
  }
  if (!c.idsShape.empty()) {
    Buffer ids{parseShape(c.idsShape), {}};
    std::uniform_int_distribution<int> id(0, c.idRange - 1);
    for (int64_t i = 0; i < numel(ids.shape); ++i)
      ids.data.push_back(id(rng));
    if (std::string(c.name) == "cross_entropy")
      ids.data[0] = -100; // one ignored target
    args.push_back(ids);
  }
  Buffer r{parseShape(c.resultType), {}};
  for (int64_t i = 0; i < numel(r.shape); ++i)
    r.data.push_back(weight(rng));
  args.push_back(r);

  InterpreterOptions opts;
  opts.training = c.training;
  opts.seed = 7;
  opts.step = 1;
  auto loss = module->lookupSymbol<mlir::func::FuncOp>("loss");
  auto grad = module->lookupSymbol<mlir::func::FuncOp>("loss_grad");
  std::vector<Buffer> results = interpretAll(grad, args, opts);
  ASSERT_EQ(results.size(), c.params.size() + 1);
  EXPECT_NEAR(results[0].data[0], interpret(loss, args, opts).data[0], 1e-12);

  const double h = 1e-5;
  for (size_t p = 0; p < c.params.size(); ++p) {
    const Buffer &analytic = results[p + 1];
    ASSERT_EQ(analytic.shape, args[p].shape) << "param " << p;
    double maxDiff = 0, scale = 1e-6;
    for (size_t j = 0; j < args[p].data.size(); ++j) {
      std::vector<Buffer> plus = args, minus = args;
      plus[p].data[j] += h;
      minus[p].data[j] -= h;
      double fd = (interpret(loss, plus, opts).data[0] -
                   interpret(loss, minus, opts).data[0]) /
                  (2 * h);
      maxDiff = std::max(maxDiff, std::fabs(fd - analytic.data[j]));
      scale = std::max(scale, std::fabs(fd));
    }
    EXPECT_LT(maxDiff / scale, 1e-6) << c.name << ", param " << p;
  }
}

// clang-format off
const GradCase kCases[] = {
  {"neg", "  %out = gpt.neg %p0 : tensor<3x1x5xf32>", {"3x1x5"}, "3x1x5"},
  {"exp", "  %out = gpt.exp %p0 : tensor<7xf32>", {"7"}, "7"},
  {"log", "  %out = gpt.log %p0 : tensor<2x3xf32>", {"2x3"}, "2x3", 0.5, 2.0},
  {"sqrt", "  %out = gpt.sqrt %p0 : tensor<1x5xf32>", {"1x5"}, "1x5", 0.5, 2.0},
  {"tanh", "  %out = gpt.tanh %p0 : tensor<3x3xf32>", {"3x3"}, "3x3"},
  {"sin", "  %out = gpt.sin %p0 : tensor<2x1x3xf32>", {"2x1x3"}, "2x1x3", -3.0, 3.0},
  {"cos", "  %out = gpt.cos %p0 : tensor<5xf32>", {"5"}, "5", -3.0, 3.0},
  {"sigmoid", "  %out = gpt.sigmoid %p0 : tensor<3x2xf32>", {"3x2"}, "3x2", -4.0, 4.0},
  {"silu", "  %out = gpt.silu %p0 : tensor<3x2xf32>", {"3x2"}, "3x2", -4.0, 4.0},
  {"rsqrt", "  %out = gpt.rsqrt %p0 : tensor<2x3xf32>", {"2x3"}, "2x3", 0.5, 2.0},
  {"relu", "  %out = gpt.relu %p0 : tensor<9xf32>", {"9"}, "9", 0.2, 1.5},
  {"gelu", "  %out = gpt.gelu %p0 : tensor<2x5xf32>", {"2x5"}, "2x5", -3.0, 3.0},
  {"pow", "  %out = gpt.pow %p0 {exponent = 3.0 : f64} : tensor<5xf32>", {"5"}, "5", 0.5, 2.0},
  {"add_broadcast", "  %out = gpt.add %p0, %p1 : tensor<3x1x5xf32>, tensor<4x1xf32> -> tensor<3x4x5xf32>", {"3x1x5", "4x1"}, "3x4x5"},
  {"sub_broadcast", "  %out = gpt.sub %p0, %p1 : tensor<3x5xf32>, tensor<5xf32> -> tensor<3x5xf32>", {"3x5", "5"}, "3x5"},
  {"mul_broadcast", "  %out = gpt.mul %p0, %p1 : tensor<1x5xf32>, tensor<3x1xf32> -> tensor<3x5xf32>", {"1x5", "3x1"}, "3x5"},
  {"div", "  %out = gpt.div %p0, %p1 : tensor<3x5xf32>, tensor<5xf32> -> tensor<3x5xf32>", {"3x5", "5"}, "3x5", 0.5, 2.0},
  {"matmul_batched", "  %out = gpt.matmul %p0, %p1 : tensor<2x3x5xf32>, tensor<5x1xf32> -> tensor<2x3x1xf32>", {"2x3x5", "5x1"}, "2x3x1"},
  {"matmul_both_batched", "  %out = gpt.matmul %p0, %p1 : tensor<2x1x3x4xf32>, tensor<3x4x2xf32> -> tensor<2x3x3x2xf32>", {"2x1x3x4", "3x4x2"}, "2x3x3x2"},
  {"transpose", "  %out = gpt.transpose %p0 {perm = array<i64: 2, 0, 1>} : tensor<3x1x5xf32> -> tensor<5x3x1xf32>", {"3x1x5"}, "5x3x1"},
  {"reshape", "  %out = gpt.reshape %p0 to [5, 3] : tensor<3x5xf32> -> tensor<5x3xf32>", {"3x5"}, "5x3"},
  {"split", "  %out = gpt.split %p0 {axis = 1 : i64, parts = 3 : i64, index = 2 : i64} : tensor<3x9xf32> -> tensor<3x3xf32>", {"3x9"}, "3x3"},
  {"slice_squeeze", "  %out = gpt.slice %p0 [0, -1, 1] [3, 0, 4] {squeeze = array<i64: 1>} : tensor<3x5x4xf32> -> tensor<3x3xf32>", {"3x5x4"}, "3x3"},
  {"sum", "  %out = gpt.sum %p0 {axis = 1 : i64, keepdim = false} : tensor<3x5x2xf32> -> tensor<3x2xf32>", {"3x5x2"}, "3x2"},
  {"mean_keepdim", "  %out = gpt.mean %p0 {axis = 0 : i64, keepdim = true} : tensor<3x5xf32> -> tensor<1x5xf32>", {"3x5"}, "1x5"},
  {"max", "  %out = gpt.max %p0 {axis = 1 : i64, keepdim = false} : tensor<3x7xf32> -> tensor<3xf32>", {"3x7"}, "3"},
  {"var", "  %out = gpt.var %p0 {axis = 1 : i64, keepdim = true} : tensor<2x7xf32> -> tensor<2x1xf32>", {"2x7"}, "2x1"},
  {"softmax", "  %out = gpt.softmax %p0 {axis = 1 : i64} : tensor<3x5xf32>", {"3x5"}, "3x5"},
  {"log_softmax", "  %out = gpt.log_softmax %p0 {axis = 0 : i64} : tensor<3x5xf32>", {"3x5"}, "3x5"},
  {"attention_causal", "  %out, %lse = gpt.attention %p0, %p1, %p2 {causal = true, scale = 0.7 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<2x4x3xf32>, tensor<2x4x3xf32>, tensor<2x4x5xf32> -> tensor<2x4x5xf32>, tensor<2x4xf32>", {"2x4x3", "2x4x3", "2x4x5"}, "2x4x5"},
  // Grouped-query attention: 4 query heads over 2 key/value heads; dk and dv
  // sum over each head's group.
  {"attention_grouped", "  %out, %lse = gpt.attention %p0, %p1, %p2 {causal = true, scale = 0.6 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<1x4x3x2xf32>, tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32> -> tensor<1x4x3x2xf32>, tensor<1x4x3xf32>", {"1x4x3x2", "1x2x3x2", "1x2x3x2"}, "1x4x3x2"},
  {"attention_full", "  %out, %lse = gpt.attention %p0, %p1, %p2 {causal = false, scale = 1.0 : f64, p = 0.0 : f64, id = 0 : i64} : tensor<1x2x3x2xf32>, tensor<1x2x5x2xf32>, tensor<1x2x5x4xf32> -> tensor<1x2x3x4xf32>, tensor<1x2x3xf32>", {"1x2x3x2", "1x2x5x2", "1x2x5x4"}, "1x2x3x4"},
  {"layer_norm", "  %out = gpt.layer_norm %p0, %p1, %p2 {eps = 1.0e-5 : f64} : tensor<2x3x7xf32>, tensor<7xf32>, tensor<7xf32> -> tensor<2x3x7xf32>", {"2x3x7", "7", "7"}, "2x3x7"},
  {"masked_fill", "  %c5 = arith.constant 5 : index\n  %m = gpt.causal_mask %c5 : tensor<5x5xi1>\n  %out = gpt.masked_fill %p0, %m {value = -2.5 : f64} : tensor<2x5x5xf32>, tensor<5x5xi1> -> tensor<2x5x5xf32>", {"2x5x5"}, "2x5x5"},
  // The mask from a comparison: a where it is below 0.2, b (broadcast) else.
  {"where", "  %c = gpt.constant 2.000000e-01 : tensor<f32>\n  %m = gpt.lt %p0, %c : tensor<2x3xf32>, tensor<f32> -> tensor<2x3xi1>\n  %out = gpt.where %m, %p0, %p1 : tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>", {"2x3", "3"}, "2x3"},
  {"concat", "  %out = gpt.concat %p0, %p1 {axis = 1 : i64} : tensor<2x3xf32>, tensor<2x2xf32> -> tensor<2x5xf32>", {"2x3", "2x2"}, "2x5"},
  {"broadcast_like", "  %shape = gpt.full [2, 3] {value = 0.0 : f64} : tensor<2x3xf32>\n  %out = gpt.broadcast_like %p0 to %shape : tensor<3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>", {"3"}, "2x3"},
  // Index 1 picked twice along axis 1: the gradient adds up there.
  {"gather", "  %c1 = gpt.constant 1.0 : tensor<f32>\n  %i1 = gpt.cast %c1 : tensor<f32> -> tensor<i32>\n  %b = gpt.full [2, 2, 1] {value = 0.0 : f64} : tensor<2x2x1xf32>\n  %idx = gpt.cast %b : tensor<2x2x1xf32> -> tensor<2x2x1xi32>\n  %ones = gpt.cast %i1 : tensor<i32> -> tensor<i32>\n  %sel = gpt.lt %idx, %ones : tensor<2x2x1xi32>, tensor<i32> -> tensor<2x2x1xi1>\n  %pick = gpt.cast %sel : tensor<2x2x1xi1> -> tensor<2x2x1xi32>\n  %out = gpt.gather %p0, %pick {axis = 1 : i64} : tensor<2x3x4xf32>, tensor<2x2x1xi32> -> tensor<2x2x4xf32>", {"2x3x4"}, "2x2x4"},
  {"masked_softmax", "  %c5 = arith.constant 5 : index\n  %m = gpt.causal_mask %c5 : tensor<5x5xi1>\n  %f = gpt.masked_fill %p0, %m {value = 0xFFF0000000000000 : f64} : tensor<2x5x5xf32>, tensor<5x5xi1> -> tensor<2x5x5xf32>\n  %out = gpt.softmax %f {axis = 2 : i64} : tensor<2x5x5xf32>", {"2x5x5"}, "2x5x5"},
  {"attention_dropout", "  %out, %lse = gpt.attention %p0, %p1, %p2 {causal = true, scale = 0.5 : f64, p = 0.3 : f64, id = 4 : i64} : tensor<2x5x3xf32>, tensor<2x5x3xf32>, tensor<2x5x3xf32> -> tensor<2x5x3xf32>, tensor<2x5xf32>", {"2x5x3", "2x5x3", "2x5x3"}, "2x5x3", -1.5, 1.5, "", 0, true},
  {"dropout", "  %out = gpt.dropout %p0 {p = 0.3 : f64, id = 2 : i64} : tensor<4x9xf32>", {"4x9"}, "4x9", -1.5, 1.5, "", 0, true},
  {"embedding", "  %out = gpt.embedding %ids, %p0 : tensor<2x3xi32>, tensor<5x4xf32> -> tensor<2x3x4xf32>", {"5x4"}, "2x3x4", -1.5, 1.5, "2x3", 5},
  {"cross_entropy", "  %ce = gpt.cross_entropy %p0, %ids {ignore_index = -100 : i64} : tensor<2x3x7xf32>, tensor<2x3xi32> -> tensor<f32>\n  %out = gpt.reshape %ce to [1] : tensor<f32> -> tensor<1xf32>", {"2x3x7"}, "1", -1.5, 1.5, "2x3", 7},
  {"fan_out", "  %a = gpt.mul %p0, %p0 : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>\n  %out = gpt.add %a, %p0 : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>", {"3"}, "3"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Ops, GradientRule, testing::ValuesIn(kCases),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

// A gradient rule added to the dialect without a case above fails here.
TEST(GradientRule, EveryDifferentiableOpHasACase) {
  for (const ops::OpInfo &op : ops::allOps()) {
    if (!op.has(ops::OpFlag::Differentiable))
      continue;
    std::string spelled = "gpt." + std::string(op.mnemonic) + " ";
    bool found = false;
    for (const GradCase &c : kCases)
      found |= std::string(c.body).find(spelled) != std::string::npos;
    EXPECT_TRUE(found) << "gpt." << op.mnemonic
                       << " has a gradient rule but no GradientTest case";
  }
}

} // namespace
