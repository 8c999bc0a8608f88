//===- TrainConfig.cpp - Training configs (models/train/*.yaml) -----------===//

#include "gptc/Support/TrainConfig.h"
#include "gptc/Support/CpuFeatures.h"
#include "gptc/Support/Glob.h"

#include <cmath>
#include <functional>
#include <map>
#include <set>

namespace gptc {

namespace {

double parseFloat(const ConfigEntry &e) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(e.value, &used);
  } catch (...) {
    used = 0;
  }
  if (e.isList || used != e.value.size() || e.value.empty() ||
      !std::isfinite(v))
    throw CompileError(e.valueLoc, "training key '" + e.key +
                                       "' expects a number, found '" + e.value +
                                       "'");
  return v;
}

int64_t parseInt(const ConfigEntry &e) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(e.value, &used, 10);
  } catch (...) {
    used = 0;
  }
  if (e.isList || used != e.value.size() || e.value.empty())
    throw CompileError(e.valueLoc, "training key '" + e.key +
                                       "' expects an integer, found '" +
                                       e.value + "'");
  return v;
}

void check(bool ok, const ConfigEntry &e, const std::string &what) {
  if (!ok)
    throw CompileError(e.valueLoc, "training key '" + e.key + "' must be " +
                                       what + ", got " + e.value);
}

} // namespace

TrainConfig loadTrainConfig(SourceManager &sm, const std::string &path) {
  return parseTrainConfig(sm.load(path));
}

TrainConfig parseTrainConfig(const SourceFile &source) {
  ConfigFile file = parseConfig(source);
  TrainConfig c;
  c.path = source.path;
  using Setter = std::function<void(const ConfigEntry &)>;
  auto positive = [](double v) { return v > 0; };
  auto nonNegative = [](double v) { return v >= 0; };
  auto floatKey = [&](double &field, std::function<bool(double)> ok,
                      const char *what) -> Setter {
    return [&field, ok, what](const ConfigEntry &e) {
      field = parseFloat(e);
      check(ok(field), e, what);
    };
  };
  auto intKey = [&](int64_t &field, bool allowZero) -> Setter {
    return [&field, allowZero](const ConfigEntry &e) {
      field = parseInt(e);
      check(allowZero ? field >= 0 : field > 0, e,
            allowZero ? "non-negative" : "positive");
    };
  };
  auto patterns = [](std::vector<std::string> &field,
                     Location &where) -> Setter {
    return [&field, &where](const ConfigEntry &e) {
      if (!e.isList)
        throw CompileError(e.valueLoc,
                           "training key '" + e.key +
                               "' expects a list of parameter patterns, e.g. "
                               "[\"h.11.*\", \"ln_f.*\"]");
      field = e.list;
      where = e.valueLoc;
    };
  };
  auto boolKey = [](bool &field) -> Setter {
    return [&field](const ConfigEntry &e) {
      if (e.isList || (e.value != "true" && e.value != "false"))
        throw CompileError(e.valueLoc, "training key '" + e.key +
                                           "' expects true or false, found '" +
                                           e.value + "'");
      field = e.value == "true";
    };
  };
  auto unitInterval = [](double v) { return v > 0 && v < 1; };
  std::map<std::string, Setter> keys = {
      {"trainable", patterns(c.trainable, c.trainableLoc)},
      {"decay", patterns(c.decay, c.decayLoc)},
      {"beta1", floatKey(c.beta1, unitInterval, "in (0, 1)")},
      {"beta2", floatKey(c.beta2, unitInterval, "in (0, 1)")},
      {"eps", floatKey(c.eps, positive, "positive")},
      {"clip_grad_norm",
       floatKey(c.clipGradNorm, nonNegative, "non-negative (0 disables)")},
      {"lr", floatKey(c.lr, positive, "positive")},
      {"initial_lr", floatKey(c.initialLr, nonNegative, "non-negative")},
      {"min_lr", floatKey(c.minLr, nonNegative, "non-negative")},
      {"warmup_steps", intKey(c.warmupSteps, true)},
      {"weight_decay", floatKey(c.weightDecay, nonNegative, "non-negative")},
      {"batch_size", intKey(c.batchSize, false)},
      {"micro_batch_size", intKey(c.microBatchSize, true)},
      {"context_length", intKey(c.contextLength, false)},
      {"stride", intKey(c.stride, false)},
      {"epochs", intKey(c.epochs, false)},
      {"max_steps", intKey(c.maxSteps, true)},
      {"train_ratio", floatKey(c.trainRatio, unitInterval, "in (0, 1)")},
      {"eval_interval", intKey(c.evalInterval, true)},
      {"eval_iters", intKey(c.evalIters, true)},
      {"checkpoint_interval", intKey(c.checkpointInterval, true)},
      {"sample_interval", intKey(c.sampleInterval, true)},
      {"sample_prompt",
       [&c](const ConfigEntry &e) { c.samplePrompt = e.value; }},
      {"seed", intKey(c.seed, true)},
      {"split",
       [&c](const ConfigEntry &e) {
         const char *what = "a list of three fractions (train, validation, "
                            "test) adding up to 1, e.g. [0.7, 0.1, 0.2]";
         if (!e.isList || e.list.size() != 3)
           throw CompileError(e.valueLoc, "training key 'split' expects " +
                                              std::string(what));
         c.split.clear();
         double sum = 0;
         for (const std::string &v : e.list) {
           ConfigEntry one = e;
           one.isList = false;
           one.value = v;
           c.split.push_back(parseFloat(one));
           check(c.split.back() >= 0 && c.split.back() <= 1, one,
                 "a list of fractions in [0, 1]");
           sum += c.split.back();
         }
         if (std::abs(sum - 1) > 1e-9 || c.split[0] <= 0)
           throw CompileError(e.valueLoc, "training key 'split' expects " +
                                              std::string(what) +
                                              " with a positive train part");
       }},
      {"balance", boolKey(c.balance)},
      {"classes",
       [&c](const ConfigEntry &e) {
         if (!e.isList || e.list.empty())
           throw CompileError(e.valueLoc,
                              "training key 'classes' expects the class names "
                              "in id order, e.g. [\"ham\", \"spam\"]");
         std::set<std::string> seen;
         for (const std::string &name : e.list)
           if (!seen.insert(name).second)
             throw CompileError(e.valueLoc, "training key 'classes' names '" +
                                                name + "' twice");
         c.classes = e.list;
       }},
      {"precision",
       [&c](const ConfigEntry &e) {
         if (e.isList || (e.value != "f32" && e.value != "bf16"))
           throw CompileError(e.valueLoc,
                              "training key 'precision' expects f32 or bf16 "
                              "(bf16: the matmuls' operands rounded to bf16, "
                              "everything else in fp32), found '" +
                                  e.value + "'");
         c.precision = e.value;
         c.precisionLoc = e.valueLoc;
       }},
      {"mask_instruction", boolKey(c.maskInstruction)},
      {"response_tokens", intKey(c.responseTokens, true)},
  };
  for (const ConfigEntry &e : file.entries) {
    auto it = keys.find(e.key);
    if (it == keys.end()) {
      std::string known;
      for (auto &[k, s] : keys)
        known += (known.empty() ? "" : ", ") + k;
      throw CompileError(e.keyLoc, "unknown training key '" + e.key +
                                       "'; the keys are " + known);
    }
    it->second(e);
  }
  return c;
}

