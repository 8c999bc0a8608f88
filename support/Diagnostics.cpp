//===- Diagnostics.cpp - Source files, locations and error reports --------===//

#include "gptc/Support/Diagnostics.h"
#include "gptc/Support/Error.h"
#include "gptc/Support/ReadFile.h"

#include <algorithm>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gptc {

SourceFile::SourceFile(std::string p, std::string t)
    : path(std::move(p)), text(std::move(t)) {
  lineStarts.push_back(0);
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n')
      lineStarts.push_back(i + 1);
}

std::string_view SourceFile::lineText(uint32_t line) const {
  if (line == 0 || line > lineStarts.size())
    return {};
  size_t begin = lineStarts[line - 1];
  size_t end = line < lineStarts.size() ? lineStarts[line] - 1 : text.size();
  if (end > begin && text[end - 1] == '\r')
    --end;
  return std::string_view(text).substr(begin, end - begin);
}

std::string Location::str() const {
  if (!file)
    return "<unknown>";
  return file->path + ":" + std::to_string(line) + ":" + std::to_string(col);
}

const SourceFile &SourceManager::load(const std::string &path,
                                      Location requestedAt) {
  if (const SourceFile *f = lookup(path))
    return *f;
  try {
    return addBuffer(path, readFileBounded(path, kMaxSourceBytes, "file"));
  } catch (const RuntimeError &e) {
    throw CompileError(requestedAt, e.what());
  }
}

const SourceFile &SourceManager::addBuffer(std::string name, std::string text) {
  files.push_back(
      std::make_unique<SourceFile>(std::move(name), std::move(text)));
  return *files.back();
}

const SourceFile *SourceManager::lookup(const std::string &path) const {
  for (const auto &f : files)
    if (f->path == path)
      return f.get();
  return nullptr;
}

/// The most columns of a source line a diagnostic shows.
constexpr size_t kMaxShownColumns = 160;

/// Prints one `loc: kind: msg` line plus the source line and caret.
static void printOne(std::ostream &os, Location loc, const char *kind,
                     const std::string &msg) {
  if (loc.isValid())
    os << loc.str() << ": ";
  else
    os << "gptc: ";
  os << kind << ": " << msg << "\n";
  if (!loc.isValid())
    return;
  std::string_view line = loc.file->lineText(loc.line);
  // A blank line (e.g. the end of the file) shows nothing useful.
  if (line.find_first_not_of(" \t") == std::string_view::npos)
    return;
  // A long line (a generated or hostile file) shows a window around the
  // caret, as clang does, so the message stays a few lines long.
  size_t caret = std::min<size_t>(loc.col - 1, line.size());
  size_t begin = 0, end = line.size();
  if (line.size() > kMaxShownColumns) {
    begin = caret > kMaxShownColumns / 2 ? caret - kMaxShownColumns / 2 : 0;
    end = std::min(line.size(), begin + kMaxShownColumns);
    // Cut at character boundaries, not inside a UTF-8 sequence.
    auto continuation = [&](size_t i) {
      return i < line.size() &&
             (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80;
    };
    while (begin < caret && continuation(begin))
      ++begin;
    while (end > caret && continuation(end))
      --end;
  }
  std::string_view window = line.substr(begin, end - begin);
  // Show invalid UTF-8 as '?' rather than send raw bytes to the terminal.
  std::string shown(window);
  for (size_t bad; (bad = findInvalidUtf8(shown)) != std::string::npos;)
    shown[bad] = '?';
  const char *cut = "...";
  os << "  " << (begin > 0 ? cut : "") << shown
     << (end < line.size() ? cut : "") << "\n  " << (begin > 0 ? "   " : "");
  // Keep tabs so the caret lines up under tab-indented source.
  for (size_t i = begin; i < caret; ++i)
    os << (line[i] == '\t' ? '\t' : ' ');
  os << "^\n";
}

void printDiagnostic(std::ostream &os, const Diagnostic &diag) {
  printOne(os, diag.loc, "error", diag.message);
  for (const auto &n : diag.notes)
    printOne(os, n.loc, "note", n.message);
}

} // namespace gptc
