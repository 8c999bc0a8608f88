//===- Generator.cpp - Text generation in built executables ---------------===//

#include "gptc/Runtime/Generator.h"
#include "gptc/Runtime/Checkpoint.h"
#include "gptc/Runtime/Tokenizer.h"
#include "gptc/Support/Json.h"
#include "gptc/Support/ReadFile.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <tuple>

namespace gptc {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// How many leading bytes of `s` end on a UTF-8 character boundary: a
/// token may end inside a character that the next one completes.
size_t completeUtf8(const std::string &s) {
  size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80)
      continue; // a continuation byte
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

} // namespace

void generateTokens(Executor &exec, SafetensorsFile &state,
                    std::vector<uint32_t> &ids, int64_t count, int64_t context,
                    const SamplingOptions &sampling, std::mt19937_64 &rng,
                    const std::vector<uint32_t> &stops,
                    const std::function<void(uint32_t)> &emit) {
  state.tensors.erase("targets");
  for (int64_t i = 0; i < count; ++i) {
    size_t start = ids.size() > static_cast<size_t>(context)
                       ? ids.size() - static_cast<size_t>(context)
                       : 0;
    std::vector<double> window(ids.begin() + start, ids.end());
    int64_t t = static_cast<int64_t>(window.size());
    state.tensors["tokens"] =
        TensorData::fromDoubles(DType::I32, {1, t}, window);
    TensorData logits =
        exec.run("forward", state, "the prompt", 0,
                 [](const std::string &n) { return n == "logits"; })
            .at("logits");
    int64_t vocab = logits.shape.back();
    const float *last =
        reinterpret_cast<const float *>(logits.bytes.data()) + (t - 1) * vocab;
    uint32_t next = sampleToken(last, vocab, sampling, rng);
    ids.push_back(next);
    emit(next);
    if (std::count(stops.begin(), stops.end(), next))
      return;
  }
}

namespace {

/// One sequence of a cached batch. The cache holds the keys and values of
/// ids[start, start + fed); the next token to feed is ids[start + fed].
struct Sequence {
  std::vector<uint32_t> ids;
  size_t promptSize = 0, start = 0, fed = 0;
  int64_t made = 0;
  bool done = false;
  std::mt19937_64 rng;
  std::string bytes; ///< The generated text's bytes, streamed up to `shown`.
  size_t shown = 0;
  std::vector<float> logits; ///< Those of every sampled token (--logits-out).
};

/// Generation with the compiler's @prefill and @decode: the caches live in
/// `state` (written in place by the kernels), each step feeds one token per
/// sequence at its own position.
class CachedBatch {
public:
  CachedBatch(Executor &exec, SafetensorsFile &state,
              std::vector<Sequence> &seqs, const GeneratorOptions &o,
              int64_t context, const std::vector<uint32_t> &stops,
              const std::function<void(size_t)> &emitted)
      : exec(exec), state(state), seqs(seqs), o(o), context(context),
        stops(stops), emitted(emitted) {
    const PlanFunction *decode = exec.getPlan().find("decode");
    size_t longest = 0;
    for (const Sequence &s : seqs)
      longest = std::max(longest, s.ids.size());
    // Room for every token, up to the context (then the window slides).
    capacity = std::min<int64_t>(context, static_cast<int64_t>(longest) +
                                              o.maxNewTokens);
    for (const PlanValue &v : decode->values) {
      if (v.kind != PlanValue::Input || v.name.rfind("cache.", 0) != 0)
        continue;
      // [B, H, S, D], as --gpt-kv-cache lays caches out.
      TensorData t;
      if (v.shape.size() != 4)
        throw RuntimeError("decode's input '" + v.name + "' is not a cache");
      t.shape = {static_cast<int64_t>(seqs.size()), v.shape[1].eval({}),
                 capacity, v.shape[3].eval({})};
      t.bytes.assign(static_cast<size_t>(t.numel()) * 4, 0);
      state.tensors[v.name] = std::move(t);
    }
  }

