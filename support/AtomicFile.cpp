//===- AtomicFile.cpp - Files written whole or not at all -----------------===//

#include "gptc/Support/AtomicFile.h"
#include "gptc/Support/Error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace gptc {

namespace {

[[noreturn]] void fail(const std::string &what, const std::string &path,
                       int err) {
  throw RuntimeError("cannot " + what + " '" + path +
                     "': " + std::strerror(err));
}

/// The folder of `path`, for the fsync that makes a rename durable.
std::string folderOf(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

AtomicFile::AtomicFile(std::string p) : path(std::move(p)), tmp(path + ".tmp") {
  fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    fail("write", path, errno);
}

AtomicFile::~AtomicFile() {
  if (fd >= 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
  }
}

void AtomicFile::write(const void *data, size_t size) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      fail("write", path, n < 0 ? errno : ENOSPC);
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd) != 0)
    fail("write", path, errno);
  int err = ::close(fd) == 0 ? 0 : errno;
  fd = -1;
  if (err != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = err ? err : errno;
    ::unlink(tmp.c_str());
    fail("write", path, err);
  }
  // Best effort: a folder that cannot be opened (no read permission) still
  // has the file, only its durability across a power cut is weaker.
  int dir = ::open(folderOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void writeFileAtomically(const std::string &path, std::string_view bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

} // namespace gptc
