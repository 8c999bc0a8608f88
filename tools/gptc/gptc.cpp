//===- gptc.cpp - The gptc compiler driver --------------------------------===//
//
// One driver with subcommands (check, info, emit, build, run, tokenize);
// docs/Architecture.md shows where each stage runs. Exit codes: 0 success, 1 an
// error in the user's model, config or data, 2 a usage error (unknown flag,
// missing argument).
//
//===----------------------------------------------------------------------===//

#include "Build.h"
#include "Reports.h"
#include "Run.h"
#include "Verify.h"

#include "gptc/Frontend/MLIRGen.h"
#include "gptc/Frontend/Parser.h"
#include "gptc/Frontend/Sema.h"
#include "gptc/IR/DotExport.h"
#include "gptc/IR/SourceLoc.h"
#include "gptc/Passes/Passes.h"
#include "gptc/Runtime/Tokenizer.h"
#include "gptc/Support/Config.h"
#include "gptc/Support/ReadFile.h"
#include "gptc/Support/TrainConfig.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace gptc;

namespace fs = std::filesystem;

namespace {

constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2;

const char *kUsage = R"(gptc - a compiler for GPT-style language models

usage: gptc <command> MODEL.gpt [options]
       gptc tokenize [FILE] [--decode] [options]

commands:
  check   parse and verify the model for a config; errors as file:line:col
  info    config, entry points, parameter count and memory
  emit    print a compiler stage: --stage=ast|params|ir|grad|fused|kernels|ptx|dot
  build   compile to a native executable: --task=forward|train|generate
          -o EXE
  tokenize  GPT-2 BPE: text (FILE or stdin) to token ids separated by
          spaces; --decode turns ids back into text
  run     build and run: --inputs IN.safetensors -o OUT.safetensors (the
          run contract: parameters, tokens and optional targets in; logits
          and loss out; with lr and the AdamW state, one training step);
          --interpret uses the reference interpreter instead; --verify
          compares every kernel call with the interpreter and names the
          first that differs, with its .gpt line

options:
  --config FILE     model config (YAML), e.g. models/configs/gpt2-124m.yaml
  --set KEY=VALUE   override one config value (repeatable)
  -I, --include DIR search DIR for imports after the model's folder
  --stage STAGE     for emit: ast (syntax tree with locations), params
                    (parameter table with Hugging Face names), ir (the gpt
                    dialect, one func per entry point), grad (plus
                    @loss_grad and the AdamW @train_step), fused (ops
                    grouped into gpt.kernel ops), kernels (the kernel
                    descriptions and the host plan), dot (a Graphviz
                    graph: dot -Tsvg model.dot -o model.svg)
  --task TASK       for build, run, emit fused|kernels: forward (logits and
                    loss), train (plus the AdamW training step) or
                    generate (text generation: forward plus the KV-cached
                    prefill and decode steps --gpt-kv-cache derives)
  --target T        for build: cpu (this machine), cpu-avx2, cpu-avx512 or
                    cuda (NVIDIA GPUs, sm_80 and later); emit --stage=ptx
                    takes cuda (-o DIR: one .ptx per kernel)
  --no-fuse-attention  for build, run, emit fused|kernels: keep attention
                    as written (no flash-attention kernels)
  --cache-dir DIR   kernel cache (default $GPTC_CACHE_DIR, else
                    ~/.cache/gptc)
  --jobs N          kernel generators at once (default: all cores)
  --threads N       for run: worker threads (default: all cores)
  --profile         for run: time and GFLOP/s per kernel
  --no-loc          for emit --stage=ir: omit source locations
  --train-config F  training config (YAML, models/train/): trainable and
                    decayed parameters, AdamW betas/eps, clipping
  --seed N          for run: dropout seed of a training step (default 0)
  --dim NAME=SIZE   for info: size of a symbolic dim for FLOPs and memory
                    (default 1, and T = context_length when configured)
  --print-ir-after-all       print the IR after every pass (to stderr)
  --print-ir-after=PASS      print the IR after the pass with that flag
                             name (e.g. gpt-shape-inference, canonicalize)
  --interpret       for run: use the reference interpreter (double precision)
  --fp32            for run: round every result to float32
  --verify          for run: check the compiled kernels one by one against
                    the interpreter on the inputs (exit 1 if one differs)
  --tolerance X     for --verify: largest accepted error relative to an
                    output's largest magnitude (default 1e-3)
  --inputs FILE     for run: input safetensors
  -o FILE           for run: output safetensors
  --tokenizer F     for tokenize: gpt2.tiktoken or encoder.json (default:
                    data/gpt2.tiktoken, or $GPTC_DATA_DIR/gpt2.tiktoken)
  --decode          for tokenize: ids to text
  --allow-special   for tokenize: <|endoftext|> becomes token 50256
  --special-as-text for tokenize: <|endoftext|> is ordinary text
  --lossy           for tokenize: replace invalid UTF-8 by U+FFFD
  -h, --help        this help
  --version         print the version

exit status: 0 success, 1 error in the model/config, 2 usage error
)";

