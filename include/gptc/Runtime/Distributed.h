//===- Distributed.h - The ranks of a data-parallel job ---------*- C++ -*-===//
//
// The processes a launcher (mpirun) started for one training job, on MPI.
// A process started without a launcher is one rank on its own and never
// touches MPI, so the same executable runs as before without mpirun.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_DISTRIBUTED_H
#define GPTC_RUNTIME_DISTRIBUTED_H

#include <cstddef>
#include <string>

namespace gptc {

class Communicator {
public:
  /// This process's job: MPI's world when an MPI launcher started it (its
  /// environment says so), else a single rank. Throws RuntimeError under a
  /// launcher when this build has no MPI.
  static Communicator &world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }
  /// "rank R of N" for messages ("" on a single rank).
  std::string name() const;

  /// Sums `n` values over the ranks in place; every rank gets the same sum.
  void allreduceSum(double *data, size_t n);
  void allreduceSum(float *data, size_t n);

  /// Gives every rank rank 0's `bytes` bytes at `data`.
  void broadcast(void *data, size_t bytes);

  /// Starts summing `n` floats over the ranks in place and returns at once;
  /// waitAll() finishes every sum started. Sums are started in the same
  /// order on every rank.
  void startAllreduceSum(float *data, size_t n);
  /// Lets started sums advance while the caller computes.
  void progress();
  void waitAll();

  /// The communicator's own time in collectives since the last call, in
  /// seconds (the share of a step spent communicating).
  double takeCommSeconds();

  /// Ends every rank of the job with `code` (after an error on this one:
  /// the others may be waiting for it in a collective).
  [[noreturn]] void abort(int code);

  /// Whether this process has joined a job of several ranks.
  static bool joined();

  /// Whether this process is inside a collective (a signal handler must
  /// not wait for the other ranks then).
  static bool inCollective();

  ~Communicator();
  Communicator(const Communicator &) = delete;
  Communicator &operator=(const Communicator &) = delete;

private:
  Communicator();
  int rank_ = 0, size_ = 1;
  bool initialized = false;
  double commSeconds = 0;
};

} // namespace gptc

#endif // GPTC_RUNTIME_DISTRIBUTED_H
