//===- ReadFile.h - Whole files read with a bound -----------------*- C++
//-*-===//
//
// Every text a user hands gptc (model sources, YAML configs, training data,
// tokenizer files, prompt files) is read through readFileBounded: a folder
// is named as one, a pipe or device is read as a stream (a FIFO without a
// writer reads as empty instead of blocking), and nothing is read past a cap
// per kind of file, so /dev/zero fails with a message instead of filling
// memory. The caps are documented in docs/Training.md.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_SUPPORT_READFILE_H
#define GPTC_SUPPORT_READFILE_H

#include <cstdint>
#include <string>

namespace gptc {

/// Caps per kind of file.
constexpr uint64_t kMaxSourceBytes = 16ull << 20;    ///< .gpt and YAML
constexpr uint64_t kMaxTokenizerBytes = 64ull << 20; ///< tiktoken, JSON
constexpr uint64_t kMaxTextBytes = 1ull << 30;       ///< training text

/// The whole of `path`, `what` naming it in errors ("the data file"):
/// RuntimeError for a folder, a file that cannot be opened (with the
/// system's reason) or one longer than `limit` bytes.
std::string readFileBounded(const std::string &path, uint64_t limit,
                            const std::string &what);

/// Whether `path` is a regular file (one that can be mapped and seeked).
bool isRegularFile(const std::string &path);

} // namespace gptc

#endif // GPTC_SUPPORT_READFILE_H
