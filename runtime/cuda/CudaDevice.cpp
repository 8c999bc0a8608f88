//===- CudaDevice.cpp - Running a plan on an NVIDIA GPU
//--------------------===//
//
// The CUDA side of the executor, linked only into `--target=cuda`
// executables:
//  - CudaDevice: device memory through the CUDA runtime; buffers handed to
//    kernels through halide_buffer_t's device field. Halide's CUDA runtime
//    is told to use the runtime API's primary context (and its default
//    stream), so Halide kernels, nvcc-compiled kernels and cuBLASLt share
//    one context and run in launch order.
//  - One GPU per rank: under an MPI launcher a rank takes the GPU of its
//    local rank (modulo the GPUs), and sums gradient buffers over the
//    ranks with NCCL (a communicator bootstrapped over MPI), queued on the
//    default stream after the kernels that write them.
//  - gptc_cuda_matmul: the matmul family's kernels (cuBLASLt, TF32 tensor
//    cores with fp32 accumulation, bias and GELU as epilogues).
// Every CUDA error becomes a RuntimeError (or a halide_error message and a
// non-zero return inside a kernel), never an abort.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Device.h"
#include "gptc/Support/Error.h"

#include "HalideRuntime.h"
#include "HalideRuntimeCuda.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdlib>

#include <string>

namespace gptc {

namespace {

void check(cudaError_t e, const std::string &what) {
  if (e != cudaSuccess)
    throw RuntimeError("CUDA error in " + what + ": " + cudaGetErrorString(e));
}

/// The runtime API's primary context, which Halide's kernels also use.
void *primaryContext = nullptr;

int acquireContext(void *, void **ctx, bool) {
  *ctx = primaryContext;
  return 0;
}

int releaseContext(void *) { return 0; }

void checkNccl(ncclResult_t r, const std::string &what) {
  if (r != ncclSuccess)
    throw RuntimeError("NCCL error in " + what + ": " + ncclGetErrorString(r));
}

/// This process's index among the ranks on its machine (0 without a
/// launcher): which GPU it takes.
int localRank() {
  for (const char *v : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                        "SLURM_LOCALID", "LOCAL_RANK"})
    if (const char *s = std::getenv(v))
      return std::atoi(s);
  return 0;
}

class CudaDevice : public Device {
public:
  CudaDevice() {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
      throw RuntimeError(
          std::string("this executable runs on an NVIDIA GPU, and none is "
                      "usable here (") +
          (e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device") +
          "); build with --target=cpu to run on this machine");
    gpu = localRank() % count;
    check(cudaSetDevice(gpu), "cudaSetDevice");
    check(cudaFree(nullptr), "initializing the device");
    using GetCurrent = int (*)(void **);
    void *fn = nullptr;
    cudaDriverEntryPointQueryResult found;
    check(cudaGetDriverEntryPointByVersion("cuCtxGetCurrent", &fn, 12000,
                                           cudaEnableDefault, &found),
          "finding cuCtxGetCurrent");
    if (!fn || found != cudaDriverEntryPointSuccess ||
        reinterpret_cast<GetCurrent>(fn)(&primaryContext) != 0 ||
        !primaryContext)
      throw RuntimeError("the CUDA driver gave no current context");
    halide_set_cuda_acquire_context(acquireContext);
    halide_set_cuda_release_context(releaseContext);
  }

  std::string name() const override { return "cuda"; }

  void *allocate(int64_t bytes, const std::string &what) override {
    void *p = nullptr;
    cudaError_t e = cudaMalloc(&p, static_cast<size_t>(bytes));
    if (e != cudaSuccess)
      throw RuntimeError("out of GPU memory: " + what + " needs " +
                         std::to_string(bytes >> 20) + " MiB (" +
                         cudaGetErrorString(e) + ")");
    return p;
  }
  void release(void *p) override { cudaFree(p); }
  void upload(void *dst, const void *src, int64_t bytes) override {
    check(cudaMemcpy(dst, src, static_cast<size_t>(bytes),
                     cudaMemcpyHostToDevice),
          "a copy to the GPU");
  }
  void download(void *dst, const void *src, int64_t bytes) override {
    check(cudaMemcpy(dst, src, static_cast<size_t>(bytes),
                     cudaMemcpyDeviceToHost),
          "a copy from the GPU");
  }
  void copy(void *dst, const void *src, int64_t bytes) override {
    check(cudaMemcpy(dst, src, static_cast<size_t>(bytes),
                     cudaMemcpyDeviceToDevice),
          "a copy on the GPU");
  }
  void bind(halide_buffer_t &b, void *p) override {
    b.host = nullptr;
    if (halide_cuda_wrap_device_ptr(nullptr, &b,
                                    reinterpret_cast<uint64_t>(p)) != 0)
      throw RuntimeError("Halide's CUDA runtime refused a device buffer");
  }
  void unbind(halide_buffer_t &b) override {
    halide_cuda_detach_device_ptr(nullptr, &b);
  }
  void synchronize() override { check(cudaDeviceSynchronize(), "a kernel"); }

  bool
  joinRanks(int rank, int size,
            const std::function<void(void *, size_t)> &broadcast) override {
    ncclUniqueId id{};
    if (rank == 0)
      checkNccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    broadcast(&id, sizeof id);
    checkNccl(ncclCommInitRank(&comm, size, id, rank),
              "joining rank " + std::to_string(rank) + " of " +
                  std::to_string(size) + " on GPU " + std::to_string(gpu));
    return true;
  }

  void allreduceScaled(float *dst, const float *src, int64_t count,
                       float scale) override {
    if (!comm)
      throw RuntimeError("a sum over the ranks before joining them");
    // The scale multiplies each rank's input before the sum (NCCL 2.11+).
    ncclRedOp_t op;
    checkNccl(ncclRedOpCreatePreMulSum(&op, &scale, ncclFloat,
                                       ncclScalarHostImmediate, comm),
              "ncclRedOpCreatePreMulSum");
    ncclResult_t r = ncclAllReduce(src, dst, static_cast<size_t>(count),
                                   ncclFloat, op, comm, nullptr);
    ncclRedOpDestroy(op, comm);
    checkNccl(r, "ncclAllReduce");
  }

  ~CudaDevice() override {
    if (comm)
      ncclCommDestroy(comm);
  }

private:
  int gpu = 0;
  ncclComm_t comm = nullptr;
};

/// cuBLASLt's handle and workspace, made on first use.
struct Lt {
  cublasLtHandle_t handle = nullptr;
  void *workspace = nullptr;
  size_t workspaceBytes = 32 << 20;
};

Lt &lt() {
  static Lt l;
  if (!l.handle) {
    if (cublasLtCreate(&l.handle) != CUBLAS_STATUS_SUCCESS)
      throw RuntimeError("cuBLASLt could not start");
    check(cudaMalloc(&l.workspace, l.workspaceBytes), "cuBLASLt's workspace");
  }
  return l;
}

float *devicePtr(void *b) {
  return reinterpret_cast<float *>(static_cast<halide_buffer_t *>(b)->device);
}
int64_t extent(void *b, int d) {
  return static_cast<halide_buffer_t *>(b)->dim[d].extent;
}

} // namespace

} // namespace gptc

