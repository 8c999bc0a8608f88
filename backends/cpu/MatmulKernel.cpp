//===- MatmulKernel.cpp - The matmul kernel family
//-------------------------===//
//
// Algorithm first, schedule second, as in Halide's own apps.
//
// Schedule (per target, V = vector lanes: 16 for AVX-512, 8 for AVX2):
//  1. The output is cut into register tiles of TM rows x TN columns
//     (AVX-512: 8 x 3V = 8 x 48, 24 accumulators of 32 zmm registers;
//     AVX2: 4 x 2V = 4 x 16, 8 of 16 ymm registers: with 12, Halide's code
//     spills, and GPT-2 124M's W1 step took 2.6 s forced to AVX2 on Zen 4
//     against 2.0 s with 4 x 16 or 2 x 32; 10 or 12 accumulators 2.5-3.0 s).
//  2. A panel of b (all K rows x TN columns) is packed contiguously and
//     reused by the row tiles of a task; packing also absorbs trans_b.
//  3. Tasks of (256 rows, one column panel) run in parallel, so products
//     with few columns (N = 64) and many rows still use every core;
//     each task packs its panel once (repacking per 64 rows cost 20% on
//     the LM head).
//     Inside a tile the k loop is innermost with the TN-wide accumulation
//     vectorized and the rows unrolled.
//  4. The accumulators live in registers and rows of a are read in place
//     (measured on AMD EPYC Zen 4, 2 cores, M=256 K=768 N=2304: accumulators
//     spilled to the stack 33% of the FMA peak; packing a's rows per tile
//     58%; this schedule 79%).
//  5. Tails (M not a multiple of TM, N not of TN) are guarded; the packed
//     panels clamp their reads, so tails never read out of bounds.
//  6. Products of at most gemv::kMaxRows rows (decoding) go to Gemv.h
//     instead, which streams the weights once: the kernel's entry checks M.
//
//===----------------------------------------------------------------------===//

#include "MatmulKernel.h"
#include "CxxKernel.h"
#include "FastMath.h"

#include "gptc/Support/Error.h"

#include <cmath>

using namespace Halide;