struct Options {
  std::string command;
  std::string model;
  std::string config;
  std::vector<std::string> sets;
  std::vector<std::string> includes;
  std::string stage;
  bool printLocations = true;
  bool fuseAttention = true;
  std::map<std::string, int64_t> dims; ///< --dim NAME=SIZE
  std::string trainConfig;
  std::string tokenizer;
  bool decode = false, allowSpecial = false, specialAsText = false,
       lossy = false;
  uint64_t seed = 0;
  bool printAfterAll = false;
  std::vector<std::string> printAfter;
  bool interpret = false;
  bool verify = false;
  double tolerance = 1e-3;
  bool fp32 = false;
  std::string inputs;
  std::string output;
  std::string task;
  std::string target = "cpu";
  std::string cacheDir;
  int jobs = 0;
  int threads = 0;
  bool profile = false;
};

int parseCount(const std::string &flag, const std::string &v);

struct UsageError {
  std::string message;
};

Options parseArgs(int argc, char **argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string &flag) -> std::string {
      size_t eq = a.find('=');
      if (a.rfind(flag + "=", 0) == 0)
        return a.substr(eq + 1);
      if (i + 1 >= argc)
        throw UsageError{"option '" + flag + "' needs a value"};
      return argv[++i];
    };
    auto is = [&](const std::string &flag) {
      return a == flag || a.rfind(flag + "=", 0) == 0;
    };
    if (a == "-h" || a == "--help") {
      o.command = "help";
      return o;
    } else if (a == "--version") {
      o.command = "version";
      return o;
    } else if (is("--config")) {
      o.config = value("--config");
    } else if (is("--set")) {
      o.sets.push_back(value("--set"));
    } else if (is("--include")) {
      o.includes.push_back(value("--include"));
    } else if (a == "-I") {
      if (i + 1 >= argc)
        throw UsageError{"option '-I' needs a directory"};
      o.includes.push_back(argv[++i]);
    } else if (a.rfind("-I", 0) == 0 && a.size() > 2) {
      o.includes.push_back(a.substr(2));
    } else if (is("--stage")) {
      o.stage = value("--stage");
    } else if (a == "--interpret") {
      o.interpret = true;
    } else if (a == "--verify") {
      o.verify = true;
    } else if (is("--tolerance")) {
      std::string v = value("--tolerance");
      char *end = nullptr;
      o.tolerance = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(o.tolerance >= 0) || std::isinf(o.tolerance))
        throw UsageError{"--tolerance expects a non-negative number, got '" +
                         v + "'"};
    } else if (a == "--fp32") {
      o.fp32 = true;
    } else if (is("--inputs")) {
      o.inputs = value("--inputs");
    } else if (a == "-o") {
      if (i + 1 >= argc)
        throw UsageError{"option '-o' needs a file"};
      o.output = argv[++i];
    } else if (a == "--print-ir-after-all") {
      o.printAfterAll = true;
    } else if (is("--print-ir-after")) {
      o.printAfter.push_back(value("--print-ir-after"));
    } else if (is("--tokenizer")) {
      o.tokenizer = value("--tokenizer");
    } else if (a == "--decode") {
      o.decode = true;
    } else if (a == "--allow-special") {
      o.allowSpecial = true;
    } else if (a == "--special-as-text") {
      o.specialAsText = true;
    } else if (a == "--lossy") {
      o.lossy = true;
    } else if (is("--train-config")) {
      o.trainConfig = value("--train-config");
    } else if (is("--seed")) {
      std::string v = value("--seed");
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError{"--seed expects a non-negative integer, got '" + v +
                         "'"};
      o.seed = std::stoull(v);
    } else if (is("--dim")) {
      std::string d = value("--dim");
      size_t eq = d.find('=');
      std::string size = eq == std::string::npos ? "" : d.substr(eq + 1);
      // Sizes up to 2^20 keep every product the reports form (B * T *
      // vocabulary * bytes) within int64.
      constexpr long long kMaxDim = 1 << 20;
      long long v = 0;
      if (eq != 0 && !size.empty() && size.size() <= 7 &&
          size.find_first_not_of("0123456789") == std::string::npos)
        v = std::atoll(size.c_str());
      if (v <= 0 || v > kMaxDim)
        throw UsageError{"--dim expects NAME=SIZE with a size from 1 to " +
                         std::to_string(kMaxDim) + ", got '" + d + "'"};
      o.dims[d.substr(0, eq)] = v;
    } else if (is("--task")) {
      o.task = value("--task");
    } else if (is("--target")) {
      o.target = value("--target");
    } else if (is("--cache-dir")) {
      o.cacheDir = value("--cache-dir");
    } else if (is("--jobs")) {
      o.jobs = parseCount("--jobs", value("--jobs"));
    } else if (is("--threads")) {
      o.threads = parseCount("--threads", value("--threads"));
    } else if (a == "--profile") {
      o.profile = true;
    } else if (a == "--no-loc") {
      o.printLocations = false;
    } else if (a == "--no-fuse-attention") {
      o.fuseAttention = false;
    } else if (a.size() > 1 && a[0] == '-') {
      throw UsageError{"unknown option '" + a + "'"};
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty())
    throw UsageError{"missing command"};
  o.command = positional[0];
  if (positional.size() > 2)
    throw UsageError{"unexpected argument '" + positional[2] + "'"};
  if (positional.size() == 2)
    o.model = positional[1];
  return o;
}

