//===- Checkpoint.h - Weights in other frameworks' formats ------*- C++ -*-===//
//
// A model's parameters have gptc's names (`h.0.attn.c_attn.weight`) and
// Hugging Face GPT-2's layout ((in, out) matmul weights, like its Conv1D).
// The DSL's `names hf { ... }` block maps them to Hugging Face names; the
// compiler writes that mapping into the plan (`rename` records), so built
// executables read and write these formats without the compiler:
//
//  - gptc checkpoints and run-contract files: safetensors, gptc's names;
//  - Hugging Face GPT-2 safetensors (`model.safetensors` of
//    GPT2LMHeadModel or GPT2Model): names with or without `transformer.`,
//    `attn.bias`/`attn.masked_bias` buffers ignored, a tied `lm_head`
//    absent or equal to `wte`;
//  - llm.c's `gpt2_*.bin` (magic 20240326, fp32 version 3): its fixed
//    tensor order, (out, in) weights transposed, padded vocabulary rows
//    dropped.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_RUNTIME_CHECKPOINT_H
#define GPTC_RUNTIME_CHECKPOINT_H

#include "gptc/Runtime/Plan.h"
#include "gptc/Runtime/Safetensors.h"

#include <map>
#include <string>
#include <vector>

namespace gptc {

/// A parameter the model expects: gptc's name and its shape.
struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
};

/// gptc name -> Hugging Face name, for every parameter.
using NameMap = std::map<std::string, std::string>;

struct Plan;

/// The model's Hugging Face names (its `names hf` block), empty if none.
NameMap hfNames(const Plan &plan);

/// The parameters of `plan`'s `function` (static shapes), in plan order.
std::vector<ParamSpec> planParameters(const Plan &plan,
                                      const std::string &function);

/// The parameters `params` from the weights file `path` (any format above,
/// told apart by content), as F32 tensors under gptc's names. A missing
/// tensor, a tensor of another shape (another model size) or a tensor the
/// model has no place for is a RuntimeError naming it.
std::map<std::string, TensorData>
importWeights(const std::string &path, const std::vector<ParamSpec> &params,
              const NameMap &hf);

/// What importMatchingWeights took from a file and what it did not.
struct MatchedWeights {
  std::map<std::string, TensorData> tensors; ///< By gptc name, as F32.
  std::vector<std::string> created;          ///< Parameters the file lacks.
  std::vector<std::string> unused; ///< File tensors the model has no place for.
};

/// As importWeights, for starting a model from another's weights
/// (`--init-from`): parameters the file lacks and tensors the model has no
/// place for are listed instead of refused; a tensor of the wrong shape is
/// still a RuntimeError naming both.
MatchedWeights importMatchingWeights(const std::string &path,
                                     const std::vector<ParamSpec> &params,
                                     const NameMap &hf);

/// Tensor `name` of the weights file `path` as f32, or a RuntimeError naming
/// both when it is not floating-point or holds a NaN or an infinity (which
/// would train or generate garbage with exit status 0).
TensorData weightValues(const std::string &path, const std::string &name,
                        const TensorData &t);

/// llm.c's gpt2_*.bin as Hugging Face GPT-2 tensors (without the
/// `transformer.` prefix), in the Hugging Face layout.
SafetensorsFile readLlmcCheckpoint(const std::string &path);

/// Folds each merge's low-rank update into its target (W += scale * A B,
/// computed in float64) and drops A and B: LoRA adapters become plain
/// weights. Returns how many were merged.
int mergeAdapters(std::map<std::string, TensorData> &weights,
                  const std::vector<PlanMerge> &merges);

/// Writes `dir`/model.safetensors (Hugging Face names and layout; a zero
/// c_attn bias where GPT-2's fused qkv projection has none) and
/// `dir`/config.json with the model's `names hf` entries (`plan.meta`), so
/// transformers' from_pretrained(dir) loads it. Throws RuntimeError when
/// the model declares no config.json entries.
void exportHuggingFace(const std::string &dir,
                       const std::map<std::string, TensorData> &weights,
                       const NameMap &hf, const std::vector<PlanMeta> &meta);

} // namespace gptc

#endif // GPTC_RUNTIME_CHECKPOINT_H
