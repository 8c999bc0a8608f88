#!/usr/bin/env python3
"""Writes the goldens for importing other frameworks' GPT-2 weights.

A small random transformers GPT2LMHeadModel (vocab 250, context 64, width
32, 4 heads, 2 layers: models/configs/tiny.yaml with vocab_size=250), with
non-trivial LayerNorm and bias values, saved into goldens/:

  hf-tiny/model.safetensors, hf-tiny/config.json
                      save_pretrained's output: `transformer.` names, Conv1D
                      (in, out) weights, the tied lm_head absent, F32
  llmc-tiny.bin       the same weights in llm.c's gpt2_*.bin layout, written
                      as llm.c's write_model does: a 256-int32 header (magic
                      20240326, version 3, max_seq_len, vocab, layers, heads,
                      channels, padded vocab), then wte padded to 256 rows,
                      wpe, each per-layer tensor for all layers, ln_f;
                      matmul weights (out, in)
  hf-tiny-expected.safetensors
                      tokens I32[2, 9] and the model's logits F32[2, 9, 250]
                      (computed in float64 from the float32 weights), and
                      `generated` I32[20]: transformers' greedy continuation
                      of the first row

Regenerate (needs torch, transformers and safetensors from PyPI):
  python3 tests/reference/make_weights_goldens.py
"""
import os

import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import GPT2Config, GPT2LMHeadModel

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "goldens")
VOCAB, CTX, C, HEADS, LAYERS = 250, 64, 32, 4, 2
PADDED = 256  # llm.c pads the vocabulary to a multiple of 128


def llmc_bytes(sd):
    """llm.c's fp32 checkpoint of a GPT-2 state dict (HF names)."""
    header = np.zeros(256, np.int32)
    header[:8] = [20240326, 3, CTX, VOCAB, LAYERS, HEADS, C, PADDED]
    wte = np.zeros((PADDED, C), np.float32)
    wte[:VOCAB] = sd["transformer.wte.weight"]
    parts = [header.tobytes(), wte.tobytes(),
             sd["transformer.wpe.weight"].tobytes()]
    kinds = [("ln_1.weight", False), ("ln_1.bias", False),
             ("attn.c_attn.weight", True), ("attn.c_attn.bias", False),
             ("attn.c_proj.weight", True), ("attn.c_proj.bias", False),
             ("ln_2.weight", False), ("ln_2.bias", False),
             ("mlp.c_fc.weight", True), ("mlp.c_fc.bias", False),
             ("mlp.c_proj.weight", True), ("mlp.c_proj.bias", False)]
    for name, conv1d in kinds:
        for layer in range(LAYERS):
            t = sd[f"transformer.h.{layer}.{name}"]
            # Conv1D stores (in, out); llm.c, like nn.Linear, (out, in).
            parts.append(np.ascontiguousarray(t.T if conv1d else t).tobytes())
    parts.append(sd["transformer.ln_f.weight"].tobytes())
    parts.append(sd["transformer.ln_f.bias"].tobytes())
    return b"".join(parts)


def main():
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=VOCAB, n_positions=CTX, n_embd=C,
                        n_layer=LAYERS, n_head=HEADS, resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=None,
                        eos_token_id=None)
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        # Larger than the initializer's 0.02 so every term shows in the
        # logits; LayerNorm and biases away from their 1/0 defaults.
        for name, p in model.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") \
                    or name.endswith("ln_f.weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
    model.save_pretrained(os.path.join(OUT, "hf-tiny"),
                          safe_serialization=True)

    sd = {k: v.detach().numpy().astype(np.float32)
          for k, v in model.state_dict().items()
          if not k.endswith(".attn.bias") and k != "lm_head.weight"}
    with open(os.path.join(OUT, "llmc-tiny.bin"), "wb") as f:
        f.write(llmc_bytes(sd))

    tokens = torch.randint(0, VOCAB, (2, 9), generator=torch.Generator()
                           .manual_seed(1))
    with torch.no_grad():
        logits = model.double()(tokens).logits.float().numpy()
        # transformers' greedy continuation of the first row, 20 tokens.
        generated = model.generate(tokens[:1], max_new_tokens=20,
                                   do_sample=False, pad_token_id=0)
    save_file({"tokens": tokens.numpy().astype(np.int32), "logits": logits,
               "generated": generated[0, tokens.shape[1]:].numpy()
               .astype(np.int32)},
              os.path.join(OUT, "hf-tiny-expected.safetensors"))
    print("wrote goldens/hf-tiny, llmc-tiny.bin, hf-tiny-expected.safetensors")


if __name__ == "__main__":
    main()