int parseCount(const std::string &flag, const std::string &v) {
  if (v.empty() || v.size() > 6 ||
      v.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError{flag + " expects a non-negative integer, got '" + v + "'"};
  return std::stoi(v);
}

int compile(const Options &o, SourceManager &sm);

/// `gptc tokenize`: text to ids or, with --decode, ids to text.
int tokenize(const Options &o) {
  if (o.allowSpecial && o.specialAsText)
    throw UsageError{"--allow-special and --special-as-text exclude each "
                     "other"};
  std::string path = o.tokenizer;
  if (path.empty()) {
    const char *dir = std::getenv("GPTC_DATA_DIR");
    path = std::string(dir ? dir : GPTC_DATA_DIR) + "/gpt2.tiktoken";
  }
  std::string input;
  if (o.model.empty() || o.model == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    input = ss.str();
  } else {
    input = readFileBounded(o.model, kMaxTextBytes, "the text");
  }
  Tokenizer tok = Tokenizer::load(path);
  if (o.decode) {
    std::vector<uint32_t> ids;
    std::istringstream in(input);
    std::string word;
    while (in >> word) {
      size_t used = 0;
      unsigned long v = 0;
      try {
        v = std::stoul(word, &used);
      } catch (...) {
        used = 0;
      }
      if (used != word.size() || word[0] == '-')
        throw RuntimeError("expected token ids separated by whitespace, "
                           "found '" +
                           word + "' (token " + std::to_string(ids.size()) +
                           ")");
      ids.push_back(static_cast<uint32_t>(std::min<unsigned long>(v, ~0u)));
    }
    std::cout << tok.decode(ids);
    return kExitOk;
  }
  if (o.lossy)
    input = toValidUtf8(input);
  Tokenizer::Special special = o.allowSpecial    ? Tokenizer::Special::Allow
                               : o.specialAsText ? Tokenizer::Special::AsText
                                                 : Tokenizer::Special::Reject;
  std::vector<uint32_t> ids = tok.encode(input, special);
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i)
    out += (i ? " " : "") + std::to_string(ids[i]);
  std::cout << out << "\n";
  return kExitOk;
}

