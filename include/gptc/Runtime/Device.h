//===- Device.h - Where a compiled model's buffers live ---------*- C++ -*-===//
//
// The executor places a plan's buffers in host memory (CPU kernels) or in
// a GPU's (CUDA kernels). A Device is that choice: allocation, copies and
// how a buffer is handed to a kernel (halide_buffer_t's host or device
// field). The host device is built in; the CUDA one lives in the CUDA
// runtime library (runtime/cuda), linked only into CUDA executables, which
// define gptc_make_cuda_device.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_DEVICE_H
#define GPTC_RUNTIME_DEVICE_H

#include <cstdint>
#include <functional>
#include <string>

struct halide_buffer_t;

namespace gptc {

class Device {
public:
  virtual ~Device() = default;
  /// "cpu" or "cuda", for messages.
  virtual std::string name() const = 0;
  /// Memory kernels can read and write; throws RuntimeError when out of
  /// memory, naming `what`.
  virtual void *allocate(int64_t bytes, const std::string &what) = 0;
  virtual void release(void *p) = 0;
  virtual void upload(void *dst, const void *src, int64_t bytes) = 0;
  virtual void download(void *dst, const void *src, int64_t bytes) = 0;
  /// Device to device.
  virtual void copy(void *dst, const void *src, int64_t bytes) = 0;
  /// Points `b` at `p` for a kernel call; unbind undoes it after the call.
  virtual void bind(halide_buffer_t &b, void *p) = 0;
  virtual void unbind(halide_buffer_t &b) = 0;
  /// Waits for the kernels launched so far; throws on a device error.
  virtual void synchronize() = 0;

  /// Joins rank `rank` of `size` for sums of device buffers (NCCL on GPUs);
  /// `broadcast` gives every rank rank 0's bytes (over MPI). Returns false
  /// when this device sums nothing itself (the caller sums on the host).
  virtual bool joinRanks(int rank, int size,
                         const std::function<void(void *, size_t)> &broadcast) {
    (void)rank, (void)size, (void)broadcast;
    return false;
  }
  /// After joinRanks: dst = the sum over the ranks of scale * src, for
  /// `count` floats in device memory, queued after the kernels launched so
  /// far; synchronize() waits for it.
  virtual void allreduceScaled(float *dst, const float *src, int64_t count,
                               float scale) {
    (void)dst, (void)src, (void)count, (void)scale;
  }
};

} // namespace gptc

/// Defined by the CUDA runtime library: the first GPU as a Device, or a
/// RuntimeError saying why there is none.
extern "C" gptc::Device *gptc_make_cuda_device() __attribute__((weak));

#endif // GPTC_RUNTIME_DEVICE_H
