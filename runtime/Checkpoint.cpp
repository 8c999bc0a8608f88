//===- Checkpoint.cpp - Weights in other frameworks' formats --------------===//
//
// Import, in three steps:
//  1. Read the file: safetensors as is; llm.c's .bin rewritten as Hugging
//     Face tensors (its layout documented in readLlmcCheckpoint); a Hugging
//     Face model folder's model.safetensors, or the shards its
//     model.safetensors.index.json lists, merged.
//  2. Name every tensor in gptc's terms: its own name if the model has it,
//     else through the inverse of the `hf` map (with and without the
//     `transformer.` prefix). Optimizer moments and the attention-mask
//     buffers Hugging Face saves are skipped; anything else the model has no
//     place for is an error, since dropping a tensor silently (a qkv bias
//     the model lacks) would compute something else.
//  3. Check every parameter is present with its shape, converting to F32.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/Checkpoint.h"
#include "gptc/Runtime/Plan.h"
#include "gptc/Support/AtomicFile.h"
#include "gptc/Support/Json.h"
#include "gptc/Support/ReadFile.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

namespace fs = std::filesystem;

namespace gptc {

namespace {

constexpr int32_t kLlmcMagic = 20240326;
constexpr int32_t kLlmcFp32 = 3;
constexpr const char *kPrefix = "transformer.";

bool startsWith(const std::string &s, const std::string &p) {
  return s.compare(0, p.size(), p) == 0;
}

bool endsWith(const std::string &s, const std::string &p) {
  return s.size() >= p.size() &&
         s.compare(s.size() - p.size(), p.size(), p) == 0;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Whether `path` starts with llm.c's magic number.
bool isLlmc(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  int32_t magic = 0;
  in.read(reinterpret_cast<char *>(&magic), sizeof magic);
  return in && magic == kLlmcMagic;
}

TensorData f32(std::vector<int64_t> shape, const float *data) {
  TensorData t;
  t.dtype = DType::F32;
  t.shape = std::move(shape);
  t.bytes.resize(t.numel() * 4);
  std::memcpy(t.bytes.data(), data, t.bytes.size());
  return t;
}

/// [rows, cols] row-major -> [cols, rows].
TensorData f32Transposed(int64_t rows, int64_t cols, const float *data) {
  std::vector<float> t(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t[c * rows + r] = data[r * cols + c];
  return f32({cols, rows}, t.data());
}

} // namespace

NameMap hfNames(const Plan &plan) {
  auto it = plan.renames.find("hf");
  return it == plan.renames.end() ? NameMap() : it->second;
}

std::vector<ParamSpec> planParameters(const Plan &plan,
                                      const std::string &function) {
  const PlanFunction *fn = plan.find(function);
  if (!fn)
    throw RuntimeError("this executable has no '" + function + "' function");
  std::vector<ParamSpec> params;
  for (const PlanValue &v : fn->values)
    if (v.kind == PlanValue::Param) {
      ParamSpec p{v.name, {}};
      for (const SymExpr &d : v.shape)
        p.shape.push_back(d.eval({}));
      params.push_back(p);
    }
  return params;
}

SafetensorsFile readLlmcCheckpoint(const std::string &path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in)
    throw RuntimeError("cannot open '" + path + "'");
  int64_t size = in.tellg();
  in.seekg(0);
  int32_t h[256] = {};
  if (size < static_cast<int64_t>(sizeof h) ||
      !in.read(reinterpret_cast<char *>(h), sizeof h))
    throw RuntimeError(path + ": shorter than llm.c's 1024-byte header");
  if (h[0] != kLlmcMagic)
    throw RuntimeError(path + ": not an llm.c checkpoint (magic " +
                       std::to_string(h[0]) + ", expected 20240326)");
  if (h[1] != kLlmcFp32)
    throw RuntimeError(path + ": llm.c checkpoint version " +
                       std::to_string(h[1]) +
                       "; only version 3 (fp32) is supported");
  int64_t maxT = h[2], V = h[3], L = h[4], NH = h[5], C = h[6], Vp = h[7];
  if (maxT <= 0 || V <= 0 || L <= 0 || NH <= 0 || C <= 0 || Vp < V ||
      C % NH != 0 || C > (1 << 16) || L > 4096 || Vp > (1 << 24) ||
      maxT > (1 << 24))
    throw RuntimeError(path + ": implausible llm.c header (max_seq_len " +
                       std::to_string(maxT) + ", vocab " + std::to_string(V) +
                       ", padded vocab " + std::to_string(Vp) + ", layers " +
                       std::to_string(L) + ", heads " + std::to_string(NH) +
                       ", channels " + std::to_string(C) + ")");
  // llm.c's order: wte, wpe, then each kind of per-layer tensor for all
  // layers at once, then ln_f. Matmul weights are (out, in).
  struct Kind {
    const char *name;
    int64_t rows, cols; ///< cols 0: a vector of `rows`.
    bool transpose;
  };
  const std::vector<Kind> perLayer = {
      {"ln_1.weight", C, 0, false},
      {"ln_1.bias", C, 0, false},
      {"attn.c_attn.weight", 3 * C, C, true},
      {"attn.c_attn.bias", 3 * C, 0, false},
      {"attn.c_proj.weight", C, C, true},
      {"attn.c_proj.bias", C, 0, false},
      {"ln_2.weight", C, 0, false},
      {"ln_2.bias", C, 0, false},
      {"mlp.c_fc.weight", 4 * C, C, true},
      {"mlp.c_fc.bias", 4 * C, 0, false},
      {"mlp.c_proj.weight", C, 4 * C, true},
      {"mlp.c_proj.bias", C, 0, false},
  };
  int64_t count = Vp * C + maxT * C + 2 * C;
  for (const Kind &k : perLayer)
    count += L * k.rows * std::max<int64_t>(k.cols, 1);
  if (size != static_cast<int64_t>(sizeof h) + 4 * count)
    throw RuntimeError(path + ": " + std::to_string(size) + " bytes, but an " +
                       "llm.c fp32 checkpoint of this header has " +
                       std::to_string(sizeof h + 4 * count) +
                       " (truncated or of another model?)");
  std::vector<float> data(count);
  if (!in.read(reinterpret_cast<char *>(data.data()), 4 * count))
    throw RuntimeError(path + ": read error");

  SafetensorsFile f;
  const float *p = data.data();
  // The padded vocabulary rows (Vp > V) are dropped.
  f.tensors["wte.weight"] = f32({V, C}, p);
  p += Vp * C;
  f.tensors["wpe.weight"] = f32({maxT, C}, p);
  p += maxT * C;
  for (const Kind &k : perLayer)
    for (int64_t l = 0; l < L; ++l) {
      std::string name = "h." + std::to_string(l) + "." + k.name;
      if (k.cols == 0) {
        f.tensors[name] = f32({k.rows}, p);
        p += k.rows;
      } else {
        f.tensors[name] = f32Transposed(k.rows, k.cols, p);
        p += k.rows * k.cols;
      }
    }
  f.tensors["ln_f.weight"] = f32({C}, p);
  f.tensors["ln_f.bias"] = f32({C}, p + C);
  return f;
}

TensorData weightValues(const std::string &path, const std::string &name,
                        const TensorData &t) {
  if (t.dtype != DType::F32 && t.dtype != DType::F64 && t.dtype != DType::F16 &&
      t.dtype != DType::BF16)
    throw RuntimeError(path + ": tensor '" + name + "' is " + t.typeStr() +
                       "; expected floating-point weights");
  TensorData f32 =
      t.dtype == DType::F32
          ? t
          : TensorData::fromDoubles(DType::F32, t.shape, t.toDoubles());
  const float *v = reinterpret_cast<const float *>(f32.bytes.data());
  for (int64_t i = 0, n = f32.numel(); i < n; ++i)
    if (!std::isfinite(v[i]))
      throw RuntimeError(path + ": tensor '" + name + "' holds " +
                         (std::isnan(v[i]) ? "NaN" : "an infinity") +
                         " at element " + std::to_string(i) +
                         " (a diverged or damaged checkpoint?)");
  return f32;
}

/// The tensors of the shards `index` (a model.safetensors.index.json)
/// lists, each checked to be where its weight_map says.
SafetensorsFile readShards(const std::string &index) {
  Json j =
      parseJson(readFileBounded(index, kMaxSourceBytes, "the index"), index);
  if (!j.is_object() || !j.contains("weight_map") ||
      !j["weight_map"].is_object())
    throw RuntimeError(index + ": expected an object with a \"weight_map\" "
                               "of tensor names to shard files");
  std::map<std::string, std::vector<std::string>> shards; // file -> names
  for (auto &[name, file] : j["weight_map"].items()) {
    if (!file.is_string() ||
        file.get<std::string>().find('/') != std::string::npos)
      throw RuntimeError(index + ": the shard of '" + name +
                         "' must be a file name in the same folder");
    shards[file.get<std::string>()].push_back(name);
  }
  SafetensorsFile all;
  fs::path dir = fs::path(index).parent_path();
  for (auto &[file, names] : shards) {
    std::string path = (dir / file).string();
    SafetensorsFile shard = readSafetensors(path);
    for (const std::string &name : names) {
      auto it = shard.tensors.find(name);
      if (it == shard.tensors.end())
        throw RuntimeError(path + ": no tensor '" + name + "', which " + index +
                           " places there");
      all.tensors[name] = std::move(it->second);
    }
    for (auto &[name, t] : shard.tensors)
      if (!all.tensors.count(name))
        throw RuntimeError(path + ": tensor '" + name + "' is not in " + index +
                           "'s weight_map");
  }
  return all;
}

/// Step 1: the weights at `path`, whatever the format.
SafetensorsFile readWeights(const std::string &path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    fs::path dir(path);
    if (fs::exists(dir / "model.safetensors.index.json"))
      return readShards((dir / "model.safetensors.index.json").string());
    if (fs::exists(dir / "model.safetensors"))
      return readSafetensors((dir / "model.safetensors").string());
    throw RuntimeError("'" + path +
                       "' is a folder without model.safetensors "
                       "or model.safetensors.index.json");
  }
  if (endsWith(path, ".index.json"))
    return readShards(path);
  // A stream (`<(cat x)`) is read once, as safetensors: sniffing would
  // consume it. llm.c files are seeked, so they must be regular files.
  return isRegularFile(path) && isLlmc(path) ? readLlmcCheckpoint(path)
                                             : readSafetensors(path);
}

/// Steps 1-3; `strict` refuses missing parameters and unplaced tensors.
MatchedWeights importParameters(const std::string &path,
                                const std::vector<ParamSpec> &params,
                                const NameMap &hf, bool strict);

std::map<std::string, TensorData>
importWeights(const std::string &path, const std::vector<ParamSpec> &params,
              const NameMap &hf) {
  return importParameters(path, params, hf, /*strict=*/true).tensors;
}

MatchedWeights importMatchingWeights(const std::string &path,
                                     const std::vector<ParamSpec> &params,
                                     const NameMap &hf) {
  return importParameters(path, params, hf, /*strict=*/false);
}

MatchedWeights importParameters(const std::string &path,
                                const std::vector<ParamSpec> &params,
                                const NameMap &hf, bool strict) {
  // 1.
  SafetensorsFile f = readWeights(path);

  // 2. Every file tensor's gptc name.
  std::map<std::string, std::string> toOurs;
  for (const ParamSpec &p : params)
    toOurs[p.name] = p.name;
  for (auto &[ours, theirs] : hf) {
    toOurs.emplace(theirs, ours);
    if (startsWith(theirs, kPrefix))
      toOurs.emplace(theirs.substr(std::strlen(kPrefix)), ours);
  }
  std::map<std::string, std::pair<std::string, const TensorData *>> found;
  const TensorData *lmHead = nullptr;
  std::string unplaced;
  std::vector<std::string> unused;
  for (auto &[name, t] : f.tensors) {
    auto it = toOurs.find(name);
    if (it == toOurs.end()) {
      if (startsWith(name, "adam.") || endsWith(name, ".attn.bias") ||
          endsWith(name, ".attn.masked_bias"))
        continue; // moments; Hugging Face's causal-mask buffers
      // A model without qkv bias exports zeros there (GPT-2 always has one).
      if (endsWith(name, ".attn.c_attn.bias")) {
        std::vector<double> v = t.toDoubles();
        if (std::all_of(v.begin(), v.end(), [](double x) { return x == 0; }))
          continue;
      }
      if (name == "lm_head.weight") {
        lmHead = &t; // checked against wte below
        continue;
      }
      // Reported after the parameters' checks: weights of another size
      // have extra layers, but their wrong widths say more.
      if (unplaced.empty())
        unplaced = "tensor '" + name + "' " + t.typeStr();
      unused.push_back(name);
      continue;
    }
    auto [slot, fresh] = found.emplace(it->second, std::pair(name, &t));
    if (!fresh)
      throw RuntimeError(path + ": tensors '" + slot->second.first + "' and '" +
                         name + "' both name parameter '" + it->second + "'");
  }

  // 3.
  MatchedWeights matched;
  std::map<std::string, TensorData> &out = matched.tensors;
  for (const ParamSpec &p : params) {
    auto it = found.find(p.name);
    auto mapped = hf.find(p.name);
    std::string theirs = mapped == hf.end() ? "" : mapped->second;
    const TensorData *t = it == found.end() ? nullptr : it->second.second;
    std::string as = it == found.end() ? p.name : it->second.first;
    // A tied checkpoint has no lm_head; an untied model starts from wte.
    if (!t && theirs == "lm_head.weight")
      for (const char *wte : {"wte.weight", "transformer.wte.weight"})
        if (const TensorData *w = f.find(wte)) {
          t = w;
          as = wte;
        }
    if (!t && !strict) {
      matched.created.push_back(p.name);
      continue;
    }
    if (!t)
      throw RuntimeError(
          path + ": no tensor for parameter '" + p.name + "'" +
          (theirs.empty() ? "" : " (Hugging Face '" + theirs + "')") +
          ": weights of another model?");
    if (t->shape != p.shape)
      throw RuntimeError(path + ": tensor '" + as + "' is " + t->typeStr() +
                         " but this model's '" + p.name + "' is " +
                         shapeText(p.shape) +
                         ": weights of another model size?");
    out[p.name] = weightValues(path, as, *t);
  }
  if (!unplaced.empty() && strict)
    throw RuntimeError(path + ": " + unplaced +
                       " has no place in this model (weights of another "
                       "architecture, or a config with other options?)");
  matched.unused = std::move(unused);
  // A tied model takes an lm_head only if it is wte.
  bool untied = false;
  for (auto &[ours, theirs] : hf)
    untied |= theirs == "lm_head.weight" && out.count(ours);
  // A tied head saved anyway must be the embedding it is tied to.
  if (lmHead && !untied) {
    TensorData head = weightValues(path, "lm_head.weight", *lmHead);
    bool tied = std::any_of(out.begin(), out.end(), [&](auto &kv) {
      return kv.second.shape == head.shape && kv.second.bytes == head.bytes;
    });
    if (!tied)
      throw RuntimeError(path +
                         ": 'lm_head.weight' differs from the token "
                         "embedding, but this model ties them; build it with "
                         "tie_embeddings: false");
  }
  return matched;
}

int mergeAdapters(std::map<std::string, TensorData> &weights,
                  const std::vector<PlanMerge> &merges) {
  auto get = [&](const std::string &name) -> TensorData & {
    auto it = weights.find(name);
    if (it == weights.end())
      throw RuntimeError("merging adapters: no tensor '" + name + "'");
    return it->second;
  };
  for (const PlanMerge &m : merges) {
    TensorData &w = get(m.target);
    const TensorData &a = get(m.a), &b = get(m.b);
    if (w.shape.size() != 2 || a.shape.size() != 2 || b.shape.size() != 2 ||
        a.shape[0] != w.shape[0] || b.shape[1] != w.shape[1] ||
        a.shape[1] != b.shape[0])
      throw RuntimeError("merging adapters: '" + m.a + "' @ '" + m.b +
                         "' does not fit '" + m.target + "'");
    int64_t rows = w.shape[0], cols = w.shape[1], rank = a.shape[1];
    std::vector<double> wv = w.toDoubles(), av = a.toDoubles(),
                        bv = b.toDoubles();
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t r = 0; r < rank; ++r) {
        double s = m.scale * av[i * rank + r];
        for (int64_t j = 0; j < cols; ++j)
          wv[i * cols + j] += s * bv[r * cols + j];
      }
    w = TensorData::fromDoubles(w.dtype, w.shape, wv);
  }
  for (const PlanMerge &m : merges) {
    weights.erase(m.a);
    weights.erase(m.b);
  }
  return static_cast<int>(merges.size());
}