using namespace gptc;

extern "C" Device *gptc_make_cuda_device() { return new CudaDevice(); }

/// out = opA(a) opB(b) (+ bias, then GELU), row-major, as the matmul
/// family defines it (MatmulKernel.h); args are a, b, [bias], out.
/// cuBLASLt is column-major: a row-major [r, c] matrix is a column-major
/// [c, r] one, so it computes out^T = opB(b)^T opA(a)^T.
extern "C" int gptc_cuda_matmul(void **args, int transA, int transB,
                                int epilogue, int batched) {
  void *a = args[0], *b = args[1];
  void *bias = epilogue ? args[2] : nullptr;
  void *out = args[epilogue ? 3 : 2];
  // Halide dims: 0 innermost. a is [M, K] (or [K, M]), b [K, N] (or
  // [N, K]), out [M, N]; batched ones have dim 2.
  int64_t M = extent(out, 1), N = extent(out, 0);
  int64_t K = transA ? extent(a, 1) : extent(a, 0);
  int64_t batch = batched ? extent(out, 2) : 1;
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
  auto ok = [&](cublasStatus_t s) {
    if (st == CUBLAS_STATUS_SUCCESS)
      st = s;
  };
  try {
    Lt &l = lt();
    ok(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F_FAST_TF32, CUDA_R_32F));
    cublasOperation_t opB = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opA = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    // cuBLASLt's A is our b, its B our a.
    ok(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &opB,
                                      sizeof opB));
    ok(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &opA,
                                      sizeof opA));
    if (epilogue) {
      cublasLtEpilogue_t e =
          epilogue == 2 ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
      const float *biasPtr = devicePtr(bias);
      ok(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e,
                                        sizeof e));
      ok(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                        &biasPtr, sizeof biasPtr));
    }
    // Column-major shapes (rows, cols, leading dim) of the stored data.
    ok(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, transB ? K : N,
                                  transB ? N : K, transB ? K : N));
    ok(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, transA ? M : K,
                                  transA ? K : M, transA ? M : K));
    ok(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, N, M, N));
    if (batched) {
      int32_t count = static_cast<int32_t>(batch);
      int64_t strides[3] = {K * N, M * K, M * N};
      cublasLtMatrixLayout_t layouts[3] = {la, lb, lc};
      for (int i = 0; i < 3; ++i) {
        ok(cublasLtMatrixLayoutSetAttribute(layouts[i],
                                            CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                            &count, sizeof count));
        ok(cublasLtMatrixLayoutSetAttribute(
            layouts[i], CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
            &strides[i], sizeof strides[i]));
      }
    }
    const float one = 1.0f, zero = 0.0f;
    if (st == CUBLAS_STATUS_SUCCESS)
      st = cublasLtMatmul(l.handle, op, &one, devicePtr(b), la, devicePtr(a),
                          lb, &zero, devicePtr(out), lc, devicePtr(out), lc,
                          nullptr, l.workspace, l.workspaceBytes, nullptr);
  } catch (const RuntimeError &e) {
    halide_error(nullptr, e.what());
    return -1;
  }
  if (lc)
    cublasLtMatrixLayoutDestroy(lc);
  if (lb)
    cublasLtMatrixLayoutDestroy(lb);
  if (la)
    cublasLtMatrixLayoutDestroy(la);
  if (op)
    cublasLtMatmulDescDestroy(op);
  if (st != CUBLAS_STATUS_SUCCESS) {
    std::string m = "cuBLASLt matmul (" + std::to_string(M) + "x" +
                    std::to_string(K) + " by " + std::to_string(K) + "x" +
                    std::to_string(N) + "): " + cublasLtGetStatusString(st);
    halide_error(nullptr, m.c_str());
    return -1;
  }
  return 0;
}
