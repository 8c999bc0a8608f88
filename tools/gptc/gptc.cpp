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
#include "gptc/Support/Flags.h"
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
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace gptc;

namespace fs = std::filesystem;

namespace {

constexpr int kExitOk = 0, kExitError = 1;

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
  std::string weightFormat = "f32"; ///< build: the generator's default
  std::string cacheDir;
  int jobs = 0;
  int threads = 0;
  bool profile = false;
};

struct UsageError {
  std::string message;
};

/// The command line as subcommands, each declaring the flags it takes.
/// Flags shared by several commands bind to the same Options field.
void declareFlags(CLI::App &app, Options &o) {
  wrapHelp(app, 30);
  app.footer("Exit status: 0 success, 1 an error in the model, config or "
             "data, 2 a usage error. 'gptc COMMAND --help' lists a "
             "command's flags.");
  app.set_version_flag("--version", "gptc " GPTC_VERSION);
  app.require_subcommand(1);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  auto all = [](CLI::Option *opt) {
    return opt->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  };
  auto command = [&](const std::string &name, const std::string &help) {
    CLI::App *sub = app.add_subcommand(name, help);
    sub->callback([&o, name] { o.command = name; });
    return sub;
  };
  // Every command but tokenize reads a model for a config.
  auto model = [&](CLI::App *sub) {
    sub->add_option("MODEL.gpt", o.model, "the model")
        ->required()
        ->type_name("MODEL.gpt");
    sub->add_option("--config", o.config,
                    "model config (YAML), e.g. "
                    "models/configs/gpt2-124m.yaml")
        ->type_name("FILE");
    all(sub->add_option("--set", o.sets,
                        "override one config value (repeatable)"))
        ->type_name("KEY=VALUE");
    all(sub->add_option("-I,--include", o.includes,
                        "search DIR for imports after the model's folder "
                        "(repeatable)"))
        ->type_name("DIR");
    sub->add_option("--train-config", o.trainConfig,
                    "training config (YAML, models/train/): trainable and "
                    "decayed parameters, AdamW betas/eps, clipping")
        ->type_name("FILE");
    sub->add_flag("--print-ir-after-all", o.printAfterAll,
                  "print the IR after every pass (to stderr)");
    all(sub->add_option("--print-ir-after", o.printAfter,
                        "print the IR after the pass with that flag name "
                        "(e.g. gpt-shape-inference; repeatable)"))
        ->type_name("PASS");
  };
  // Commands that compile kernels.
  auto compiled = [&](CLI::App *sub) {
    sub->add_option("--task", o.task,
                    "forward (logits and loss), train (plus the AdamW "
                    "training step) or generate (forward plus the KV-cached "
                    "prefill and decode steps)")
        ->check(CLI::IsMember({"forward", "train", "generate"}))
        ->type_name("TASK");
    sub->add_option("--target", o.target,
                    "cpu (this machine), cpu-avx2, cpu-avx512 or cuda "
                    "(NVIDIA GPUs, sm_80 and later; for build and emit "
                    "--stage=ptx)")
        ->check(CLI::IsMember({"cpu", "cpu-avx2", "cpu-avx512", "cuda"}))
        ->type_name("TARGET")
        ->capture_default_str();
    sub->add_flag_callback(
        "--no-fuse-attention", [&o] { o.fuseAttention = false; },
        "keep attention as written (no flash-attention kernels)");
    sub->add_option("--cache-dir", o.cacheDir,
                    "kernel cache (default $GPTC_CACHE_DIR, else "
                    "~/.cache/gptc)")
        ->type_name("DIR");
    sub->add_option("--jobs", o.jobs,
                    "kernel generators at once (0: all cores)")
        ->check(integerIn(0, 1024))
        ->type_name("N");
  };

  model(command("check", "parse and verify the model for a config; errors "
                         "as file:line:col"));

  CLI::App *info = command("info", "config, entry points, parameter count, "
                                   "FLOPs and memory");
  model(info);
  all(info->add_option_function<std::string>(
          "--dim",
          [&o](const std::string &d) {
            // Sizes up to 2^20 keep every product the reports form (B * T *
            // vocabulary * bytes) within int64.
            size_t eq = d.find('=');
            std::string size = eq == std::string::npos ? "" : d.substr(eq + 1);
            if (eq == 0 || eq == std::string::npos ||
                !integerIn(1, 1 << 20)(size).empty())
              throw CLI::ValidationError(
                  "--dim", "expects NAME=SIZE with a size from 1 to " +
                               std::to_string(1 << 20) + ", got '" + d + "'");
            o.dims[d.substr(0, eq)] = std::stoll(size);
          },
          "size of a symbolic dim for FLOPs and memory (default 1, and T = "
          "context_length when configured; repeatable)"))
      ->type_name("NAME=SIZE")
      ->trigger_on_parse();

  CLI::App *emit = command("emit", "print a compiler stage");
  model(emit);
  emit->add_option("--stage", o.stage,
                   "ast (syntax tree with locations), params (parameter "
                   "table with Hugging Face names), ir (the gpt dialect, one "
                   "func per entry point), grad (plus @loss_grad and the "
                   "AdamW @train_step), fused (ops grouped into gpt.kernel "
                   "ops), kernels (the kernel descriptions and the host "
                   "plan), ptx (with --target=cuda; -o DIR: one .ptx per "
                   "kernel), dot (a Graphviz graph: dot -Tsvg model.dot -o "
                   "model.svg)")
      ->required()
      ->check(CLI::IsMember(
          {"ast", "params", "ir", "grad", "fused", "kernels", "ptx", "dot"}))
      ->type_name("STAGE");
  compiled(emit);
  emit->add_flag_callback(
      "--no-loc", [&o] { o.printLocations = false; },
      "for --stage=ir: omit source locations");
  emit->add_option("-o", o.output, "for --stage=ptx: the folder of .ptx files")
      ->type_name("DIR");

  CLI::App *build = command("build", "compile to a native executable");
  model(build);
  compiled(build);
  build->add_option("-o", o.output, "the executable")
      ->required()
      ->type_name("EXE");
  build
      ->add_option("--weight-format", o.weightFormat,
                   "the executable's default --weight-format when generating "
                   "or evaluating: f32, bf16 or int8 (the matmuls' weights, "
                   "packed when loaded; the executable's flag overrides it)")
      ->check(CLI::IsMember({"f32", "bf16", "int8"}))
      ->type_name("F")
      ->capture_default_str();

  CLI::App *run = command(
      "run", "build and run the run contract: parameters, tokens and "
             "optional targets in; logits and loss out; with lr and the "
             "AdamW state, one training step");
  model(run);
  compiled(run);
  run->add_option("--inputs", o.inputs, "input tensors")
      ->required()
      ->type_name("IN.safetensors");
  run->add_option("-o", o.output, "output tensors")
      ->required()
      ->type_name("OUT.safetensors");
  CLI::Option *interpret =
      run->add_flag("--interpret", o.interpret,
                    "use the reference interpreter (double precision) instead");
  run->add_flag("--verify", o.verify,
                "compare every kernel call with the interpreter and name the "
                "first that differs, with its .gpt line (exit 1 if one "
                "differs)")
      ->excludes(interpret);
  run->add_option("--tolerance", o.tolerance,
                  "for --verify: largest accepted error relative to an "
                  "output's largest magnitude")
      ->check(numberIn(0, std::numeric_limits<double>::infinity()))
      ->type_name("X")
      ->capture_default_str();
  run->add_flag("--fp32", o.fp32,
                "with --interpret: round every result to float32");
  run->add_option("--seed", o.seed, "dropout seed of a training step")
      ->check(integerIn(0, std::numeric_limits<int64_t>::max()))
      ->type_name("N")
      ->capture_default_str();
  run->add_option("--threads", o.threads, "worker threads (0: all cores)")
      ->check(integerIn(0, 1024))
      ->type_name("N");
  run->add_flag("--profile", o.profile, "time and GFLOP/s per kernel");

  CLI::App *tokenize = command(
      "tokenize", "GPT-2 BPE: text (FILE or stdin) to token ids separated by "
                  "spaces; --decode turns ids back into text");
  tokenize->add_option("file", o.model, "the text (default: stdin)")
      ->type_name("FILE");
  tokenize
      ->add_option("--tokenizer", o.tokenizer,
                   "gpt2.tiktoken, encoder.json or a Hugging Face "
                   "tokenizer.json (default: "
                   "data/gpt2.tiktoken, or $GPTC_DATA_DIR/gpt2.tiktoken)")
      ->type_name("FILE");
  tokenize->add_flag("--decode", o.decode, "ids to text");
  CLI::Option *allow = tokenize->add_flag("--allow-special", o.allowSpecial,
                                          "<|endoftext|> becomes token 50256");
  tokenize
      ->add_flag("--special-as-text", o.specialAsText,
                 "<|endoftext|> is ordinary text")
      ->excludes(allow);
  tokenize->add_flag("--lossy", o.lossy, "replace invalid UTF-8 by U+FFFD");
}