void exportHuggingFace(const std::string &dir,
                       const std::map<std::string, TensorData> &weights,
                       const NameMap &hf, const std::vector<PlanMeta> &meta) {
  std::vector<const PlanMeta *> entries;
  for (const PlanMeta &m : meta)
    if (m.scheme == "hf")
      entries.push_back(&m);
  if (entries.empty())
    throw RuntimeError("--export-hf: this model declares no config.json; "
                       "give its keys as `\"key\" = value` entries of its "
                       "`names hf` block (docs/DSL.md)");
  SafetensorsFile f;
  f.metadata["format"] = "pt";
  for (auto &[ours, t] : weights) {
    auto it = hf.find(ours);
    if (it == hf.end())
      throw RuntimeError("parameter '" + ours +
                         "' has no Hugging Face name (the model's `names hf` "
                         "block)");
    f.tensors[it->second] = t;
  }
  // GPT-2's fused qkv projection (Conv1D, [C, 3C]) always has a bias in
  // Hugging Face's layout; zeros are the same model.
  const std::string qkv = ".attn.c_attn.weight";
  std::vector<std::pair<std::string, int64_t>> missing;
  for (auto &[name, t] : f.tensors)
    if (name.size() > qkv.size() &&
        name.compare(name.size() - qkv.size(), qkv.size(), qkv) == 0 &&
        t.shape.size() == 2) {
      std::string bias = name.substr(0, name.size() - 6) + "bias";
      if (!f.tensors.count(bias))
        missing.push_back({bias, t.shape[1]});
    }
  for (auto &[bias, n] : missing)
    f.tensors[bias] =
        TensorData::fromDoubles(DType::F32, {n}, std::vector<double>(n, 0.0));
  fs::create_directories(dir);
  writeSafetensors((fs::path(dir) / "model.safetensors").string(), f);
  // Dotted keys are nested objects (rope_scaling.factor).
  OrderedJson config = OrderedJson::object();
  for (const PlanMeta *m : entries) {
    OrderedJson *at = &config;
    std::string key = m->key;
    for (size_t dot; (dot = key.find('.')) != std::string::npos;) {
      at = &(*at)[key.substr(0, dot)];
      key = key.substr(dot + 1);
    }
    (*at)[key] =
        parseJson(m->json, "the plan's config.json entry '" + m->key + "'");
  }
  writeFileAtomically((fs::path(dir) / "config.json").string(),
                      config.dump(2) + "\n");
}

} // namespace gptc
