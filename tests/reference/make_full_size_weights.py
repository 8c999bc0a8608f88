#!/usr/bin/env python3
"""Writes random GPT-2 weights of a released size (124M, 355M, 774M, 1558M)
as Hugging Face GPT-2 safetensors: the names, shapes and layout of OpenAI's
checkpoints (`transformer.` prefix, Conv1D (in, out) weights, tied LM head
absent, the `attn.bias` masks included), so that importing the real files,
which cannot be downloaded here, is checked at full size:

  python3 tests/reference/make_full_size_weights.py 1558m /tmp/gpt2-xl.safetensors
  gptc build models/gpt2.gpt --config models/configs/gpt2-1558m.yaml --task=generate -o xl
  ./xl --weights /tmp/gpt2-xl.safetensors --prompt-ids "464 3290" --max-new-tokens 4

Needs numpy and safetensors (pip). The files are large (6.2 GB at 1558M):
not part of the test suite.
"""
import sys

import numpy as np
from safetensors.numpy import save_file

SIZES = {  # emb_dim, n_layers, n_heads
    "124m": (768, 12, 12),
    "355m": (1024, 24, 16),
    "774m": (1280, 36, 20),
    "1558m": (1600, 48, 25),
}
VOCAB, CONTEXT = 50257, 1024


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SIZES:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(SIZES)}}} OUT.safetensors")
    c, layers, _ = SIZES[sys.argv[1]]
    rng = np.random.default_rng(0)

    def normal(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02)

    t = {"transformer.wte.weight": normal(VOCAB, c),
         "transformer.wpe.weight": normal(CONTEXT, c),
         "transformer.ln_f.weight": np.ones(c, np.float32),
         "transformer.ln_f.bias": np.zeros(c, np.float32)}
    mask = np.tril(np.ones((CONTEXT, CONTEXT), np.float32))[None, None]
    for i in range(layers):
        p = f"transformer.h.{i}."
        t.update({
            p + "ln_1.weight": np.ones(c, np.float32),
            p + "ln_1.bias": np.zeros(c, np.float32),
            p + "attn.c_attn.weight": normal(c, 3 * c),
            p + "attn.c_attn.bias": np.zeros(3 * c, np.float32),
            p + "attn.c_proj.weight": normal(c, c),
            p + "attn.c_proj.bias": np.zeros(c, np.float32),
            p + "attn.bias": mask,
            p + "ln_2.weight": np.ones(c, np.float32),
            p + "ln_2.bias": np.zeros(c, np.float32),
            p + "mlp.c_fc.weight": normal(c, 4 * c),
            p + "mlp.c_fc.bias": np.zeros(4 * c, np.float32),
            p + "mlp.c_proj.weight": normal(4 * c, c),
            p + "mlp.c_proj.bias": np.zeros(c, np.float32),
        })
    save_file(t, sys.argv[2])


if __name__ == "__main__":
    main()
