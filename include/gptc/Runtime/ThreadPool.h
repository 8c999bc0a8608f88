//===- ThreadPool.h - The thread pool kernels run their loops on -*- C++
//-*-===//

#ifndef GPTC_RUNTIME_THREADPOOL_H
#define GPTC_RUNTIME_THREADPOOL_H

namespace gptc {

/// Runs every kernel's parallel loop (halide_do_par_for) on OpenMP's pool
/// of `threads` threads (0: all cores).
void useOpenMpThreadPool(int threads);

} // namespace gptc

#endif // GPTC_RUNTIME_THREADPOOL_H
