//===- Distributed.cpp - The ranks of a data-parallel job -----------------===//
//
// MPI is initialized only when a launcher's environment names this process
// a rank (Open MPI's OMPI_COMM_WORLD_SIZE, PMIx's PMIX_RANK, MPICH's
// PMI_SIZE): a plain start never loads the transport. Sums use
// MPI_Allreduce, whose result is the same on every rank and, for the same
// ranks and sizes, the same from run to run.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Distributed.h"
#include "gptc/Support/Error.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <vector>

#if GPTC_HAVE_MPI
// The C API only: Open MPI's and MPICH's C++ bindings need their own
// library.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace gptc {

namespace {

std::atomic<bool> collective{false};
bool joinedJob = false;

/// Marks a collective for the signal handler and times it.
class InCollective {
public:
  explicit InCollective(double &total)
      : total(total), start(std::chrono::steady_clock::now()) {
    collective = true;
  }
  ~InCollective() {
    collective = false;
    total +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  }

private:
  double &total;
  std::chrono::steady_clock::time_point start;
};

bool launchedByMpi() {
  for (const char *v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(v))
      return true;
  return false;
}

#if GPTC_HAVE_MPI
std::vector<MPI_Request> pending;

void check(int rc, const char *what) {
  if (rc == MPI_SUCCESS)
    return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw RuntimeError(std::string(what) + " failed: " + std::string(text, len));
}

/// An in-place MPI_Allreduce sum of `n` values of `type`.
void sumInPlace(void *data, size_t n, MPI_Datatype type) {
  check(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), type, MPI_SUM,
                      MPI_COMM_WORLD),
        "MPI_Allreduce");
}
#endif

} // namespace

Communicator &Communicator::world() {
  static Communicator c;
  return c;
}

Communicator::Communicator() {
  if (!launchedByMpi())
    return;
#if GPTC_HAVE_MPI
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided),
        "MPI_Init_thread");
  initialized = true;
  // Errors come back as codes and become RuntimeErrors with MPI's text.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  joinedJob = size_ > 1;
#else
  const char *n = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!n)
    n = std::getenv("PMI_SIZE");
  if (n && std::atoi(n) > 1)
    throw RuntimeError("started by an MPI launcher with " + std::string(n) +
                       " ranks, but this gptc was built without MPI "
                       "(install libopenmpi-dev and rebuild gptc)");
#endif
}

Communicator::~Communicator() {
#if GPTC_HAVE_MPI
  if (initialized)
    MPI_Finalize();
#endif
}

std::string Communicator::name() const {
  if (!distributed())
    return "";
  return "rank " + std::to_string(rank_) + " of " + std::to_string(size_);
}

void Communicator::allreduceSum(double *data, size_t n) {
  if (!distributed() || n == 0)
    return;
#if GPTC_HAVE_MPI
  InCollective in(commSeconds);
  sumInPlace(data, n, MPI_DOUBLE);
#endif
}

void Communicator::allreduceSum(float *data, size_t n) {
  if (!distributed() || n == 0)
    return;
#if GPTC_HAVE_MPI
  InCollective in(commSeconds);
  sumInPlace(data, n, MPI_FLOAT);
#endif
}

void Communicator::broadcast(void *data, size_t bytes) {
  if (!distributed() || bytes == 0)
    return;
#if GPTC_HAVE_MPI
  InCollective in(commSeconds);
  check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, 0, MPI_COMM_WORLD),
        "MPI_Bcast");
#endif
}

void Communicator::startAllreduceSum(float *data, size_t n) {
  if (!distributed() || n == 0)
    return;
#if GPTC_HAVE_MPI
  InCollective in(commSeconds);
  pending.emplace_back();
  check(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT,
                       MPI_SUM, MPI_COMM_WORLD, &pending.back()),
        "MPI_Iallreduce");
#endif
}

void Communicator::progress() {
#if GPTC_HAVE_MPI
  if (pending.empty())
    return;
  InCollective in(commSeconds);
  int done = 0;
  check(MPI_Testall(static_cast<int>(pending.size()), pending.data(), &done,
                    MPI_STATUSES_IGNORE),
        "MPI_Testall");
  if (done)
    pending.clear();
#endif
}

void Communicator::waitAll() {
#if GPTC_HAVE_MPI
  if (pending.empty())
    return;
  InCollective in(commSeconds);
  check(MPI_Waitall(static_cast<int>(pending.size()), pending.data(),
                    MPI_STATUSES_IGNORE),
        "MPI_Waitall");
  pending.clear();
#endif
}

double Communicator::takeCommSeconds() {
  double s = commSeconds;
  commSeconds = 0;
  return s;
}

void Communicator::abort(int code) {
#if GPTC_HAVE_MPI
  if (initialized && distributed())
    MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

bool Communicator::joined() { return joinedJob; }

bool Communicator::inCollective() { return collective; }

} // namespace gptc
