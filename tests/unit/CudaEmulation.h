//===- CudaEmulation.h - CUDA C++ kernels run on the CPU, for tests -------===//
//
// Enough of CUDA's execution model to run backends/cuda's kernels on a
// machine without a GPU and check their arithmetic and indexing against
// the references: blocks run one after another, each with one std::thread
// per CUDA thread; __syncthreads is a barrier among them; __shared__ arrays
// are statics, which one block at a time makes the block's shared memory.
// What it cannot show: races between blocks, timing, device limits.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_TESTS_CUDAEMULATION_H
#define GPTC_TESTS_CUDAEMULATION_H

#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __shared__ static

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1) : x(x), y(y), z(z) {}
};

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }

namespace cuda_emulation {

/// A reusable barrier for the threads of one block.
struct Barrier {
  std::mutex m;
  std::condition_variable cv;
  unsigned count = 0, waiting = 0, generation = 0;
  void wait() {
    std::unique_lock<std::mutex> lock(m);
    unsigned gen = generation;
    if (++waiting == count) {
      waiting = 0;
      ++generation;
      cv.notify_all();
    } else {
      cv.wait(lock, [&] { return gen != generation; });
    }
  }
};

inline Barrier barrier;

/// kernel<<<grid, block>>>(args...), synchronously.
template <typename... P, typename... A>
void launch(dim3 grid, dim3 block, void (*kernel)(P...), A &&...args) {
  gridDim = grid;
  blockDim = block;
  barrier.count = block.x;
  for (unsigned by = 0; by < grid.y; ++by)
    for (unsigned bx = 0; bx < grid.x; ++bx) {
      std::vector<std::thread> threads;
      for (unsigned t = 0; t < block.x; ++t)
        threads.emplace_back([&, t, bx, by] {
          threadIdx = dim3(t);
          blockIdx = dim3(bx, by);
          kernel(args...);
        });
      for (std::thread &th : threads)
        th.join();
    }
}

} // namespace cuda_emulation

inline void __syncthreads() { cuda_emulation::barrier.wait(); }

#endif // GPTC_TESTS_CUDAEMULATION_H
