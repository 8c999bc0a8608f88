//===- ThreadPool.cpp - Kernels' parallel loops on OpenMP's thread pool ---===//
//
// Every kernel (Halide's and the C++ ones) runs its parallel loop through
// halide_do_par_for. Halide's own pool puts idle workers to sleep after a
// few dozen yields, and waking one costs tens of microseconds on a virtual
// machine: decoding runs about 50 parallel products of 0.3 ms per token
// with serial kernels between them, and a passive OpenMP pool streamed the
// weights at 20-22 GB/s where an active one reached 25-30. OpenMP's pool
// (libgomp) lets idle workers spin a while before sleeping, so the next
// loop starts on every thread at once.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/ThreadPool.h"

#include "HalideRuntime.h"

#include <atomic>
#include <omp.h>

namespace gptc {

namespace {

/// halide_do_par_for on OpenMP: tasks handed out one at a time (tasks
/// differ in cost: a matmul's edge panels, causal attention's rows); the
/// first failing task's status is returned.
int ompParFor(void *userContext, halide_task_t task, int min, int size,
              uint8_t *closure) {
  if (size <= 0)
    return 0;
  if (size == 1 || omp_in_parallel()) {
    for (int i = 0; i < size; ++i)
      if (int rc = task(userContext, min + i, closure))
        return rc;
    return 0;
  }
  std::atomic<int> status{0};
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < size; ++i)
    if (status.load(std::memory_order_relaxed) == 0)
      if (int rc = task(userContext, min + i, closure))
        status.store(rc, std::memory_order_relaxed);
  return status.load();
}

} // namespace

void useOpenMpThreadPool(int threads) {
  if (threads > 0)
    omp_set_num_threads(threads);
  halide_set_custom_do_par_for(ompParFor);
}

} // namespace gptc
