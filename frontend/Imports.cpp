//===- Imports.cpp - Loading a model and the files it imports ------------===//
//
// Loads the main file, then each `import` relative to the importing file and
// then the include dirs, once per canonical path.
//
//===----------------------------------------------------------------------===//

#include "gptc/Frontend/Parser.h"
#include "gptc/Frontend/Sema.h"

#include <filesystem>
#include <functional>
#include <set>

namespace gptc {

using namespace ast;
namespace fs = std::filesystem;

ModelSource loadModel(SourceManager &sm, const std::string &path,
                      const std::vector<std::string> &includeDirs) {
  ModelSource src;
  std::set<std::string> loaded;
  std::function<const Module *(const std::string &, Location)> load =
      [&](const std::string &p, Location from) -> const Module * {
    std::error_code ec;
    std::string canon = fs::weakly_canonical(p, ec).string();
    if (ec)
      canon = p;
    if (!loaded.insert(canon).second)
      return nullptr;
    const SourceFile &file = sm.load(p, from);
    src.modules.push_back(parseModule(file));
    const Module *m = src.modules.back().get();
    for (const ImportDecl &imp : m->imports) {
      std::vector<fs::path> candidates;
      if (fs::path(imp.path).is_absolute()) {
        candidates.push_back(imp.path);
      } else {
        candidates.push_back(fs::path(file.path).parent_path() / imp.path);
        for (const auto &dir : includeDirs)
          candidates.push_back(fs::path(dir) / imp.path);
      }
      std::string found;
      for (const auto &c : candidates)
        if (fs::is_regular_file(c, ec)) {
          found = c.lexically_normal().string();
          break;
        }
      if (found.empty()) {
        std::string tried;
        for (const auto &c : candidates)
          tried += "\n    " + c.lexically_normal().string();
        throw CompileError(imp.loc, "cannot find imported file '" + imp.path +
                                        "'; searched:" + tried);
      }
      load(found, imp.loc);
    }
    return m;
  };
  src.main = load(path, Location());
  return src;
}

} // namespace gptc