std::vector<std::string> precisionCpuFeatures(const TrainConfig &config,
                                              const std::string &target) {
  if (config.precision != "bf16")
    return {};
  const char *why = nullptr;
  if (target == "cuda")
    why = "target cuda trains in fp32";
  else if (target == "cpu-avx2")
    why = "target cpu-avx2 has no AVX512-BF16";
  else if ((target == "cpu" || target == "host") &&
           missingCpuFeatures({"avx512bf16"}, hostCpuFeatures()).size())
    why = "this CPU has no AVX512-BF16 (target cpu builds for this CPU)";
  if (why)
    throw CompileError(config.precisionLoc,
                       std::string("precision bf16 needs a CPU with "
                                   "AVX512-BF16 dot products (vdpbf16ps); ") +
                           why +
                           ". Build with --target=cpu-avx512 for a CPU that "
                           "has them (Intel Cooper Lake, Sapphire Rapids and "
                           "later, AMD Zen 4 and later), or train in f32");
  return {"avx512bf16"};
}

void checkParameterPatterns(const TrainConfig &config,
                            const std::vector<std::string> &params,
                            const std::set<std::string> &frozen) {
  auto check = [&](const std::vector<std::string> &patterns, Location loc,
                   const char *key, bool trains) {
    for (const std::string &p : patterns) {
      bool any = false, anyTrainable = false;
      for (const std::string &name : params)
        if (globMatch(p, name)) {
          any = true;
          anyTrainable |= !frozen.count(name);
        }
      if (!any)
        throw CompileError(loc, std::string(key) + " pattern '" + p +
                                    "' matches no parameter of the model "
                                    "(see gptc emit --stage=params)");
      if (trains && !anyTrainable)
        throw CompileError(loc, std::string(key) + " pattern '" + p +
                                    "' matches only parameters the model "
                                    "freezes ('frozen' in its source); a "
                                    "training config can only narrow what "
                                    "the model trains");
    }
  };
  check(config.trainable, config.trainableLoc, "trainable", true);
  check(config.decay, config.decayLoc, "decay", false);
}

} // namespace gptc
