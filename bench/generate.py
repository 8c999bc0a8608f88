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
per token, so tokens/s <= read bandwidth / weight bytes, the bandwidth
measured by gptc-bench-peak with the same thread count (a one-thread copy
bandwidth gave 25 against 30-46 GB/s on a 2-vCPU EPYC, a bound below what
llama.cpp decodes at). --target picks gptc's ISA (cpu: this machine's
widest; cpu-avx2 forces AVX2 on an AVX-512 machine) and pins
PyTorch to the same one (ATEN_CPU_CAPABILITY); the CPU, its features and the
ISA's FMA peak are printed (gptc-bench-peak). Needs torch, transformers,
numpy and safetensors (pip).

gptc runs with each --weight-format (f32; bf16: the matmuls' weights
rounded to bf16, half the bytes per token; int8: blocks of 32 with a bf16
scale, 1.0625 bytes a weight); each format's bound counts its bytes per
weight.

With --llama-cpp DIR (a llama.cpp source tree with build/bin/llama-bench
built, e.g. the one vendored in PyPI's llama-cpp-python source
distribution), the same weights are converted to F32, F16 and Q8_0 GGUFs
with its convert_hf_to_gguf.py (GPT-2's vocab.json and merges.txt are
derived from data/gpt2.tiktoken) and `llama-bench -p 16 -n 64` measures
their prefill and decode in the same run, alternating with gptc's runs
(--rounds).

  python3 bench/generate.py [--threads 2] [--model gpt2|llama]
                            [--target cpu|cpu-avx2|cpu-avx512]
                            [--llama-cpp DIR] [--rounds 3]
"""
import argparse
import base64
import json
import os
import re
import shutil
import statistics
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

import torch  # noqa: E402
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig,
                          LlamaForCausalLM)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_step as ts  # noqa: E402  (paths)

PROMPT, NEW = 16, 64


def gpt2_tokenizer_files(folder):
    """vocab.json and merges.txt of GPT-2 from its tiktoken ranks: each
    token's merge is the split its own BPE (ranks below its own) ends at."""
    ranks = {}
    with open(os.path.join(ts.ROOT, "data", "gpt2.tiktoken")) as f:
        for line in f:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    # GPT-2's printable stand-ins for bytes.
    printable = (list(range(ord("!"), ord("~") + 1)) +
                 list(range(ord("\u00a1"), ord("\u00ac") + 1)) +
                 list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    chars = {b: chr(b) for b in printable}
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + len(chars) - len(printable))
    text = lambda bs: "".join(chars[b] for b in bs)  # noqa: E731

    def split(token, below):
        parts = [bytes([b]) for b in token]
        while True:
            best = None
            for i in range(len(parts) - 1):
                r = ranks.get(parts[i] + parts[i + 1])
                if r is not None and r < below and (best is None or
                                                    r < best[1]):
                    best = (i, r)
            if best is None:
                return parts
            i = best[0]
            parts[i:i + 2] = [parts[i] + parts[i + 1]]

    merges = []
    for token, rank in sorted(ranks.items(), key=lambda x: x[1]):
        if len(token) > 1:
            a, b = split(token, rank)
            merges.append(text(a) + " " + text(b))
    vocab = {text(t): r for t, r in ranks.items()}
    vocab["<|endoftext|>"] = len(ranks)
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")


# llama.cpp's weight types measured, as convert_hf_to_gguf.py names them.
GGUF_TYPES = ("f32", "f16", "q8_0")


def llama_cpp_ggufs(tree, folder):
    """The weights in `folder` (a Hugging Face GPT-2 folder) as GGUFs of
    each of GGUF_TYPES, converted by the llama.cpp tree's
    convert_hf_to_gguf.py: {type: path}."""
    gpt2_tokenizer_files(folder)
    config = os.path.join(folder, "config.json")
    with open(config) as f:
        c = json.load(f)
    c.setdefault("n_ctx", c["n_positions"])  # the converter reads n_ctx
    with open(config, "w") as f:
        json.dump(c, f)
    ggufs = {}
    for t in GGUF_TYPES:
        ggufs[t] = os.path.join(folder, f"model-{t}.gguf")
        subprocess.run([sys.executable,
                        os.path.join(tree, "convert_hf_to_gguf.py"), folder,
                        "--outtype", t, "--outfile", ggufs[t]], check=True,
                       capture_output=True)
    return ggufs


