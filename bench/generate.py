#!/usr/bin/env python3
"""Workload W3 (docs/Architecture.md): GPT-2 124M-shaped text generation, random
weights, a 16-token prompt, 64 new tokens, batch 1, greedy. With
--model llama, the Llama shape nearest it: SmolLM2 135M (models/llama.gpt,
models/configs/smollm2-135m.yaml: 30 layers, 9 query heads sharing 3
key/value heads, tied embeddings) against transformers' LlamaForCausalLM.

gptc: a `--task=generate` executable with the weights as Hugging Face
safetensors, its prefill and decode tokens/s as it reports them, with the
KV cache (the default) and with --no-kv-cache (every token recomputes the
window). PyTorch
eager: transformers' GPT2LMHeadModel.generate with its KV cache, same
weights, same thread count. The bound: decoding must read every weight once
per token, so tokens/s <= memory bandwidth / weight bytes; the bandwidth is
measured here with a large numpy copy. --target picks gptc's ISA (cpu: this
machine's widest; cpu-avx2 forces AVX2 on an AVX-512 machine) and pins
PyTorch to the same one (ATEN_CPU_CAPABILITY); the CPU, its features and the
ISA's FMA peak are printed (gptc-bench-peak). Needs torch, transformers,
numpy and safetensors (pip).

  python3 bench/generate.py [--threads 2] [--model gpt2|llama]
                            [--target cpu|cpu-avx2|cpu-avx512]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# PyTorch reads ATEN_CPU_CAPABILITY when it loads: a forced target pins it
# before the imports below.
FORCED = {"cpu-avx2": "avx2", "cpu-avx512": "avx512"}
for i, arg in enumerate(sys.argv):
    value = arg.split("=", 1)[1] if arg.startswith("--target=") else (
        sys.argv[i + 1] if arg == "--target" and i + 1 < len(sys.argv)
        else None)
    if value in FORCED:
        os.environ["ATEN_CPU_CAPABILITY"] = FORCED[value]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig,
                          LlamaForCausalLM)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_step as ts  # noqa: E402  (paths)

PROMPT, NEW = 16, 64


def bandwidth_gbs():
    """Copy bandwidth (read + write bytes per second) of a 1 GiB array."""
    a = np.ones(1 << 28, np.float32)
    b = np.empty_like(a)
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        np.copyto(b, a)
        best = max(best, 2 * a.nbytes / (time.perf_counter() - start))
    return best / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", choices=["gpt2", "llama"], default="gpt2")
    ap.add_argument("--target", choices=["cpu", "cpu-avx2", "cpu-avx512"],
                    default="cpu")
    args = ap.parse_args()
    native = "avx512" if "avx512f" in open("/proc/cpuinfo").read() else "avx2"
    isa = FORCED.get(args.target, native)
    cpu, peak, _ = ts.machine(args.threads, isa)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if args.model == "llama":
        # SmolLM2-135M's config.json, as models/configs/smollm2-135m.yaml.
        config = LlamaConfig(vocab_size=49152, hidden_size=576,
                             intermediate_size=1536, num_hidden_layers=30,
                             num_attention_heads=9, num_key_value_heads=3,
                             max_position_embeddings=8192,
                             rope_theta=100000.0, rms_norm_eps=1e-5,
                             tie_word_embeddings=True)
        make, vocab = (lambda: LlamaForCausalLM(config)), 49152
        source = os.path.join(root, "models", "llama.gpt")
        model_config = os.path.join(root, "models", "configs",
                                    "smollm2-135m.yaml")
        title = "SmolLM2 135M (Llama) shape"
    else:
        make, vocab = (lambda: GPT2LMHeadModel(GPT2Config())), 50257
        source, model_config, title = ts.MODEL, ts.CONFIG, "GPT-2 124M shape"
    torch.set_num_threads(args.threads)
    work = tempfile.mkdtemp(prefix="gptc-bench-gen-")
    try:
        torch.manual_seed(0)
        model = make().eval()
        model.save_pretrained(work, safe_serialization=True)
        weight_bytes = 4 * sum(p.numel() for p in model.parameters())
        prompt = torch.randint(0, vocab, (1, PROMPT),
                               generator=torch.Generator().manual_seed(1))

        exe = os.path.join(work, "gen")
        subprocess.run([ts.GPTC, "build", source, "--config", model_config,
                        "--task=generate", "--target=" + args.target, "-o",
                        exe], check=True, capture_output=True)
        ids = " ".join(str(int(i)) for i in prompt[0])

        def gptc(*flags):
            err = subprocess.run(
                [exe, "--weights", os.path.join(work, "model.safetensors"),
                 "--prompt-ids", ids, "--max-new-tokens", str(NEW),
                 "--ignore-eos", "--threads", str(args.threads), *flags],
                check=True, capture_output=True, text=True).stderr
            m = re.search(r"prefill: \d+ tokens, (\d+) tokens/s; decode: "
                          r"\d+ tokens, (\d+) tokens/s", err)
            return float(m.group(1)), float(m.group(2))

        gptc_prefill, gptc_decode = gptc()
        nocache_prefill, nocache_decode = gptc("--no-kv-cache")

        with torch.no_grad():
            model.generate(prompt, max_new_tokens=4, do_sample=False,
                           pad_token_id=0)  # warm-up
            start = time.perf_counter()
            model(prompt)
            prefill = time.perf_counter() - start
            start = time.perf_counter()
            model.generate(prompt, max_new_tokens=NEW, do_sample=False,
                           pad_token_id=0, min_new_tokens=NEW)
            total = time.perf_counter() - start
        torch_decode = (NEW - 1) / max(total - prefill, 1e-9)
        torch_prefill = PROMPT / prefill

        bw = bandwidth_gbs()
        bound = bw * 1e9 / weight_bytes
        print(f"cpu: {cpu}; gptc --target={args.target} ({isa}), fp32 FMA "
              f"peak {peak:.1f} GFLOP/s; PyTorch {torch.__version__}, "
              f"ATEN_CPU_CAPABILITY="
              f"{os.environ.get('ATEN_CPU_CAPABILITY', 'default')}")
        print(f"W3: {title}, random weights, prompt {PROMPT}, "
              f"{NEW} new tokens, batch 1, greedy, {args.threads} threads")
        print(f"memory bandwidth (numpy copy): {bw:.1f} GB/s; weights "
              f"{weight_bytes / 1e6:.0f} MB; decode bound {bound:.1f} "
              f"tokens/s\n")
        print(f"{'':14} {'prefill tok/s':>14} {'decode tok/s':>13} "
              f"{'of bound':>9}")
        for name, p, d in (("gptc", gptc_prefill, gptc_decode),
                           ("gptc no cache", nocache_prefill, nocache_decode),
                           ("torch eager", torch_prefill, torch_decode)):
            print(f"{name:14} {p:14.0f} {d:13.1f} {100 * d / bound:8.0f}%")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
