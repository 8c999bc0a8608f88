#!/usr/bin/env python3
"""Writes the goldens models/llama.gpt is checked against: transformers'
LlamaForCausalLM, run in float64.

For each small config below (grouped-query and multi-query attention,
rope_theta set, Llama 3's rope_scaling, tied and untied heads, an odd T,
T = 1, T = context_length) it writes, into goldens/:

  NAME.yaml          the gptc config (models/llama.gpt's keys)
  NAME.safetensors   every parameter under gptc's names (Hugging Face's
                     without `model.`; F64), tokens and targets (I32, one
                     target -100), the expected logits and loss, every
                     parameter's gradient, and the losses of 10 AdamW steps
                     (lr 1e-3, weight decay 0.1, clipping at 1.0), as
                     make_goldens.py writes them for GPT-2; and for two
                     prompts of different lengths (generate.prompt.I, I32)
                     transformers' greedy continuation to context_length
                     (expected.generate.ids.I) with each step's gap between
                     the two largest logits (expected.generate.gap.I: where
                     it is tiny, fp32 may pick the other token)

And a Hugging Face model folder as the Hub has them, for the last config:

  llama-hf-tiny/     config.json in the Hub's (transformers 4) format,
                     with rope_scaling and keys gptc ignores; the weights in
                     BF16, in two shards with model.safetensors.index.json,
                     the tied lm_head saved too
  llama-hf-tiny-expected.safetensors
                     tokens and the logits of the BF16 weights (in float64)

Weights are random and larger than Llama's initialisation so that every op
changes the result visibly. Regenerate (needs torch, transformers and
safetensors from PyPI):
  python3 tests/reference/make_llama_goldens.py
"""
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

import golden_inputs

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS, LR, WEIGHT_DECAY, CLIP = 10, 1e-3, 0.1, 1.0

# name: (gptc config, batch, seq_len)
CONFIGS = {
    "llama-gqa-odd-t": (dict(vocab_size=61, context_length=16, emb_dim=32,
                             hidden_dim=40, n_heads=4, n_kv_heads=2,
                             n_layers=2, rms_norm_eps=1e-5,
                             rope_theta=500000.0, tie_embeddings=False), 2, 7),
    "llama-mqa-tied-t1": (dict(vocab_size=40, context_length=8, emb_dim=24,
                               hidden_dim=64, n_heads=3, n_kv_heads=1,
                               n_layers=1, rms_norm_eps=1e-6,
                               rope_theta=10000.0, tie_embeddings=True), 3, 1),
    "llama3-scaled-full-ctx": (dict(vocab_size=50, context_length=12,
                                    emb_dim=64, hidden_dim=96, n_heads=4,
                                    n_kv_heads=2, n_layers=2,
                                    rms_norm_eps=1e-5, rope_theta=500000.0,
                                    rope_factor=32.0, rope_low_freq_factor=1.0,
                                    rope_high_freq_factor=4.0,
                                    rope_original_context=8,
                                    tie_embeddings=True), 2, 12),
}


def hf_config(c):
    scaling = None
    if c.get("rope_factor", 1.0) != 1.0:
        scaling = {"rope_type": "llama3", "factor": c["rope_factor"],
                   "low_freq_factor": c["rope_low_freq_factor"],
                   "high_freq_factor": c["rope_high_freq_factor"],
                   "original_max_position_embeddings":
                       c["rope_original_context"]}
    return LlamaConfig(
        vocab_size=c["vocab_size"], hidden_size=c["emb_dim"],
        intermediate_size=c["hidden_dim"], num_hidden_layers=c["n_layers"],
        num_attention_heads=c["n_heads"],
        num_key_value_heads=c["n_kv_heads"],
        max_position_embeddings=c["context_length"],
        rms_norm_eps=c["rms_norm_eps"], rope_theta=c["rope_theta"],
        rope_scaling=scaling, tie_word_embeddings=c["tie_embeddings"],
        attention_bias=False, mlp_bias=False, attn_implementation="eager")


def gptc_name(hf):
    return hf[len("model."):] if hf.startswith("model.") else hf


def gptc_tensors(model, tied, grads=False):
    out = {}
    for name, p in model.named_parameters():
        if tied and name == "lm_head.weight":
            continue
        t = p.grad if grads else p
        out[gptc_name(name)] = t.detach().contiguous().clone()
    return out


def cross_entropy(logits, targets):
    return torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


def step_losses(config, state, tokens, targets):
    model = LlamaForCausalLM(config).double()
    model.load_state_dict(state)
    opt = torch.optim.AdamW(model.parameters(), lr=LR,
                            weight_decay=WEIGHT_DECAY)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = cross_entropy(model(tokens).logits, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64)