def llama_cpp(tree, gguf, threads):
    """llama.cpp's prefill and decode tokens/s on `gguf`."""
    out = subprocess.run(
        [os.path.join(tree, "build", "bin", "llama-bench"), "-m", gguf,
         "-p", str(PROMPT), "-n", str(NEW), "-t", str(threads), "-o",
         "json"], check=True, capture_output=True, text=True).stdout
    runs = json.loads(out)
    prefill = next(r["avg_ts"] for r in runs if r["n_prompt"] > 0)
    decode = next(r["avg_ts"] for r in runs if r["n_gen"] > 0)
    return prefill, decode


def median_pair(runs):
    """The median prefill and the median decode of (prefill, decode) runs."""
    return (statistics.median(p for p, _ in runs),
            statistics.median(d for _, d in runs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", choices=["gpt2", "llama"], default="gpt2")
    ap.add_argument("--target", choices=["cpu", "cpu-avx2", "cpu-avx512"],
                    default="cpu")
    ap.add_argument("--llama-cpp", metavar="DIR",
                    help="a llama.cpp tree with build/bin/llama-bench")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved runs of gptc and llama.cpp; the "
                         "median of each is reported")
    args = ap.parse_args()
    if args.llama_cpp and args.model != "gpt2":
        ap.error("--llama-cpp converts GPT-2's tokenizer; use --model gpt2")
    native = "avx512" if "avx512f" in open("/proc/cpuinfo").read() else "avx2"
    isa = FORCED.get(args.target, native)
    cpu, peak, _, bw = ts.machine(args.threads, isa)
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

        # gptc and llama.cpp alternate, so a shared machine's slow moments
        # fall on both; each reports its median round.
        ggufs = (llama_cpp_ggufs(args.llama_cpp, work) if args.llama_cpp
                 else {})
        # The files just written go to disk now, not under the first
        # round (its fp32 prefill read 916 tokens/s against 1306-1334 in
        # the next two); one uncounted run warms the page cache.
        os.sync()
        gptc("--weight-format", "f32")
        formats = {"f32": 4, "bf16": 2, "int8": 34 / 32}  # bytes per weight
        gptc_runs = {f: [] for f in formats}
        llama_runs = {t: [] for t in ggufs}
        for _ in range(args.rounds):
            for f in formats:
                gptc_runs[f].append(gptc("--weight-format", f))
            for t, gguf in ggufs.items():
                llama_runs[t].append(llama_cpp(args.llama_cpp, gguf,
                                               args.threads))
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
        # (name, prefill, decode, bytes per weight)
        rows = [(f"gptc {f}", *median_pair(gptc_runs[f]), b)
                for f, b in formats.items()]
        rows += [("gptc no cache", nocache_prefill, nocache_decode, 4),
                 ("torch eager", torch_prefill, torch_decode, 4)]
        # Q8_0: blocks of 32 int8 weights and an fp16 scale, 34 bytes.
        gguf_bytes = {"f32": 4, "f16": 2, "q8_0": 34 / 32}
        rows += [(f"llama.cpp {t.upper()}", *median_pair(runs), gguf_bytes[t])
                 for t, runs in llama_runs.items()]

        params = weight_bytes / 4
        print(f"cpu: {cpu}; gptc --target={args.target} ({isa}), fp32 FMA "
              f"peak {peak:.1f} GFLOP/s; PyTorch {torch.__version__}, "
              f"ATEN_CPU_CAPABILITY="
              f"{os.environ.get('ATEN_CPU_CAPABILITY', 'default')}")
        print(f"W3: {title}, random weights, prompt {PROMPT}, "
              f"{NEW} new tokens, batch 1, greedy, {args.threads} threads; "
              f"gptc{' and llama.cpp' if ggufs else ''}: median of "
              f"{args.rounds} interleaved rounds")
        print(f"read bandwidth ({args.threads} threads): {bw:.1f} GB/s; "
              f"{params / 1e6:.0f}M weights, {weight_bytes / 1e6:.0f} MB in "
              f"fp32; decode bound {bw * 1e9 / weight_bytes:.1f} tokens/s "
              f"in fp32 (bandwidth / the bytes of every weight)\n")
        print(f"{'':15} {'prefill tok/s':>14} {'decode tok/s':>13} "
              f"{'bound':>7} {'of bound':>9}")
        for name, p, d, b in rows:
            bound = bw * 1e9 / (params * b)
            print(f"{name:15} {p:14.0f} {d:13.1f} {bound:7.1f} "
                  f"{100 * d / bound:8.0f}%")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