int run(const Options &o) {
  if (o.command == "tokenize") {
    try {
      return tokenize(o);
    } catch (const RuntimeError &e) {
      std::cerr << "gptc: error: " << e.what() << "\n";
      return kExitError;
    }
  }
  static const std::vector<std::string> commands = {
      "check", "info", "emit", "build", "run", "tokenize"};
  if (std::find(commands.begin(), commands.end(), o.command) == commands.end())
    throw UsageError{"unknown command '" + o.command +
                     "'; expected check, info, emit, build, run or tokenize"};
  if (o.model.empty())
    throw UsageError{"'" + o.command + "' needs a model file (MODEL.gpt)"};
  static const std::vector<std::string> stages = {
      "ast", "params", "ir", "grad", "fused", "kernels", "ptx", "dot"};
  if (o.command == "emit") {
    if (o.stage.empty())
      throw UsageError{
          "emit needs --stage=ast|params|ir|grad|fused|kernels|ptx|dot"};
    if (std::find(stages.begin(), stages.end(), o.stage) == stages.end())
      throw UsageError{"unknown stage '" + o.stage +
                       "'; expected one of: ast, params, ir, grad, fused, "
                       "kernels, ptx, dot"};
  } else if (!o.stage.empty()) {
    throw UsageError{"--stage is only for 'emit'"};
  }
  if (!o.task.empty() && o.task != "forward" && o.task != "train" &&
      o.task != "generate")
    throw UsageError{"unknown task '" + o.task +
                     "'; expected forward, train or generate"};
  if (o.target == "cuda" && o.command != "build" && o.stage != "ptx")
    throw UsageError{"--target=cuda is for build and emit --stage=ptx"};
  if (o.stage == "ptx" && o.target != "cuda")
    throw UsageError{"--stage=ptx needs --target=cuda"};
  if (o.target != "cpu" && o.target != "cpu-avx2" && o.target != "cpu-avx512" &&
      o.target != "cuda")
    throw UsageError{"unknown target '" + o.target +
                     "'; expected cpu, cpu-avx2, cpu-avx512 or cuda"};
  if (o.command == "build" && o.output.empty())
    throw UsageError{"build needs -o EXECUTABLE"};
  if (o.command == "run") {
    if (o.inputs.empty() || o.output.empty())
      throw UsageError{"run needs --inputs IN.safetensors and -o "
                       "OUT.safetensors"};
    if (o.verify && o.interpret)
      throw UsageError{"--verify compares the compiled kernels with the "
                       "interpreter; it excludes --interpret"};
  }
  if (o.verify && o.command != "run")
    throw UsageError{"--verify is for 'run'"};

  // Diagnostics point into the SourceManager's files: print them while it
  // is alive.
  SourceManager sm;
  try {
    return compile(o, sm);
  } catch (const CompileError &e) {
    printDiagnostic(std::cerr, e.diag);
    return kExitError;
  } catch (const RuntimeError &e) {
    std::cerr << "gptc: error: " << e.what() << "\n";
    return kExitError;
  } catch (const std::filesystem::filesystem_error &e) {
    // A path that is not what it must be: the message names it and why.
    std::cerr << "gptc: error: " << e.what() << "\n";
    return kExitError;
  } catch (const std::bad_alloc &) {
    std::cerr << "gptc: error: out of memory (is a size in the flags or the "
                 "model too large?)\n";
    return kExitError;
  }
}

void emitPtx(mlir::ModuleOp module, const std::string &task, const Options &o) {
  std::vector<PtxKernel> kernels =
      generatePtx(module, task, o.cacheDir, o.jobs);
  if (!o.output.empty())
    fs::create_directories(o.output);
  size_t written = 0;
  for (const PtxKernel &k : kernels) {
    if (k.ptxPath.empty()) {
      std::cout << "// kernel " << k.name << " (" << k.family << "): " << k.note
                << "\n";
      continue;
    }
    if (!o.output.empty()) {
      fs::copy_file(k.ptxPath, fs::path(o.output) / (k.name + ".ptx"),
                    fs::copy_options::overwrite_existing);
      ++written;
      continue;
    }
    std::ifstream in(k.ptxPath);
    std::cout << "// kernel " << k.name << " (" << k.family << ")\n"
              << in.rdbuf() << "\n";
  }
  if (!o.output.empty())
    std::cout << "// " << written << " PTX modules in " << o.output << "\n";
}

/// The compilation in `context`. Errors that MLIR reports (verifiers,
/// passes) and LocatedErrors (lowering, the interpreter) print as the front
/// end's do: the .gpt line, a caret and the call chain, once.
int compileIn(mlir::MLIRContext &context, const Options &o, SourceManager &sm);