def greedy(model, prompt, n):
    """transformers' greedy continuation of `prompt` by `n` tokens, with
    each step's top-2 logit gap."""
    ids, gaps = torch.tensor([prompt]), []
    with torch.no_grad():
        for _ in range(n):
            logits = model(ids).logits[0, -1]
            top = logits.topk(2).values
            gaps.append(float(top[0] - top[1]))
            ids = torch.cat([ids, logits.argmax().view(1, 1)], dim=1)
    return ids[0, len(prompt):].to(torch.int32), torch.tensor(gaps)


def write_hf_folder(out, c, model, tokens):
    """A Hub-style folder of `model` in BF16, and the logits it gives."""
    folder = os.path.join(out, "llama-hf-tiny")
    os.makedirs(folder, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": [2, 3],
        "hidden_act": "silu", "hidden_size": c["emb_dim"],
        "initializer_range": 0.02, "intermediate_size": c["hidden_dim"],
        "max_position_embeddings": c["context_length"], "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": c["n_heads"],
        "num_hidden_layers": c["n_layers"],
        "num_key_value_heads": c["n_kv_heads"], "pretraining_tp": 1,
        "rms_norm_eps": c["rms_norm_eps"],
        "rope_scaling": {"factor": c["rope_factor"],
                         "high_freq_factor": c["rope_high_freq_factor"],
                         "low_freq_factor": c["rope_low_freq_factor"],
                         "original_max_position_embeddings":
                             c["rope_original_context"],
                         "rope_type": "llama3"},
        "rope_theta": c["rope_theta"],
        "tie_word_embeddings": c["tie_embeddings"],
        "torch_dtype": "bfloat16", "transformers_version": "4.45.0",
        "use_cache": True, "vocab_size": c["vocab_size"]}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    state = {k: v.to(torch.bfloat16).contiguous()
             for k, v in model.state_dict().items()}
    names = sorted(state)
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate([names[:half], names[half:]]):
        file = f"model-0000{i + 1}-of-00002.safetensors"
        save_file({k: state[k].clone() for k in part},
                  os.path.join(folder, file), metadata={"format": "pt"})
        weight_map.update({k: file for k in part})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map},
                  f, indent=2)
    # What the BF16 weights compute, in float64.
    rounded = LlamaForCausalLM(model.config).double()
    rounded.load_state_dict({k: v.double() for k, v in state.items()})
    with torch.no_grad():
        logits = rounded(tokens).logits
    save_file({"tokens": tokens.to(torch.int32),
               "expected.logits": logits.contiguous()},
              os.path.join(out, "llama-hf-tiny-expected.safetensors"),
              metadata={"generator": "tests/reference/make_llama_goldens.py"})


def main():
    torch.manual_seed(4321)
    out = os.path.join(HERE, "goldens")
    os.makedirs(out, exist_ok=True)
    for name, (c, batch, seq) in CONFIGS.items():
        config = hf_config(c)
        model = LlamaForCausalLM(config).double()
        golden_inputs.randomize(model, lambda n: n.endswith("norm.weight"))
        tokens, targets = golden_inputs.batch(c["vocab_size"], batch, seq)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        logits = model(tokens).logits
        loss = cross_entropy(logits, targets)
        loss.backward()
        tied = c["tie_embeddings"]
        tensors = gptc_tensors(model, tied)
        for pname, g in gptc_tensors(model, tied, grads=True).items():
            tensors["expected.grad." + pname] = g
        tensors["tokens"] = tokens.to(torch.int32)
        tensors["targets"] = targets.to(torch.int32)
        tensors["expected.logits"] = logits.detach().contiguous()
        tensors["expected.loss"] = loss.detach()
        tensors["expected.steps.losses"] = step_losses(config, state, tokens,
                                                       targets)
        model.load_state_dict(state)
        ctx = c["context_length"]
        for i, prompt in enumerate([[1], [3, 1, 4, 1, 5, 9][:ctx - 2]]):
            generated, gaps = greedy(model, prompt, ctx - len(prompt))
            tensors[f"generate.prompt.{i}"] = torch.tensor(prompt,
                                                           dtype=torch.int32)
            tensors[f"expected.generate.ids.{i}"] = generated
            tensors[f"expected.generate.gap.{i}"] = gaps
        save_file(tensors, os.path.join(out, name + ".safetensors"),
                  metadata={"generator": "tests/reference/make_llama_goldens.py",
                            "torch": torch.__version__,
                            "transformers": transformers.__version__})
        if name == "llama3-scaled-full-ctx":
            write_hf_folder(out, c, model, tokens)
        golden_inputs.write_config(
            os.path.join(out, name + ".yaml"), c,
            "Written by tests/reference/make_llama_goldens.py "
            "(models/llama.gpt)")
        print(f"{name}: B={batch} T={seq} loss={loss.item():.12f} after "
              f"{STEPS} steps: {tensors['expected.steps.losses'][-1]:.12f}")


if __name__ == "__main__":
    main()
