//===- KernelCache.cpp - Generating kernels once, in parallel -------------===//

#include "gptc/Backends/KernelCache.h"
#include "gptc/Support/Error.h"

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace fs = std::filesystem;

namespace gptc {

std::string cxxCompiler() {
  if (const char *p = std::getenv("CXX"))
    return p;
  return "/usr/bin/c++";
}

int runCapture(const std::vector<std::string> &argv, std::string &output) {
  std::string log = (fs::temp_directory_path() /
                     ("gptc-kgen-" + std::to_string(getpid()) + "-" +
                      std::to_string(std::hash<std::thread::id>()(
                          std::this_thread::get_id())) +
                      ".log"))
                        .string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char *> args;
  for (auto &a : argv)
    args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    output = "cannot run '" + argv[0] + "': " + std::strerror(rc);
    return -1;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  output = ss.str();
  fs::remove(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string KernelCache::defaultDir() {
  if (const char *d = std::getenv("GPTC_CACHE_DIR"))
    return d;
  if (const char *x = std::getenv("XDG_CACHE_HOME"))
    return std::string(x) + "/gptc";
  const char *home = std::getenv("HOME");
  return std::string(home ? home : "/tmp") + "/.cache/gptc";
}

KernelCache::KernelCache(std::string d, std::string g, std::string t)
    : dir(std::move(d)), generator(std::move(g)), target(std::move(t)) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw RuntimeError("cannot create the kernel cache '" + dir +
                       "': " + ec.message());
  std::string out;
  if (runCapture({generator, "--version"}, out) != 0)
    throw RuntimeError("cannot run the kernel generator '" + generator +
                       "': " + out);
  halideVersion = out.substr(0, out.find('\n'));
}

std::vector<BuiltKernel>
KernelCache::build(const std::vector<KernelDesc> &kernels, int jobs) const {
  std::vector<BuiltKernel> built(kernels.size());
  std::vector<std::string> errors(kernels.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < kernels.size();) {
      const KernelDesc &k = kernels[i];
      std::string base =
          dir + "/" + k.name + "-" + kernelCacheKey(k, target, halideVersion);
      BuiltKernel &b = built[i];
      b.name = k.name;
      b.object = base + ".o";
      b.header = base + ".h";
      if (fs::exists(base + ".ptx"))
        b.ptx = base + ".ptx";
      if (fs::exists(b.object) && fs::exists(b.header)) {
        b.fromCache = true;
        continue;
      }
      // Generate under a private name, then rename into place.
      std::string tmp =
          base + ".tmp" + std::to_string(getpid()) + "-" + std::to_string(i);
      std::ofstream(tmp + ".kernel") << k.serialize();
      std::string out;
      int rc = runCapture(
          {generator, "--target=" + target, "-o", tmp, tmp + ".kernel"}, out);
      fs::remove(tmp + ".kernel");
      if (rc != 0) {
        while (!out.empty() &&
               std::isspace(static_cast<unsigned char>(out.back())))
          out.pop_back();
        errors[i] = "kernel '" + k.name + "': " + out;
        fs::remove(tmp + ".o");
        fs::remove(tmp + ".h");
        fs::remove(tmp + ".ptx");
        continue;
      }
      // The object last: its presence marks a complete entry.
      if (fs::exists(tmp + ".ptx")) {
        b.ptx = base + ".ptx";
        fs::rename(tmp + ".ptx", b.ptx);
      }
      fs::rename(tmp + ".h", b.header);
      fs::rename(tmp + ".o", b.object);
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < std::max(1, jobs); ++j)
    pool.emplace_back(worker);
  for (auto &t : pool)
    t.join();
  for (size_t i = 0; i < errors.size(); ++i)
    if (!errors[i].empty())
      throw KernelError(i, errors[i]);
  return built;
}

std::string KernelCache::runtimeObject() const {
  KernelDesc rt;
  rt.family = "runtime";
  rt.name = "halide_runtime";
  std::string base =
      dir + "/halide_runtime-" + kernelCacheKey(rt, target, halideVersion);
  if (fs::exists(base + ".o"))
    return base + ".o";
  std::string tmp = base + ".tmp" + std::to_string(getpid()), out;
  if (runCapture({generator, "--target=" + target, "--runtime", "-o", tmp},
                 out) != 0)
    throw RuntimeError("generating the Halide runtime failed: " + out);
  fs::rename(tmp + ".o", base + ".o");
  return base + ".o";
}

} // namespace gptc
