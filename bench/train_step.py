#!/usr/bin/env python3
"""Workloads W1, W2 and W4 (docs/Architecture.md) for gptc and its peers, in one run.

W1: GPT-2 124M training step (forward, loss, backward, AdamW), B=4, T=64.
W2: the same at B=1, T=1024.
W4: gptc's compile time, DSL to executable, cold (empty kernel cache) and
    warm (everything cached).

gptc's executable is timed by itself (--repeat: median after a warm-up run,
inputs already in memory). The peers, each in eager mode and under
torch.compile (Inductor), with the same config, dropout 0.1, clipping at
1.0 and thread count:
  book     the book's GPTModel (separate q/k/v Linears, explicit softmax
           attention), torch.optim.AdamW;
  nanogpt  the strongest PyTorch formulation (nanoGPT's): one qkv Linear,
           F.scaled_dot_product_attention, AdamW(fused=True).
--target picks gptc's ISA (cpu: this machine's widest; cpu-avx2 forces
AVX2 on an AVX-512 machine); PyTorch then runs with the matching
ATEN_CPU_CAPABILITY, and MFU is against the FMA peak of that ISA, measured
in the same run by gptc-bench-peak (which also prints the CPU, its features
and the copy bandwidth). Needs torch, numpy and safetensors (pip).

--precision bf16 measures mixed-precision training (CPUs with AVX512-BF16):
gptc built with a training config of `precision: bf16`, its fp32 build in
the same run, and the peers under torch.autocast("cpu", torch.bfloat16);
MFU is then against the vdpbf16ps peak.

  python3 bench/train_step.py [--threads 2] [--steps 5] [--target cpu-avx2]
                              [--skip-compile] [--precision bf16]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build/release")
GPTC = os.path.join(BUILD, "tools/gptc/gptc")
MODEL = os.path.join(ROOT, "models/gpt2.gpt")
CONFIG = os.path.join(ROOT, "models/configs/gpt2-124m.yaml")
CFG = dict(vocab_size=50257, context_length=1024, emb_dim=768, n_heads=12,
           n_layers=12, drop_rate=0.1, qkv_bias=True)


# The book's model (chapter 4), tied embeddings as OpenAI's GPT-2.
class MultiHeadAttention(nn.Module):
    def __init__(self, d, ctx, drop, heads, bias):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.W_query = nn.Linear(d, d, bias=bias)
        self.W_key = nn.Linear(d, d, bias=bias)
        self.W_value = nn.Linear(d, d, bias=bias)
        self.out_proj = nn.Linear(d, d)
        self.dropout = nn.Dropout(drop)
        self.register_buffer("mask", torch.triu(torch.ones(ctx, ctx), 1))

    def forward(self, x):
        b, t, d = x.shape
        q = self.W_query(x).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.W_key(x).view(b, t, self.h, self.hd).transpose(1, 2)
        v = self.W_value(x).view(b, t, self.h, self.hd).transpose(1, 2)
        s = q @ k.transpose(2, 3)
        s.masked_fill_(self.mask.bool()[:t, :t], -torch.inf)
        w = self.dropout(torch.softmax(s / self.hd**0.5, dim=-1))
        return self.out_proj((w @ v).transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["emb_dim"]
        self.att = MultiHeadAttention(d, c["context_length"], c["drop_rate"],
                                      c["n_heads"], c["qkv_bias"])
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU("tanh"),
                                nn.Linear(4 * d, d))
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(c["drop_rate"])

    def forward(self, x):
        x = x + self.drop(self.att(self.norm1(x)))
        return x + self.drop(self.ff(self.norm2(x)))


class GPTModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.tok = nn.Embedding(c["vocab_size"], c["emb_dim"])
        self.pos = nn.Embedding(c["context_length"], c["emb_dim"])
        self.drop = nn.Dropout(c["drop_rate"])
        self.blocks = nn.Sequential(*[Block(c) for _ in range(c["n_layers"])])
        self.norm = nn.LayerNorm(c["emb_dim"])
        self.out = nn.Linear(c["emb_dim"], c["vocab_size"], bias=False)
        self.out.weight = self.tok.weight

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
        return self.out(self.norm(self.blocks(self.drop(x))))


# nanoGPT's formulation of the same model.
class NanoAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["emb_dim"]
        self.h, self.drop = c["n_heads"], c["drop_rate"]
        self.c_attn = nn.Linear(d, 3 * d, bias=c["qkv_bias"])
        self.c_proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = (y.view(b, t, self.h, d // self.h).transpose(1, 2)
                   for y in self.c_attn(x).split(d, dim=2))
        y = nn.functional.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.drop if self.training else 0)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, d))


class NanoBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["emb_dim"]
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = NanoAttention(c)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU("tanh"),
                                 nn.Linear(4 * d, d))
        self.drop = nn.Dropout(c["drop_rate"])

    def forward(self, x):
        x = x + self.drop(self.attn(self.ln_1(x)))
        return x + self.drop(self.mlp(self.ln_2(x)))


class NanoGPT(GPTModel):
    def __init__(self, c):
        super().__init__(c)
        self.blocks = nn.Sequential(*[NanoBlock(c) for _ in range(c["n_layers"])])


PEERS = {"book": (GPTModel, {}), "nanogpt": (NanoGPT, {"fused": True})}


def torch_step_time(model_name, b, t, steps, compiled, bf16=False):
    """Median seconds of one training step of the peer `model_name`, its
    forward and loss under bf16 autocast if `bf16`."""
    torch.manual_seed(0)
    cls, opt_args = PEERS[model_name]
    model = cls(CFG)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, weight_decay=0.1,
                            **opt_args)
    fwd = torch.compile(model) if compiled else model
    x = torch.randint(0, CFG["vocab_size"], (b, t))
    y = torch.randint(0, CFG["vocab_size"], (b, t))

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = fwd(x)
            loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(),
                                               y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(2 if compiled else 1):  # warm-up (and compilation)
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def peer_time(model_name, b, t, steps, compiled, threads, capability,
              bf16=False):
    """torch_step_time in a fresh process: ATEN_CPU_CAPABILITY is read when
    torch loads, and each peer gets a clean allocator and compile cache."""
    env = dict(os.environ)
    if capability:
        env["ATEN_CPU_CAPABILITY"] = capability
    p = subprocess.run(
        [sys.executable, __file__, "--peer", model_name, str(b), str(t),
         str(steps), str(int(compiled)), str(threads), str(int(bf16))],
        capture_output=True, text=True, env=env)
    if p.returncode != 0:
        # A peer that crashes (torch.compile has) is reported, not fatal.
        lines = (p.stderr.strip() or f"exit status {p.returncode}").splitlines()
        return None, f"{lines[-1]} (exit status {p.returncode})"
    return float(p.stdout.strip().splitlines()[-1]), None


def machine(threads, isa, bf16=False):
    """CPU model, the FMA peak of `isa` (the vdpbf16ps peak if `bf16`), the
    copy and the read bandwidth (GB/s) of `threads` threads."""
    out = subprocess.run(
        [os.path.join(BUILD, "bench/gptc-bench-peak"), "--threads",
         str(threads), "--isa", isa], check=True, capture_output=True,
        text=True).stdout
    cpu = re.search(r"^cpu: (.*)$", out, re.M).group(1)
    which = "bf16 dot" if bf16 else "fp32 FMA"
    found = re.search(which + r" peak .*: ([0-9.]+) GFLOP/s", out)
    if not found:
        sys.exit(f"gptc-bench-peak measured no {which} peak on this CPU "
                 "(bf16 needs AVX512-BF16)")
    peak = float(found.group(1))
    copy = float(re.search(r"^copy bandwidth .*: ([0-9.]+) GB/s", out,
                           re.M).group(1))
    read = float(re.search(r"^read bandwidth .*: ([0-9.]+) GB/s", out,
                           re.M).group(1))
    return cpu, peak, copy, read


def train_inputs(names, b, t, vocab=CFG["vocab_size"]):
    """Random GPT-2-style weights, zero moments, ids and the scalars of a
    training step whose inputs are `names` ((kind, name, shape) from the
    plan), as a dict of arrays."""
    rng = np.random.default_rng(0)
    out = {}
    for kind, name, shape in names:
        dims = [] if shape == "-" else [int(x) for x in shape.split(",")
                                        if x.isdigit()]
        if name in ("tokens", "targets"):
            out[name] = rng.integers(0, vocab, (b, t)).astype(np.int32)
        elif name.startswith("adam."):
            out[name] = np.zeros(dims, np.float32)
        elif name in ("lr", "step", "weight_decay", "clip_norm"):
            out[name] = np.array({"lr": 6e-4, "step": 1, "weight_decay": 0.1,
                                  "clip_norm": 1.0}[name], np.float32)
        elif name.endswith(".bias"):
            out[name] = np.zeros(dims, np.float32)
        elif ".ln_" in name or name.startswith("ln_"):
            out[name] = np.ones(dims, np.float32)
        else:
            out[name] = (rng.standard_normal(dims) * 0.02).astype(np.float32)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--target", default="cpu",
                    choices=["cpu", "cpu-avx2", "cpu-avx512"],
                    help="gptc's CPU target; PyTorch gets the same ISA")
    ap.add_argument("--skip-compile", action="store_true",
                    help="skip torch.compile (slow to compile)")
    ap.add_argument("--precision", default="f32", choices=["f32", "bf16"],
                    help="bf16: mixed-precision training, gptc's and "
                    "PyTorch's (autocast), against gptc's f32")
    ap.add_argument("--peer", nargs=7, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:  # a child of peer_time
        name, b, t, steps, compiled, threads, bf16 = args.peer
        torch.set_num_threads(int(threads))
        print(torch_step_time(name, int(b), int(t), int(steps),
                              bool(int(compiled)), bool(int(bf16))))
        return 0
    bf16 = args.precision == "bf16"
    if bf16 and args.target == "cpu-avx2":
        sys.exit("--precision bf16 needs AVX512-BF16; --target cpu-avx2 "
                 "has none")
    native = "avx512" if "avx512f" in open("/proc/cpuinfo").read() else "avx2"
    isa = {"cpu": native, "cpu-avx2": "avx2", "cpu-avx512": "avx512"}[
        args.target]
    # PyTorch's default is its widest kernels; a forced target pins them.
    capability = None if args.target == "cpu" else isa
    work = tempfile.mkdtemp(prefix="gptc-bench-")
    try:
        cpu, peak, bw, _ = machine(args.threads, isa, bf16)

        # W4: cold (fresh cache) and warm builds; with bf16, of the bf16
        # step, then its fp32 build to compare with.
        cache = os.path.join(work, "cache")

        def build_cmd(output, *flags):
            return [GPTC, "build", MODEL, "--config", CONFIG, "--task=train",
                    "--target=" + args.target, "-o", output, "--cache-dir",
                    cache, *flags]
        exe = os.path.join(work, "gpt2-train")
        flags = []
        if bf16:
            yaml = os.path.join(work, "bf16.yaml")
            with open(yaml, "w") as f:
                f.write("precision: bf16\n")
            flags = ["--train-config", yaml]
        cmd = build_cmd(exe, *flags)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        warm = time.perf_counter() - start
        f32_exe = None
        if bf16:
            f32_exe = os.path.join(work, "gpt2-train-f32")
            subprocess.run(build_cmd(f32_exe), check=True,
                           capture_output=True)

        plan = subprocess.run(
            [GPTC, "emit", MODEL, "--config", CONFIG, "--stage=kernels",
             "--task=train"], check=True, capture_output=True, text=True).stdout
        fn = plan[plan.index("function train_step"):]
        fn = fn[:fn.index("\nend")]
        names = [(m.group(1), m.group(2), m.group(3)) for m in re.finditer(
            r"^value \d+ (input|param) (\S+) \S+ (\S+)$", fn, re.M)]

        peers = [(n, c) for n in PEERS for c in (False, True)
                 if not (c and args.skip_compile)]
        rows, failures = [], []
        for label, b, t in (("W1", 4, 64), ("W2", 1, 1024)):
            info = subprocess.run(
                [GPTC, "info", MODEL, "--config", CONFIG, "--dim", f"B={b}",
                 "--dim", f"T={t}"], check=True, capture_output=True,
                text=True).stdout
            per_token = re.search(r"@train_step:\s+FLOPs per token \(with "
                                  r"AdamW\)\s+([0-9.]+) MFLOP", info)
            flops = float(per_token.group(1)) * 1e6 * b * t
            inputs = os.path.join(work, f"{label}.safetensors")
            save_file(train_inputs(names, b, t), inputs)
            def step_time(executable):
                out = subprocess.run(
                    [executable, "--inputs", inputs, "-o",
                     os.path.join(work, "out"), "--threads",
                     str(args.threads), "--repeat", str(args.steps)],
                    check=True, capture_output=True, text=True).stderr
                return float(re.search(r"train_step: ([0-9.]+) ms median",
                                       out).group(1)) / 1e3
            gptc_s = step_time(exe)
            f32_s = step_time(f32_exe) if f32_exe else None
            os.remove(inputs)
            times = {}
            for n, c in peers:
                times[(n, c)], why = peer_time(n, b, t, args.steps, c,
                                               args.threads, capability, bf16)
                if why:
                    failures.append(f"{label} {n} "
                                    f"{'compile' if c else 'eager'}: {why}")
            rows.append((label, b, t, flops, gptc_s, times, f32_s))

        print(f"cpu: {cpu}; gptc --target={args.target} ({isa}); PyTorch "
              f"{torch.__version__}, ATEN_CPU_CAPABILITY="
              f"{capability or 'default'}; {args.threads} threads; "
              f"precision {args.precision}"
              + (" (gptc: precision: bf16; PyTorch: bf16 autocast)"
                 if bf16 else ""))
        print(f"{'bf16 dot (vdpbf16ps)' if bf16 else 'fp32 FMA'} peak "
              f"({isa}): {peak:.1f} GFLOP/s; copy bandwidth "
              f"{bw:.1f} GB/s (gptc-bench-peak, this run)")
        print(f"W4 compile time, DSL to executable: cold {cold:.1f} s, "
              f"warm {warm:.2f} s\n")
        cols = [f"{n} {'compile' if c else 'eager'}" for n, c in peers]
        hdr = (f"{'':4} {'B':>2} {'T':>5} {'GFLOP':>6} | {'gptc ms':>8} "
               f"{'GFLOP/s':>8} {'MFU':>5} | " +
               (f"{'gptc f32 ms':>11} {'bf16 gain':>9} | " if bf16 else "") +
               " ".join(f"{c:>15}" for c in cols) +
               f" | {'vs best eager':>13} {'vs best':>8}")
        print(hdr)
        print("-" * len(hdr))
        for label, b, t, flops, g, times, f32_s in rows:
            ok = {k: v for k, v in times.items() if v is not None}
            eager = min((v for (n, c), v in ok.items() if not c), default=None)
            best = min(ok.values(), default=None)
            ratio = lambda p: f"{p / g:.2f}x" if p else "-"
            print(f"{label:4} {b:2} {t:5} {flops / 1e9:6.1f} | {g * 1e3:8.0f} "
                  f"{flops / g / 1e9:8.1f} {100 * flops / g / 1e9 / peak:4.0f}%"
                  " | " + (f"{f32_s * 1e3:11.0f} {f32_s / g:8.2f}x | "
                           if f32_s else "") + " ".join(
                      f"{times[p] * 1e3:12.0f} ms" if times[p] is not None
                      else f"{'failed':>15}" for p in peers)
                  + f" | {ratio(eager):>13} {ratio(best):>8}")
        for f in failures:
            print("failed: " + f)
        print("\nMFU = achieved GFLOP/s (train_step FLOPs from `gptc info`) / "
              "the measured FMA peak of the ISA in use; ratios > 1 mean gptc "
              "is faster than the best peer.")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
