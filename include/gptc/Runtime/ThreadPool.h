//===- ThreadPool.h - The pool every kernel's parallel loop runs on -*- C++
//-*-===//
//
// Every kernel, Halide's and the C++ ones, runs its parallel loop through
// halide_do_par_for; the executor points that at this pool. Its workers
// spin a bounded while after a loop before they sleep, so the next loop
// of a decode step (tens of microseconds later) starts on every thread at
// once, while a machine shared with other work loses at most that while.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_THREADPOOL_H
#define GPTC_RUNTIME_THREADPOOL_H

#include <cstdint>

namespace gptc {

/// A parallel loop's body, as halide_task_t: runs iteration `index` and
/// returns 0 or an error status.
using ParallelTask = int (*)(void *userContext, int index, uint8_t *closure);

/// Sets how many threads run parallel loops, the caller included (0: all
/// cores). Takes effect at the next loop no other loop is running.
void setThreadPoolSize(int threads);

/// Runs task(userContext, i, closure) for i in [min, min + size) on the
/// pool and returns 0, or the status of a failing iteration (the others
/// still run to completion or skip once one has failed). Loops started
/// from inside a loop, or while another thread's loop holds the pool, run
/// serially on the calling thread. Its signature is halide_do_par_for's.
int parallelFor(void *userContext, ParallelTask task, int min, int size,
                uint8_t *closure);

} // namespace gptc

#endif // GPTC_RUNTIME_THREADPOOL_H
