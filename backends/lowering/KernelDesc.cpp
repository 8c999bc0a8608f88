//===- KernelDesc.cpp - Serialized descriptions of generated kernels ------===//

#include "gptc/Backends/KernelDesc.h"
#include "gptc/Support/Error.h"

#include <cstdio>
#include <sstream>

namespace gptc {

std::string KernelDesc::serialize() const {
  std::string s =
      "gptc-kernel 1\nfamily = " + family + "\nname = " + name + "\n";
  for (auto &[k, v] : params)
    s += k + " = " + v + "\n";
  return s;
}

KernelDesc KernelDesc::parse(const std::string &text, const std::string &file) {
  KernelDesc d;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  auto fail = [&](const std::string &what) {
    return RuntimeError(file + ":" + std::to_string(number) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++number;
    if (number == 1) {
      if (line != "gptc-kernel 1")
        throw fail("expected the header 'gptc-kernel 1'");
      continue;
    }
    if (line.empty())
      continue;
    size_t eq = line.find(" = ");
    if (eq == std::string::npos || eq == 0)
      throw fail("expected 'key = value', got '" + line + "'");
    std::string key = line.substr(0, eq), value = line.substr(eq + 3);
    if (key == "family")
      d.family = value;
    else if (key == "name")
      d.name = value;
    else if (!d.params.emplace(key, value).second)
      throw fail("duplicate key '" + key + "'");
  }
  if (number == 0)
    throw fail("empty kernel description");
  if (d.family.empty() || d.name.empty())
    throw RuntimeError(file + ": a kernel needs 'family' and 'name'");
  return d;
}

int64_t KernelDesc::intParam(const std::string &key, int64_t fallback) const {
  auto it = params.find(key);
  if (it == params.end())
    return fallback;
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(it->second, &used);
  } catch (...) {
    used = 0;
  }
  if (used != it->second.size() || it->second.empty())
    throw RuntimeError("kernel '" + name + "': '" + key +
                       "' must be an integer, got '" + it->second + "'");
  return v;
}

std::string KernelDesc::param(const std::string &key,
                              const std::string &fallback) const {
  auto it = params.find(key);
  return it == params.end() ? fallback : it->second;
}

std::string kernelCacheKey(const KernelDesc &desc, const std::string &target,
                           const std::string &halideVersion) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string &s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff; // field separator
    h *= 1099511628211ull;
  };
  mix(desc.serialize());
  mix(target);
  mix(kKernelGenVersion);
  mix(halideVersion);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

} // namespace gptc
