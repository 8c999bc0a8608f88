//===- SourceLoc.cpp - From MLIR locations back to the .gpt source --------===//

#include "gptc/IR/SourceLoc.h"

#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;

namespace gptc {

namespace {

/// The parts of an op's location: its scope, its own position and the call
/// sites that led to it, innermost first.
struct Unwrapped {
  std::string scope;
  FileLineColLoc at;
  std::vector<std::pair<std::string, FileLineColLoc>> callers;
};

/// The first FileLineColLoc in `loc` and the name of the NameLoc around it.
std::pair<std::string, FileLineColLoc> position(mlir::Location loc) {
  std::string name;
  while (true) {
    if (auto f = dyn_cast<FileLineColLoc>(loc))
      return {name, f};
    if (auto n = dyn_cast<NameLoc>(loc)) {
      if (name.empty())
        name = n.getName().str();
      loc = n.getChildLoc();
    } else if (auto c = dyn_cast<CallSiteLoc>(loc)) {
      loc = c.getCallee();
    } else if (auto fused = dyn_cast<FusedLoc>(loc);
               fused && !fused.getLocations().empty()) {
      // CSE and fusion merge the locations of equal ops; the first is the
      // one the user wrote first.
      loc = fused.getLocations().front();
    } else {
      return {name, nullptr};
    }
  }
}

Unwrapped unwrap(mlir::Location loc) {
  Unwrapped u;
  if (auto n = dyn_cast<NameLoc>(loc)) {
    u.scope = n.getName().str();
    loc = n.getChildLoc();
  }
  if (auto fused = dyn_cast<FusedLoc>(loc);
      fused && !fused.getLocations().empty())
    loc = fused.getLocations().front();
  u.at = position(loc).second;
  while (auto c = dyn_cast<CallSiteLoc>(loc)) {
    auto [name, at] = position(c.getCaller());
    if (at)
      u.callers.push_back({name, at});
    loc = c.getCaller();
    // The caller of a nested call is itself a call site: its callee part
    // was recorded above, its caller is next.
    if (auto n = dyn_cast<NameLoc>(loc))
      loc = n.getChildLoc();
  }
  return u;
}

Location toLocation(FileLineColLoc f, const SourceManager &sm) {
  if (!f)
    return {};
  const SourceFile *file = sm.lookup(f.getFilename().str());
  if (!file)
    return {};
  return {file, f.getLine(), f.getColumn()};
}

} // namespace

std::string callSiteName(const std::string &def, const std::string &scope) {
  return scope.empty() ? def : def + " " + scope;
}

Location sourceLocation(mlir::Location loc, const SourceManager &sm) {
  return toLocation(unwrap(loc).at, sm);
}

std::string scopeOf(mlir::Location loc) { return unwrap(loc).scope; }

std::string describeLoc(mlir::Location loc) {
  Unwrapped u = unwrap(loc);
  std::string where;
  if (u.at)
    where = u.at.getFilename().str() + ":" + std::to_string(u.at.getLine()) +
            ":" + std::to_string(u.at.getColumn());
  if (!u.scope.empty())
    where += (where.empty() ? "" : " ") + std::string("(in ") + u.scope + ")";
  return where.empty() ? "<unknown location>" : where;
}

Diagnostic diagnosticAt(mlir::Location loc, std::string message,
                        const SourceManager &sm) {
  Unwrapped u = unwrap(loc);
  Diagnostic d{toLocation(u.at, sm), std::move(message), {}};
  if (!d.loc.isValid() && u.at)
    d.message = describeLoc(loc) + ": " + d.message;
  for (auto &[name, at] : u.callers) {
    size_t space = name.find(' ');
    std::string def = name.substr(0, space);
    std::string text = "in '" + def + "' called here";
    if (space != std::string::npos)
      text += " as '" + name.substr(space + 1) + "'";
    d.note(toLocation(at, sm), text);
  }
  return d;
}

} // namespace gptc