  /// Runs until every sequence is done; returns (prefill, decode) seconds.
  std::pair<double, double> run() {
    double prefill = 0, decode = 0;
    auto start = Clock::now();
    refill(0);
    prefill += secondsSince(start);
    for (;;) {
      bool active = false, full = false;
      for (const Sequence &s : seqs) {
        active |= !s.done;
        full |= !s.done && static_cast<int64_t>(s.fed) == capacity;
      }
      if (!active)
        break;
      start = Clock::now();
      if (full) {
        // Slide the window: keep the last 3/4 of the context and refill.
        refill(capacity - capacity / 4);
        prefill += secondsSince(start);
        continue;
      }
      step();
      decode += secondsSince(start);
    }
    return {prefill, decode};
  }

  int64_t prefillTokens = 0, decodeTokens = 0;

private:
  Executor &exec;
  SafetensorsFile &state;
  std::vector<Sequence> &seqs;
  const GeneratorOptions &o;
  int64_t context, capacity = 0;
  const std::vector<uint32_t> &stops;
  std::function<void(size_t)> emitted;

  /// Runs @prefill on the last `keep` tokens of every sequence (all of them
  /// up to the context when 0), over the length they share; longer windows
  /// catch up one token per decode step.
  void refill(int64_t keep) {
    size_t common = SIZE_MAX;
    for (Sequence &s : seqs) {
      size_t window = std::min<size_t>(
          s.ids.size(), static_cast<size_t>(keep ? keep : context));
      s.start = s.ids.size() - window;
      common = std::min(common, window);
    }
    std::vector<double> tokens;
    for (Sequence &s : seqs) {
      for (size_t i = 0; i < common; ++i)
        tokens.push_back(s.ids[s.start + i]);
      s.fed = common;
    }
    int64_t B = static_cast<int64_t>(seqs.size());
    state.tensors["tokens"] = TensorData::fromDoubles(
        DType::I32, {B, static_cast<int64_t>(common)}, tokens);
    state.tensors.erase("positions");
    prefillTokens += B * static_cast<int64_t>(common);
    consume(run("prefill"), false);
  }

  /// One token per sequence: its next unfed token (a prompt's rest, or the
  /// last one sampled); finished sequences repeat their last slot.
  void step() {
    std::vector<double> tokens, positions;
    for (Sequence &s : seqs) {
      bool feeds = !s.done && s.start + s.fed < s.ids.size();
      tokens.push_back(feeds ? s.ids[s.start + s.fed] : s.ids.back());
      positions.push_back(static_cast<double>(
          std::min<int64_t>(static_cast<int64_t>(s.fed), capacity - 1)));
      if (feeds)
        ++s.fed;
    }
    int64_t B = static_cast<int64_t>(seqs.size());
    state.tensors["tokens"] =
        TensorData::fromDoubles(DType::I32, {B, 1}, tokens);
    state.tensors["positions"] =
        TensorData::fromDoubles(DType::I32, {B, 1}, positions);
    consume(run("decode"), true);
  }

  TensorData run(const std::string &fn) {
    return std::move(
        exec.run(fn, state, "generation", 0,
                 [](const std::string &n) { return n == "logits"; })
            .at("logits"));
  }

  /// Samples the next token of every sequence whose tokens are all fed.
  void consume(const TensorData &logits, bool decoding) {
    int64_t vocab = logits.shape.back();
    const float *rows = reinterpret_cast<const float *>(logits.bytes.data());
    for (size_t b = 0; b < seqs.size(); ++b) {
      Sequence &s = seqs[b];
      if (s.done || s.start + s.fed != s.ids.size())
        continue;
      // --max-new-tokens 0: the prompt only, as without the cache.
      if (s.made >= o.maxNewTokens) {
        s.done = true;
        continue;
      }
      const float *row = rows + b * vocab;
      if (!o.logitsOut.empty())
        s.logits.insert(s.logits.end(), row, row + vocab);
      uint32_t next = sampleToken(row, vocab, o.sampling, s.rng);
      s.ids.push_back(next);
      ++s.made;
      decodeTokens += decoding;
      s.done = s.made >= o.maxNewTokens ||
               std::count(stops.begin(), stops.end(), next);
      emitted(b);
    }
  }
};

} // namespace

