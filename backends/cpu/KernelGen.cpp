//===- KernelGen.cpp - gptc-kernelgen: Halide kernels from descriptions ---===//
//
// A separate executable because libHalide (LLVM 14) and libMLIR (LLVM 22)
// must not share a process (docs/TOOLCHAIN.md). It reads one kernel
// description (KernelDesc.h), builds the Halide algorithm and the schedule
// for the target, and writes an object compiled with `no_runtime` plus its C
// header; `--runtime` writes the one standalone Halide runtime the
// executable links instead.
//
//   gptc-kernelgen --target=cpu-avx512 -o out/mm_qkv mm_qkv.kernel
//   gptc-kernelgen --target=cpu-avx512 --runtime -o out/halide_runtime
//
//===----------------------------------------------------------------------===//

#include "AttentionKernel.h"
#include "CudaKernel.h"
#include "FusedKernel.h"
#include "MatmulKernel.h"

#include "gptc/Backends/KernelDesc.h"
#include "gptc/Support/Error.h"

#include "Halide.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

using namespace gptc;

namespace {

const char *kUsage = R"(usage: gptc-kernelgen [--target=T] -o PREFIX DESC.kernel
       gptc-kernelgen [--target=T] --runtime -o PREFIX
       gptc-kernelgen --version

Writes PREFIX.o and PREFIX.h: the kernel of DESC (compiled without a Halide
runtime), or with --runtime the standalone Halide runtime.
targets: host (default: this machine's features), cpu-avx2, cpu-avx512,
  cuda (PTX for sm_80 in the object and in PREFIX.ptx; attention with nvcc)
)";

/// Maps gptc's target names to Halide targets.
Halide::Target halideTarget(const std::string &name) {
  Halide::Target t;
  if (name == "host" || name == "cpu") {
    t = Halide::get_host_target();
  } else if (name == "cpu-avx2") {
    t = Halide::Target("x86-64-linux-sse41-avx-f16c-fma-avx2");
  } else if (name == "cpu-avx512") {
    t = Halide::Target(
        "x86-64-linux-sse41-avx-f16c-fma-avx2-avx512-avx512_skylake");
  } else if (name == "cuda") {
    // Host code for any x86-64 with AVX2; PTX for sm_80, which the driver
    // also compiles for sm_90.
    t = Halide::Target("x86-64-linux-sse41-avx-f16c-fma-avx2-cuda-"
                       "cuda_capability_80");
  } else {
    throw RuntimeError("unknown target '" + name +
                       "'; expected host, cpu-avx2, cpu-avx512 or cuda");
  }
  return t;
}

/// The PTX module Halide embeds in a CUDA kernel's object, written to
/// `prefix.ptx` for ptxas and `gptc emit --stage=ptx`.
void extractPtx(const std::string &prefix) {
  std::ifstream in(prefix + ".o", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  size_t version = bytes.find(".version ");
  if (version == std::string::npos)
    throw RuntimeError(prefix + ".o holds no PTX module");
  size_t start = bytes.rfind('\0', version);
  start = start == std::string::npos ? 0 : start + 1;
  size_t end = bytes.find('\0', version);
  std::ofstream out(prefix + ".ptx", std::ios::binary);
  out << bytes.substr(start, end - start);
  if (!out)
    throw RuntimeError("cannot write " + prefix + ".ptx");
}

} // namespace

int main(int argc, char **argv) {
  std::string target = "host", output, descPath;
  bool runtime = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--target=", 0) == 0) {
      target = a.substr(9);
    } else if (a == "--runtime") {
      runtime = true;
    } else if (a == "-o" && i + 1 < argc) {
      output = argv[++i];
    } else if (a == "--version") {
      // The kernel cache keys on this line.
      std::cout << "gptc-kernelgen " << kKernelGenVersion << " ("
                << GPTC_KERNELGEN_SOURCE_HASH << ") halide "
                << GPTC_HALIDE_VERSION << "\n";
      return 0;
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (!a.empty() && a[0] != '-' && descPath.empty()) {
      descPath = a;
    } else {
      std::cerr << "gptc-kernelgen: error: unexpected argument '" << a << "'\n"
                << kUsage;
      return 2;
    }
  }
  if (output.empty() || (!runtime && descPath.empty())) {
    std::cerr << kUsage;
    return 2;
  }
  try {
    Halide::Target t = halideTarget(target);
    if (runtime) {
      Halide::compile_standalone_runtime(output + ".o", t);
      return 0;
    }
    std::ifstream in(descPath);
    if (!in)
      throw RuntimeError("cannot open '" + descPath + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    KernelDesc desc = KernelDesc::parse(ss.str(), descPath);
    t = t.with_feature(Halide::Target::NoRuntime);
    if (t.has_gpu_feature()) {
      // The CUDA backend: the fused family through Halide, attention and
      // the KV cache as CUDA C++; matmuls call cuBLASLt at run time.
      if (isCudaKernelFamily(desc.family)) {
        compileCudaKernel(desc, output);
        return 0;
      }
      if (desc.family == "matmul") {
        compileCudaMatmulEntry(desc, output);
        return 0;
      }
      if (desc.family != "fused")
        throw RuntimeError(descPath + ": unknown kernel family '" +
                           desc.family + "' for CUDA");
      compileFusedKernel(desc, output, t);
      extractPtx(output);
      return 0;
    }
    if (desc.family == "matmul") {
      compileMatmulKernel(desc, output, target);
    } else if (desc.family == "fused") {
      // The executor passes every buffer at the shape the plan gives it
      // and never asks for bounds, so Halide's checks of both only cost
      // compile time: without them fused kernels compile 25-30% faster.
      compileFusedKernel(desc, output,
                         t.with_feature(Halide::Target::NoAsserts)
                             .with_feature(Halide::Target::NoBoundsQuery));
    } else if (desc.family == "attention" || desc.family == "attention_grad" ||
               desc.family == "cache_write" ||
               desc.family == "cached_attention") {
      compileAttentionKernel(desc, output, target);
    } else {
      throw RuntimeError(descPath + ": unknown kernel family '" + desc.family +
                         "'; expected matmul, fused, attention, "
                         "attention_grad, cache_write or cached_attention");
    }
    return 0;
  } catch (const RuntimeError &e) {
    std::cerr << "gptc-kernelgen: error: " << e.what() << "\n";
    return 1;
  } catch (const Halide::Error &e) {
    std::cerr << "gptc-kernelgen: Halide error: " << e.what() << "\n";
    return 1;
  }
}
