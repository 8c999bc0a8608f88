//===- ReadFile.cpp - Whole files read with a bound -----------------------===//

#include "gptc/Support/ReadFile.h"
#include "gptc/Support/Error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gptc {

namespace {

std::string megabytes(uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

} // namespace

bool isRegularFile(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string readFileBounded(const std::string &path, uint64_t limit,
                            const std::string &what) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw RuntimeError(what + " '" + path + "' is a folder, not a file");
  // Non-blocking open: a FIFO nobody writes to must not hang the run.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    throw RuntimeError("cannot open " + what + " '" + path +
                       "': " + std::strerror(errno));
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0)
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) > limit) {
    ::close(fd);
    throw RuntimeError(what + " '" + path + "' has " +
                       megabytes(static_cast<uint64_t>(st.st_size)) +
                       ", more than the " + megabytes(limit) + " gptc reads");
  }
  std::string out;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw RuntimeError("cannot read " + what + " '" + path +
                         "': " + std::strerror(err));
    }
    if (n == 0)
      break;
    if (out.size() + static_cast<uint64_t>(n) > limit) {
      ::close(fd);
      throw RuntimeError(what + " '" + path + "' is longer than the " +
                         megabytes(limit) + " gptc reads");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

} // namespace gptc