std::vector<uint32_t> stopIds(uint32_t endOfText, const std::string &weights) {
  std::vector<uint32_t> stops{endOfText};
  std::error_code ec;
  std::filesystem::path config = std::filesystem::path(weights) / "config.json";
  if (!std::filesystem::is_directory(weights, ec) ||
      !std::filesystem::exists(config, ec))
    return stops;
  Json j = parseJson(
      readFileBounded(config.string(), kMaxSourceBytes, "config.json"),
      config.string());
  Json eos = j.is_object() ? j.value("eos_token_id", Json()) : Json();
  for (const Json &id : eos.is_array() ? eos : Json::array({eos}))
    if (id.is_number_unsigned())
      stops.push_back(id.get<uint32_t>());
    else if (!id.is_null())
      throw RuntimeError(config.string() +
                         ": eos_token_id must be a token "
                         "id or a list of them, got " +
                         eos.dump());
  return stops;
}

int runGenerator(Executor &exec, const GeneratorOptions &o) {
  const Plan &plan = exec.getPlan();
  const PlanFunction *forward = plan.find("forward");
  if (!forward)
    throw RuntimeError("this executable has no forward function");
  if (std::string problem = forward->nextTokenLogitsProblem(); !problem.empty())
    throw RuntimeError("this executable cannot generate text: " + problem);
  if (o.weights.empty())
    throw RuntimeError("generation needs the model's weights: --weights FILE "
                       "(a gptc checkpoint, Hugging Face GPT-2 safetensors "
                       "or llm.c's gpt2_*.bin)");
  int64_t context = forward->contextLimit();
  if (context <= 0)
    throw RuntimeError("this executable's forward function has no context "
                       "length");
  bool cached = o.kvCache && plan.find("prefill") && plan.find("decode");
  if (!o.logitsOut.empty() && !cached)
    throw RuntimeError("--logits-out needs an executable built with "
                       "--task=generate (the KV-cached functions)");
  SafetensorsFile state;
  for (auto &[name, t] :
       importWeights(o.weights, planParameters(plan, "forward"), hfNames(plan)))
    state.tensors[name] = std::move(t);
  // The weights keep their values to the end: on the CPU the matmuls get
  // them packed once, and the copies only the packed form needs go.
  for (const std::string &name : exec.packConstantParameters(
           state, [](const std::string &) { return true; }, o.weightFormat))
    state.tensors.erase(name);
  if (o.weightFormat != WeightFormat::F32 && !exec.packedBytes())
    throw RuntimeError(std::string("--weight-format ") +
                       weightFormatName(o.weightFormat) +
                       " needs the matmuls' weights packed on the CPU; this "
                       "executable " +
                       (exec.onDevice() ? "runs on a GPU" : "packs none") +
                       " (use --weight-format f32)");
  // On a GPU the weights and the KV caches stay there: only the tokens and
  // positions travel at each step.
  exec.keepOnDevice([](const std::string &name) {
    return name != "tokens" && name != "positions";
  });

  Tokenizer tok = Tokenizer::load(o.tokenizer);
  std::vector<uint32_t> stops;
  if (o.stopAtEos)
    stops = stopIds(tok.endOfText(), o.weights);
  std::vector<Sequence> seqs;
  auto add = [&](std::vector<uint32_t> ids) {
    if (ids.empty())
      throw RuntimeError("a prompt has no tokens");
    Sequence s;
    s.promptSize = ids.size();
    s.ids = std::move(ids);
    // Sequence i draws from seed + i, so a batch samples as its prompts
    // would one by one.
    s.rng.seed(o.seed + seqs.size());
    seqs.push_back(std::move(s));
  };
  for (const std::vector<uint32_t> &ids : o.promptIds)
    add(ids);
  // Text prompts get the tokenizer's template (Llama 3's BOS); id prompts
  // are taken as given.
  for (const std::string &text : o.prompts) {
    std::vector<uint32_t> ids = tok.prefix();
    for (uint32_t id : tok.encode(text, Tokenizer::Special::Allow))
      ids.push_back(id);
    add(std::move(ids));
  }
  bool showPrompt = !o.prompts.empty() || !o.printIds;
  // One sequence streams its text as it comes; a batch prints each at the
  // end.
  bool stream = seqs.size() == 1;
  auto flush = [&](Sequence &s, bool all) {
    size_t ready = all ? s.bytes.size() : completeUtf8(s.bytes);
    std::string text = s.bytes.substr(s.shown, ready - s.shown);
    std::cout << (all ? toValidUtf8(text) : text);
    std::cout.flush();
    s.shown = ready;
  };
  auto emitted = [&](size_t b) {
    Sequence &s = seqs[b];
    s.bytes += tok.decodeBytes({s.ids.back()});
    if (stream)
      flush(s, false);
  };
  if (stream && showPrompt) {
    std::cout << tok.decode(seqs[0].ids);
    std::cout.flush();
  }

  double prefill = 0, decode = 0;
  int64_t prefillTokens = 0, decodeTokens = 0;
  if (cached) {
    CachedBatch batch(exec, state, seqs, o, context, stops, emitted);
    std::tie(prefill, decode) = batch.run();
    prefillTokens = batch.prefillTokens;
    decodeTokens = batch.decodeTokens;
  } else {
    // Without the cached functions (--no-kv-cache, or an executable built
    // without them), every step recomputes the window: one prompt at a time.
    for (size_t b = 0; b < seqs.size(); ++b) {
      Sequence &s = seqs[b];
      auto start = Clock::now();
      prefillTokens += static_cast<int64_t>(s.ids.size());
      generateTokens(exec, state, s.ids, o.maxNewTokens, context, o.sampling,
                     s.rng, stops, [&](uint32_t) {
                       (s.made++ ? decode : prefill) += secondsSince(start);
                       decodeTokens += s.made > 1;
                       emitted(b);
                       start = Clock::now();
                     });
    }
  }

  for (size_t b = 0; b < seqs.size(); ++b) {
    Sequence &s = seqs[b];
    if (!stream) {
      if (seqs.size() > 1)
        std::cout << "[" << b << "] ";
      if (showPrompt)
        std::cout << tok.decode(
            std::vector<uint32_t>(s.ids.begin(), s.ids.begin() + s.promptSize));
    }
    flush(s, true);
    std::cout << "\n";
    if (o.printIds) {
      std::cout << "ids:";
      for (size_t i = s.promptSize; i < s.ids.size(); ++i)
        std::cout << " " << s.ids[i];
      std::cout << "\n";
    }
  }
  if (!o.logitsOut.empty()) {
    SafetensorsFile out;
    for (size_t b = 0; b < seqs.size(); ++b) {
      TensorData t;
      int64_t made = seqs[b].made;
      t.shape = {made,
                 made ? static_cast<int64_t>(seqs[b].logits.size()) / made : 0};
      t.bytes.resize(seqs[b].logits.size() * 4);
      std::memcpy(t.bytes.data(), seqs[b].logits.data(), t.bytes.size());
      out.tensors["logits." + std::to_string(b)] = std::move(t);
    }
    writeSafetensors(o.logitsOut, out);
  }
  auto rate = [](int64_t n, double s) {
    return n > 0 ? static_cast<int64_t>(n / std::max(s, 1e-9)) : 0;
  };
  if (int64_t bytes = exec.packedBytes())
    std::cerr << "weights: " << weightFormatName(o.weightFormat) << ", "
              << (bytes + (1 << 19)) / (1 << 20)
              << " MiB packed for the matmuls\n";
  std::cerr << "prefill: " << prefillTokens << " tokens, "
            << rate(prefillTokens, prefill)
            << " tokens/s; decode: " << decodeTokens << " tokens, "
            << rate(decodeTokens, decode) << " tokens/s"
            << (cached ? " (KV cache" : " (no KV cache") << ", batch "
            << (cached ? seqs.size() : 1) << ")\n";
  return 0;
}

} // namespace gptc
