//===- ThreadPoolTest.cpp - The pool kernels' parallel loops run on -------===//

#include "gptc/Runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace gptc;

namespace {

struct Counts {
  std::vector<std::atomic<int>> hits;
  std::mutex m;
  std::set<std::thread::id> ids;
  explicit Counts(int n) : hits(n) {}
};

int countHit(void *, int i, uint8_t *closure) {
  auto *c = reinterpret_cast<Counts *>(closure);
  c->hits[i].fetch_add(1);
  std::lock_guard<std::mutex> lock(c->m);
  c->ids.insert(std::this_thread::get_id());
  return 0;
}

int failOnSeven(void *, int i, uint8_t *) { return i == 7 ? -3 : 0; }

int nested(void *, int i, uint8_t *closure) {
  // A loop inside a loop runs on this thread, serially.
  auto *c = reinterpret_cast<Counts *>(closure);
  Counts inner(4);
  EXPECT_EQ(
      parallelFor(nullptr, countHit, 0, 4, reinterpret_cast<uint8_t *>(&inner)),
      0);
  EXPECT_EQ(inner.ids.size(), 1u);
  EXPECT_EQ(*inner.ids.begin(), std::this_thread::get_id());
  c->hits[i].fetch_add(1);
  return 0;
}

} // namespace

TEST(ThreadPool, RunsEveryIterationOnce) {
  setThreadPoolSize(3);
  for (int size : {1, 2, 3, 17, 1000}) {
    for (int round = 0; round < 20; ++round) {
      Counts c(size + 5);
      ASSERT_EQ(parallelFor(nullptr, countHit, 5, size,
                            reinterpret_cast<uint8_t *>(&c)),
                0);
      for (int i = 0; i < 5; ++i)
        EXPECT_EQ(c.hits[i].load(), 0);
      for (int i = 5; i < size + 5; ++i)
        ASSERT_EQ(c.hits[i].load(), 1) << "size " << size << " index " << i;
    }
  }
}

TEST(ThreadPool, ReturnsAFailingIterationsStatus) {
  setThreadPoolSize(2);
  EXPECT_EQ(parallelFor(nullptr, failOnSeven, 0, 100, nullptr), -3);
  EXPECT_EQ(parallelFor(nullptr, failOnSeven, 8, 100, nullptr), 0);
}

TEST(ThreadPool, NestedLoopsRunSerially) {
  setThreadPoolSize(2);
  Counts c(50);
  EXPECT_EQ(
      parallelFor(nullptr, nested, 0, 50, reinterpret_cast<uint8_t *>(&c)), 0);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(c.hits[i].load(), 1);
}

// Workers that went to sleep wake for the next loop; callers on several
// threads at once each get all their iterations (one holds the pool, the
// others run serially).
TEST(ThreadPool, SleepingWorkersAndConcurrentCallers) {
  setThreadPoolSize(2);
  Counts warm(64);
  parallelFor(nullptr, countHit, 0, 64, reinterpret_cast<uint8_t *>(&warm));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::vector<std::thread> callers;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        Counts c(200);
        if (parallelFor(nullptr, countHit, 0, 200,
                        reinterpret_cast<uint8_t *>(&c)) != 0)
          ++bad;
        for (auto &h : c.hits)
          if (h.load() != 1)
            ++bad;
      }
    });
  for (auto &t : callers)
    t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ThreadPool, ResizesBetweenLoops) {
  for (int threads : {1, 4, 2}) {
    setThreadPoolSize(threads);
    Counts c(400);
    ASSERT_EQ(
        parallelFor(nullptr, countHit, 0, 400, reinterpret_cast<uint8_t *>(&c)),
        0);
    EXPECT_LE(c.ids.size(), static_cast<size_t>(threads));
    for (auto &h : c.hits)
      EXPECT_EQ(h.load(), 1);
  }
}
