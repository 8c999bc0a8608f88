//===- Generator.cpp - Text generation in built executables ---------------===//

#include "gptc/Runtime/Generator.h"
#include "gptc/Runtime/Checkpoint.h"
#include "gptc/Runtime/Tokenizer.h"

#include <chrono>
#include <iostream>

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
                    bool stopAtEos, const std::function<void(uint32_t)> &emit) {
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
    if (stopAtEos && next == kEndOfText)
      return;
  }
}

int runGenerator(Executor &exec, const GeneratorOptions &o) {
  const Plan &plan = exec.getPlan();
  const PlanFunction *forward = plan.find("forward");
  if (!forward)
    throw RuntimeError("this executable has no forward function");
  if (o.weights.empty())
    throw RuntimeError("generation needs the model's weights: --weights FILE "
                       "(a gptc checkpoint, Hugging Face GPT-2 safetensors "
                       "or llm.c's gpt2_*.bin)");
  int64_t context = forward->contextLimit();
  if (context <= 0)
    throw RuntimeError("this executable's forward function has no context "
                       "length");
  SafetensorsFile state;
  for (auto &[name, t] :
       importWeights(o.weights, planParameters(plan, "forward"), hfNames(plan)))
    state.tensors[name] = std::move(t);

  Tokenizer tok = Tokenizer::load(o.tokenizer);
  std::vector<std::vector<uint32_t>> prompts = o.promptIds;
  for (const std::string &text : o.prompts)
    prompts.push_back(tok.encode(text, Tokenizer::Special::Allow));
  std::mt19937_64 rng(o.seed);
  for (const std::vector<uint32_t> &prompt : prompts) {
    if (prompt.empty())
      throw RuntimeError("a prompt has no tokens");
    std::vector<uint32_t> ids = prompt;
    std::string bytes;
    size_t shown = 0;
    if (!o.prompts.empty() || !o.printIds) {
      std::cout << tok.decode(prompt);
      std::cout.flush();
    }
    // The first step reads the whole prompt (prefill); each later one adds
    // a token (decode).
    double prefill = 0, decode = 0;
    int64_t made = 0;
    auto start = Clock::now();
    generateTokens(exec, state, ids, o.maxNewTokens, context, o.sampling, rng,
                   o.stopAtEos, [&](uint32_t id) {
                     (made++ ? decode : prefill) += secondsSince(start);
                     bytes += tok.decodeBytes({id});
                     size_t ready = completeUtf8(bytes);
                     std::cout << bytes.substr(shown, ready - shown);
                     std::cout.flush();
                     shown = ready;
                     start = Clock::now();
                   });
    std::cout << toValidUtf8(bytes.substr(shown)) << "\n";
    if (o.printIds) {
      std::cout << "ids:";
      for (size_t i = prompt.size(); i < ids.size(); ++i)
        std::cout << " " << ids[i];
      std::cout << "\n";
    }
    std::cerr << "prefill: " << prompt.size() << " tokens, "
              << static_cast<int64_t>(prompt.size() / std::max(prefill, 1e-9))
              << " tokens/s; decode: " << made - 1 << " tokens, "
              << (made > 1 ? static_cast<int64_t>((made - 1) /
                                                  std::max(decode, 1e-9))
                           : 0)
              << " tokens/s\n";
  }
  return 0;
}

} // namespace gptc
