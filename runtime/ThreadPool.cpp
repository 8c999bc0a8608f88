//===- ThreadPool.cpp - The pool every kernel's parallel loop runs on -----===//
//
// Halide's own pool puts an idle worker to sleep after a few dozen yields,
// and waking it costs tens of microseconds on a virtual machine. Decoding
// runs about 50 parallel products of a few hundred microseconds per token
// with short serial kernels between them, so it paid that wake-up on each.
// OpenMP's pool (libgomp) spins for milliseconds instead, which took 4x off
// decode when another process shared the cores. This pool spins for kSpin,
// longer than the serial gaps of a decode step, then sleeps.
//
// A loop:
// 1. The caller takes the pool (a loop from inside a loop, or while another
//    thread's loop holds it, runs serially), publishes the task, opens the
//    loop (an odd epoch) and wakes sleeping workers.
// 2. The caller and the workers claim iterations one at a time (they differ
//    in cost: a matmul's edge panels, causal attention's rows) until none
//    is left; after a failure the rest are skipped.
// 3. Once every iteration has finished, the caller closes the loop (an even
//    epoch) and waits until no worker still holds it, so the next loop can
//    reuse the task's fields.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace gptc {

namespace {

/// How long an idle worker spins before it sleeps.
constexpr std::chrono::microseconds kSpin(100);

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// Spins until done() holds or kSpin has passed; returns done().
template <typename Done> bool spinFor(Done done) {
  auto start = std::chrono::steady_clock::now();
  for (unsigned n = 1;; ++n) {
    if (done())
      return true;
    cpuRelax();
    if (n % 64 == 0 && std::chrono::steady_clock::now() - start > kSpin)
      return done();
  }
}

/// Waits until done() holds: spins for kSpin, then yields the core between
/// checks, so on a shared machine the waiter does not hold the core the
/// thread it waits for needs.
template <typename Done> void waitUntil(Done done) {
  if (!spinFor(done))
    while (!done())
      std::this_thread::yield();
}

/// Set on the pool's workers, and on a caller while it runs its loop's
/// iterations: a loop started there runs serially.
thread_local bool insideLoop = false;

int runSerially(void *userContext, ParallelTask task, int min, int size,
                uint8_t *closure) {
  for (int i = min; i < min + size; ++i)
    if (int rc = task(userContext, i, closure))
      return rc;
  return 0;
}

class Pool {
public:
  void resize(int threads) { wanted.store(threads); }

  int run(void *userContext, ParallelTask task, int min, int size,
          uint8_t *closure) {
    if (size <= 1 || insideLoop)
      return runSerially(userContext, task, min, size, closure);
    std::unique_lock<std::mutex> held(dispatch, std::try_to_lock);
    if (!held)
      return runSerially(userContext, task, min, size, closure);
    matchWanted();
    if (workers.empty())
      return runSerially(userContext, task, min, size, closure);

    // 1. Publish and open.
    this->userContext = userContext;
    this->task = task;
    this->closure = closure;
    this->min = min;
    this->size = size;
    next.store(0, std::memory_order_relaxed);
    left.store(size, std::memory_order_relaxed);
    status.store(0, std::memory_order_relaxed);
    uint64_t open = epoch.load(std::memory_order_relaxed) + 1;
    epoch.store(open);
    if (sleepers.load() > 0) {
      { std::lock_guard<std::mutex> lock(sleepMutex); }
      wake.notify_all();
    }

    // 2. Work alongside the workers.
    insideLoop = true;
    runIterations();
    insideLoop = false;
    waitUntil([&] { return left.load(std::memory_order_acquire) == 0; });

    // 3. Close, and let stragglers leave before the fields change.
    epoch.store(open + 1);
    waitUntil([&] { return busy.load() == 0; });
    return status.load(std::memory_order_relaxed);
  }

private:
  /// Starts or stops workers so that `wanted` threads run loops. Called
  /// with `dispatch` held, so no loop is open.
  void matchWanted() {
    int threads = wanted.load();
    if (threads <= 0)
      threads = std::max(1u, std::thread::hardware_concurrency());
    if (static_cast<int>(workers.size()) == threads - 1)
      return;
    quit.store(true);
    {
      std::lock_guard<std::mutex> lock(sleepMutex);
      wake.notify_all();
    }
    for (std::thread &w : workers)
      w.join();
    workers.clear();
    quit.store(false);
    for (int i = 1; i < threads; ++i)
      workers.emplace_back([this] { workerMain(); });
  }

  void workerMain() {
    insideLoop = true;
    uint64_t seen = epoch.load();
    for (;;) {
      auto changed = [&] { return epoch.load() != seen || quit.load(); };
      if (!spinFor(changed)) {
        std::unique_lock<std::mutex> lock(sleepMutex);
        sleepers.fetch_add(1);
        wake.wait(lock, changed);
        sleepers.fetch_sub(1);
      }
      if (quit.load())
        return;
      seen = epoch.load();
      if (seen % 2 == 0)
        continue; // closed before this worker arrived
      busy.fetch_add(1);
      if (epoch.load() == seen)
        runIterations();
      busy.fetch_sub(1);
    }
  }

  void runIterations() {
    for (;;) {
      int i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= size)
        return;
      if (status.load(std::memory_order_relaxed) == 0) {
        if (int rc = task(userContext, min + i, closure)) {
          int none = 0;
          status.compare_exchange_strong(none, rc);
        }
      }
      left.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::mutex dispatch;
  std::atomic<int> wanted{0};
  std::vector<std::thread> workers;

  // The loop, valid while the epoch is odd and until `busy` drops to 0.
  void *userContext = nullptr;
  ParallelTask task = nullptr;
  uint8_t *closure = nullptr;
  int min = 0, size = 0;
  std::atomic<int> next{0}, left{0}, status{0};

  std::atomic<uint64_t> epoch{0};
  std::atomic<int> busy{0};
  std::atomic<bool> quit{false};
  std::mutex sleepMutex;
  std::condition_variable wake;
  std::atomic<int> sleepers{0};
};

/// Never destroyed: workers may still be asleep in it when the process
/// exits.
Pool &pool() {
  static Pool *p = new Pool;
  return *p;
}

} // namespace

void setThreadPoolSize(int threads) { pool().resize(threads); }

int parallelFor(void *userContext, ParallelTask task, int min, int size,
                uint8_t *closure) {
  return pool().run(userContext, task, min, size, closure);
}

} // namespace gptc
