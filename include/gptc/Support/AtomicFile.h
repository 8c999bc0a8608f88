//===- AtomicFile.h - Files written whole or not at all -----------*- C++
//-*-===//
//
// Every file gptc or a built executable writes for the user (checkpoints,
// exported models, run-contract outputs, logs' plots, token shards) goes
// through here, so a kill, a full disk or a read-only folder never leaves a
// truncated file under the final name: the bytes go to `PATH.tmp` beside
// it, and only a complete, flushed and fsync'ed file is renamed over PATH
// (then the folder is fsync'ed, so the rename survives a crash too). The
// temporary has a fixed name, so one left by a killed process is replaced
// by the next write instead of accumulating.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_SUPPORT_ATOMICFILE_H
#define GPTC_SUPPORT_ATOMICFILE_H

#include <cstddef>
#include <string>
#include <string_view>

namespace gptc {

/// One file being written. Failures throw RuntimeError naming the file and
/// the system's reason; destroying an uncommitted AtomicFile removes the
/// temporary and leaves PATH as it was.
class AtomicFile {
public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;

  void write(const void *data, size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  /// Flushes, fsyncs and renames the temporary over the path.
  void commit();

private:
  std::string path, tmp;
  int fd = -1;
};

/// Writes `bytes` to `path` through an AtomicFile.
void writeFileAtomically(const std::string &path, std::string_view bytes);

} // namespace gptc

#endif // GPTC_SUPPORT_ATOMICFILE_H