namespace gptc {

static bool boolParam(const KernelDesc &d, const std::string &key) {
  std::string v = d.param(key, "false");
  if (v != "true" && v != "false")
    throw RuntimeError("kernel '" + d.name + "': '" + key +
                       "' must be true or false, got '" + v + "'");
  return v == "true";
}

MatmulKernel::MatmulKernel(const KernelDesc &d)
    : desc(d), transA(boolParam(d, "trans_a")), transB(boolParam(d, "trans_b")),
      batched(boolParam(d, "batch")), epilogue(d.param("epilogue", "none")) {
  if (batched && epilogue != "none")
    throw RuntimeError("kernel '" + d.name +
                       "': a batched matmul has no epilogue");
  if (epilogue != "none" && epilogue != "bias" && epilogue != "bias_gelu")
    throw RuntimeError("kernel '" + d.name + "': unknown epilogue '" +
                       epilogue + "'; expected none, bias or bias_gelu");
}

void MatmulKernel::compile(const std::string &prefix, const Target &target,
                           const std::string &targetName) {
  // Algorithm. Halide indexes (innermost, outer): a stored [M, K] is a(k, m);
  // a batch of them [Bt, M, K] is a(k, m, bt).
  const int dims = batched ? 3 : 2;
  ImageParam a(Float(32), dims, "a"), b(Float(32), dims, "b");
  ImageParam bias(Float(32), 1, "bias");
  Var n("n"), m("m"), kv("kv"), bt("bt");
  // (x, y) or (x, y, bt): the batch is the outermost dim.
  auto at = [&](Expr x, Expr y) {
    std::vector<Expr> v{x, y};
    if (batched)
      v.push_back(bt);
    return v;
  };
  auto vars = [&](Var x, Var y) {
    std::vector<Var> v{x, y};
    if (batched)
      v.push_back(bt);
    return v;
  };
  Expr M = transA ? a.dim(0).extent() : a.dim(1).extent();
  Expr K = transA ? a.dim(1).extent() : a.dim(0).extent();
  Expr N = transB ? b.dim(1).extent() : b.dim(0).extent();

  Func rowsA("rows_a"), panelB("panel_b");
  Expr mc = clamp(m, 0, M - 1), nc = clamp(n, 0, N - 1);
  rowsA(vars(kv, m)) = transA ? a(at(mc, kv)) : a(at(kv, mc));
  panelB(vars(n, kv)) = transB ? b(at(kv, nc)) : b(at(nc, kv));

  RDom k(0, K, "k");
  Func prod("prod");
  prod(vars(n, m)) = 0.0f;
  prod(vars(n, m)) += rowsA(at(k, m)) * panelB(at(n, k));

  Expr v = prod(at(n, m));
  if (epilogue != "none")
    v += bias(n);
  if (epilogue == "bias_gelu") {
    const float c = static_cast<float>(std::sqrt(2.0 / M_PI));
    v = 0.5f * v * (1.0f + fastTanh(c * (v + 0.044715f * v * v * v)));
  }
  // Products the few-row path (Gemv.h) may take get an entry that picks
  // one by M at run time; this pipeline is then NAME_gemm.
  const bool dispatch = !batched && !transA;
  const std::string pipeline = dispatch ? desc.name + "_gemm" : desc.name;
  Func out(pipeline);
  out(vars(n, m)) = v;

  // Schedule.
  const int V = target.has_feature(Target::AVX512) ? 16 : 8;
  const int TM = V == 16 ? 8 : 4, TN = V == 16 ? 3 * V : 2 * V;
  // Row tiles per task: a task is (block of rows, column panel), so skinny
  // products (few columns, or few rows) still use every core.
  const int kRowTiles = 256 / TM;
  Var no("no"), mo("mo"), ni("ni"), mi("mi"), nv("nv"), nu("nu");
  Var mco("mco"), moi("moi"), tile("tile"), task("task");
  out.tile(n, m, no, mo, ni, mi, TN, TM, TailStrategy::GuardWithIf)
      .split(mo, mco, moi, kRowTiles, TailStrategy::GuardWithIf)
      .reorder(ni, mi, moi, no, mco)
      .fuse(no, mco, tile);
  if (batched)
    out.fuse(tile, bt, task);
  else
    out.rename(tile, task);
  out.split(ni, nu, nv, V).vectorize(nv).unroll(nu).unroll(mi).parallel(task);
  prod.compute_at(out, moi)
      .bound_extent(n, TN)
      .bound_extent(m, TM)
      .store_in(MemoryType::Register)
      .vectorize(n, V)
      .unroll(n)
      .unroll(m);
  prod.update().reorder(n, m, k).vectorize(n, V).unroll(n).unroll(m);
  panelB.compute_at(out, task).vectorize(n, V);
  // rowsA: inline (packing the strip per tile cost more than it saved).

  // Buffers are dense and row-major.
  a.dim(0).set_stride(1);
  b.dim(0).set_stride(1);
  out.output_buffer().dim(0).set_stride(1);

  std::vector<Argument> args = {a, b};
  if (epilogue != "none")
    args.push_back(bias);
  if (!dispatch) {
    out.compile_to({{OutputFileType::object, prefix + ".o"},
                    {OutputFileType::c_header, prefix + ".h"}},
                   args, pipeline, target);
    return;
  }
  out.compile_to({{OutputFileType::object, prefix + ".gemm.o"}}, args, pipeline,
                 target);
  std::string epi = epilogue == "none"   ? "None"
                    : epilogue == "bias" ? "Bias"
                                         : "BiasGelu";
  std::string outArg = epilogue == "none" ? "args[2]" : "args[3]";
  std::string src = "// Generated by gptc-kernelgen: matmul entry.\n"
                    "#include \"Gemv.h\"\n" +
                    cxxKernelPrelude();
  src += "extern \"C\" int " + pipeline + "_argv(void **args);\n";
  src += "extern \"C\" int " + desc.name + "_argv(void **args) {\n";
  src += "  int64_t m = extent(args[0], 1);\n";
  src += "  if (m > gptc::gemv::kMaxRows)\n";
  src += "    return " + pipeline + "_argv(args);\n";
  src += "  gptc::gemv::Problem p{m, extent(args[0], 0), extent(args[1], " +
         std::string(transB ? "1" : "0") + "), " + (transB ? "true" : "false") +
         ", gptc::gemv::Epilogue::" + epi + "};\n";
  src += "  gptc::gemv::run(p, data(args[0]), data(args[1]), " +
         std::string(epilogue == "none" ? "nullptr" : "data(args[2])") +
         ", data(" + outArg + "), parallelFor);\n";
  src += "  return 0;\n}\n";
  // The typed entry Halide would have made, for callers with buffers.
  std::string params =
      "halide_buffer_t *a, halide_buffer_t *b, " +
      std::string(epilogue == "none" ? "" : "halide_buffer_t *bias, ") +
      "halide_buffer_t *out";
  std::string signature = "extern \"C\" int " + desc.name + "(" + params + ")";
  src += signature + " {\n  void *args[] = {a, b, " +
         (epilogue == "none" ? "" : "bias, ") + "out};\n  return " + desc.name +
         "_argv(args);\n}\n";
  compileCxxKernel(desc.name, src, prefix, targetName, {prefix + ".gemm.o"},
                   "struct halide_buffer_t;\n" + signature + ";\n");
}

} // namespace gptc
