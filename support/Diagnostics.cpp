//===- Diagnostics.cpp - Source files, locations and error reports --------===//

#include "gptc/Support/Diagnostics.h"

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
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    std::string msg = "'" + path + "' is a directory, not a file";
    throw CompileError(requestedAt, msg);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string msg =
        "cannot open file '" + path + "': " + std::strerror(errno);
    if (requestedAt.isValid())
      throw CompileError(requestedAt, msg);
    throw CompileError(Location(), msg);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return addBuffer(path, ss.str());
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
  // Show invalid UTF-8 as '?' rather than send raw bytes to the terminal.
  std::string shown(line);
  for (size_t bad; (bad = findInvalidUtf8(shown)) != std::string::npos;)
    shown[bad] = '?';
  os << "  " << shown << "\n  ";
  // Keep tabs so the caret lines up under tab-indented source.
  for (uint32_t i = 1; i < loc.col && i - 1 < line.size(); ++i)
    os << (line[i - 1] == '\t' ? '\t' : ' ');
  os << "^\n";
}

void printDiagnostic(std::ostream &os, const Diagnostic &diag) {
  printOne(os, diag.loc, "error", diag.message);
  for (const auto &n : diag.notes)
    printOne(os, n.loc, "note", n.message);
}

} // namespace gptc