int compile(const Options &o, SourceManager &sm) {
  mlir::MLIRContext context;
  // Users read the .gpt line; the op's IR is for gptc-opt.
  context.printOpOnDiagnostic(false);
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() != mlir::DiagnosticSeverity::Error)
      return mlir::failure(); // warnings and remarks: MLIR's own printer
    Diagnostic diag = diagnosticAt(d.getLocation(), d.str(), sm);
    for (mlir::Diagnostic &n : d.getNotes()) {
      Diagnostic note = diagnosticAt(n.getLocation(), n.str(), sm);
      diag.note(note.loc, note.message);
    }
    printDiagnostic(std::cerr, diag);
    return mlir::success();
  });
  try {
    return compileIn(context, o, sm);
  } catch (const LocatedError &e) {
    printDiagnostic(std::cerr, diagnosticAt(e.loc, e.message, sm));
    return kExitError;
  }
}

int compileIn(mlir::MLIRContext &context, const Options &o, SourceManager &sm) {
  ModelSource model = loadModel(sm, o.model, o.includes);
  if (o.command == "emit" && o.stage == "ast") {
    for (auto &m : model.modules)
      ast::dump(std::cout, *m);
    return kExitOk;
  }

  ConfigFile cfg;
  if (!o.config.empty())
    cfg = loadConfig(sm, o.config);
  for (auto &s : o.sets)
    addOverride(sm, cfg, s);
  Program prog = analyze(model, cfg);

  // Every command verifies the IR too: a model that elaborates but does not
  // lower is a compiler bug, caught here rather than in a later stage.
  loadGptDialects(context);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlirGen(context, prog);
  if (mlir::failed(mlir::verify(*module))) {
    std::cerr << "gptc: internal error: the generated IR does not verify\n";
    return kExitError;
  }
  mlir::PassManager pm(&context);
  buildFrontendPipeline(pm);
  if (o.printAfterAll || !o.printAfter.empty()) {
    // IR printing needs a single-threaded context.
    context.disableMultithreading();
    auto after = [&](mlir::Pass *pass, mlir::Operation *) {
      return o.printAfterAll ||
             std::find(o.printAfter.begin(), o.printAfter.end(),
                       pass->getArgument().str()) != o.printAfter.end();
    };
    pm.enableIRPrinting([](mlir::Pass *, mlir::Operation *) { return false; },
                        after, /*printModuleScope=*/true,
                        /*printAfterOnlyOnChange=*/false);
  }
  // The training step needs a `loss` entry; build it for the stages and
  // commands that use it.
  TrainConfig train;
  if (!o.trainConfig.empty()) {
    train = loadTrainConfig(sm, o.trainConfig);
    std::vector<std::string> names;
    for (const Parameter &p : prog.params)
      names.push_back(p.name);
    checkParameterPatterns(train, names);
  }
  // Compiled runs build the training step only when asked (--task=train)
  // or when the inputs hold one (lr).
  std::string task = o.task;
  if (o.command == "run" && !o.interpret && task.empty())
    task = readSafetensors(o.inputs).find("lr") ? "train" : "forward";
  if (task.empty())
    task = "forward";
  bool compiled = o.command == "build" ||
                  (o.command == "run" && !o.interpret) || o.stage == "fused" ||
                  o.stage == "kernels" || o.stage == "ptx";
  bool wantsTraining = o.stage == "grad" || o.command == "info" ||
                       (o.command == "run" && o.interpret) ||
                       (compiled && task == "train");
  CompileOptions c;
  // The interpreter (the oracle) runs the model as written.
  c.fuseAttention = compiled && o.fuseAttention;
  // The cached step is derived from the fused attention (without fusion,
  // each token recomputes the window).
  c.kvCache = c.fuseAttention && task == "generate";
  // info builds its training variants itself (with and without fusion).
  c.training = wantsTraining && prog.findEntry("loss") && o.command != "info";
  c.train = train;
  c.kernels = compiled;
  buildCompilePipeline(pm, c);
  // The failing pass reported its error through the handler.
  if (mlir::failed(pm.run(*module)))
    return kExitError;

  if (o.command == "check") {
    std::cout << o.model << ": ok (" << prog.entries.size() << " entry points, "
              << groupDigits(prog.numParameters()) << " parameters)\n";
  } else if (o.command == "info") {
    printInfo(std::cout, prog, o.model, o.config);
    printCosts(std::cout, prog, *module, train, o.dims);
  } else if (o.command == "run" && o.interpret) {
    runInterpreted(*module, RunOptions{o.inputs, o.output, o.fp32, o.seed});
  } else if (o.command == "build" || o.command == "run") {
    BuildOptions b;
    b.task = task;
    b.target = o.target;
    b.cacheDir = o.cacheDir;
    b.jobs = o.jobs;
    for (const Parameter &p : prog.params) {
      PlanInit init{p.name, "zeros", 0};
      if (p.init.kind == Initializer::Kind::Normal)
        init = {p.name, "normal", p.init.std};
      else if (p.init.kind == Initializer::Kind::Ones)
        init.kind = "ones";
      b.model.inits.push_back(init);
      for (auto &[scheme, name] : p.mappedNames)
        b.model.renames[scheme][p.name] = name;
    }
    for (const ConfigValue &c : prog.config)
      if (c.kind != ast::TypeExpr::Kind::Tensor)
        b.model.config[c.name] = c.str();
    for (const SchemeEntry &e : prog.schemeEntries)
      b.model.meta.push_back({e.scheme, e.key, e.config, e.json});
    const char *dataDir = std::getenv("GPTC_DATA_DIR");
    b.tokenizer =
        std::string(dataDir ? dataDir : GPTC_DATA_DIR) + "/gpt2.tiktoken";
    b.description = "Built by gptc " GPTC_VERSION " from " + o.model +
                    (o.config.empty() ? "" : " with " + o.config) + " (task " +
                    task + ", target " + o.target + ")";
    std::string exe = o.output;
    if (o.command == "run")
      b.output = temporaryExecutable();
    else
      b.output = o.output;
    BuildReport r = buildExecutable(*module, b);
    if (o.command == "build") {
      std::cerr << "gptc: built " << o.output << " (" << r.kernels
                << " kernels, " << r.cached << " cached) in "
                << static_cast<int>(r.seconds * 1000) << " ms\n";
      return kExitOk;
    }
    std::vector<std::string> args = {b.output,
                                     "--inputs",
                                     o.inputs,
                                     "-o",
                                     o.output,
                                     "--seed",
                                     std::to_string(o.seed)};
    if (o.threads > 0)
      args.insert(args.end(), {"--threads", std::to_string(o.threads)});
    if (o.profile)
      args.push_back("--profile");
    std::string trace = b.output + ".trace.safetensors";
    if (o.verify)
      args.insert(args.end(), {"--trace", trace});
    int rc = runExecutable(args);
    std::remove(b.output.c_str());
    if (rc != 0 || !o.verify)
      return rc;
    VerifyOptions v;
    v.run = RunOptions{o.inputs, o.output, false, o.seed};
    v.tracePath = trace;
    v.tolerance = o.tolerance;
    int differing = 0;
    try {
      differing = verifyTrace(*module, v, sm, std::cout, std::cerr);
    } catch (...) {
      std::remove(trace.c_str());
      throw;
    }
    std::remove(trace.c_str());
    if (differing)
      std::cerr << "gptc: error: " << differing
                << " kernel call(s) differ from the interpreter\n";
    return differing ? kExitError : kExitOk;
  } else if (o.stage == "ptx") {
    emitPtx(*module, task, o);
  } else if (o.stage == "kernels") {
    std::cout << describeKernels(*module, task);
  } else if (o.stage == "params") {
    printParamTable(std::cout, prog);
  } else if (o.stage == "dot") {
    exportDot(*module, llvm::outs());
  } else if (o.stage == "ir" || o.stage == "grad" || o.stage == "fused") {
    mlir::OpPrintingFlags flags;
    if (o.printLocations)
      flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false);
    module->print(llvm::outs(), flags);
    llvm::outs() << "\n";
  }
  return kExitOk;
}

} // namespace

int main(int argc, char **argv) {
  try {
    Options o = parseArgs(argc, argv);
    if (o.command == "help") {
      std::cout << kUsage;
      return kExitOk;
    }
    if (o.command == "version") {
      std::cout << "gptc " << GPTC_VERSION << "\n";
      return kExitOk;
    }
    return run(o);
  } catch (const UsageError &e) {
    std::cerr << "gptc: error: " << e.message << "\n"
              << "run 'gptc --help' for usage\n";
    return kExitUsage;
  }
}