int compile(const Options &o, SourceManager &sm);

/// `gptc tokenize`: text to ids or, with --decode, ids to text.
int tokenize(const Options &o) {
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
  // Checks across flags; each command's own flags and their values were
  // checked when parsing.
  if (o.target == "cuda" && o.command != "build" && o.stage != "ptx")
    throw UsageError{"--target=cuda is for build and emit --stage=ptx"};
  if (o.stage == "ptx" && o.target != "cuda")
    throw UsageError{"--stage=ptx needs --target=cuda"};
  if (o.target == "cuda" && o.weightFormat != "f32")
    throw UsageError{"--weight-format " + o.weightFormat +
                     " packs weights for the CPU's kernels; a cuda "
                     "executable keeps f32"};
  if (o.command == "emit" && !o.output.empty() && o.stage != "ptx")
    throw UsageError{"emit -o is for --stage=ptx (a folder of .ptx files); "
                     "other stages print to stdout"};

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
    std::set<std::string> frozen;
    for (const Parameter &p : prog.params) {
      names.push_back(p.name);
      if (p.frozen)
        frozen.insert(p.name);
    }
    checkParameterPatterns(train, names, frozen);
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
              << groupDigits(prog.numParameters()) << " parameters";
    if (prog.numParameters(true) != prog.numParameters())
      std::cout << ", " << groupDigits(prog.numParameters(true))
                << " trainable";
    std::cout << ")\n";
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
    b.weightFormat = o.weightFormat;
    if (task == "train") {
      b.cpuFeatures = precisionCpuFeatures(train, o.target);
      b.precision = train.precision;
    }
    for (const Parameter &p : prog.params) {
      PlanInit init{p.name, "zeros", 0};
      if (p.init.kind == Initializer::Kind::Normal)
        init = {p.name, "normal", p.init.scale};
      else if (p.init.kind == Initializer::Kind::Uniform)
        init = {p.name, "uniform", p.init.scale};
      else if (p.init.kind == Initializer::Kind::Ones)
        init.kind = "ones";
      b.model.inits.push_back(init);
      for (auto &[scheme, name] : p.mappedNames)
        b.model.renames[scheme][p.name] = name;
    }
    for (const Merge &m : prog.merges)
      b.model.merges.push_back({m.target, m.a, m.b, m.scale});
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
  CLI::App app("gptc - a compiler for GPT-style language models", "gptc");
  Options o;
  declareFlags(app, o);
  try {
    // CLI11 would call an unknown command an unexpected argument.
    if (argc > 1 && argv[1][0] != '-') {
      std::string known;
      for (const CLI::App *sub :
           app.get_subcommands([](const CLI::App *) { return true; }))
        known += (known.empty() ? "" : ", ") + sub->get_name();
      try {
        app.get_subcommand(argv[1]);
      } catch (const CLI::OptionNotFound &) {
        throw UsageError{"unknown command '" + std::string(argv[1]) +
                         "'; expected one of " + known};
      }
    }
    if (std::optional<int> status = parseFlags(app, argc, argv))
      return *status;
    return run(o);
  } catch (const UsageError &e) {
    std::cerr << "gptc: error: " << e.message << "\n"
              << "run 'gptc --help' for the options\n";
    return kExitUsage;
  }
}
