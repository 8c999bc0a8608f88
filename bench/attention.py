#!/usr/bin/env python3
"""Attention fusion: GPT-2 124M training steps at B=1 and growing T, gptc
with flash attention (the default) and without (--no-fuse-attention), and
PyTorch eager and torch.compile, in one run.

For each T: the step time (median after a warm-up step), the time gptc's
profile attributes to attention (the flash kernels; unfused, every kernel
that touches a [.., T, T] tensor), and the peak resident memory of the
process that ran the steps. The model has a 2048-token context for every T
(GPT-2 124M otherwise), so T=1024 is W2 with a longer position table.
Needs torch, numpy and safetensors (pip).

  python3 bench/attention.py [--threads 2] [--steps 2] [--lengths 256,1024]
                             [--skip-compile] [--skip-torch]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_step as ts  # noqa: E402  (the book's model and the inputs)

CONTEXT = 2048


def run_child(cmd):
    """Runs cmd to completion, returning (stdout, stderr, peak RSS MiB)."""
    with tempfile.TemporaryFile("w+") as out, \
            tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        # wait4 rather than wait: it reports the child's own peak RSS.
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        o, e = out.read(), err.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed:\n{e}")
    return o, e, usage.ru_maxrss / 1024


def attention_kernels(plan):
    """Symbols of the train_step kernels that do attention work."""
    symbols, families = {}, {}
    for m in re.finditer(r"^kernel (\d+) (\S+) (\S+)", plan, re.M):
        symbols[m.group(1)] = m.group(2)
        families[m.group(2)] = m.group(3)
    fn = plan[plan.index("function train_step"):]
    fn = fn[:fn.index("\nend")]
    found = {s for s, f in families.items() if f.startswith("attention")}
    for m in re.finditer(r"^call (\d+) \S+ (.*)$", fn, re.M):
        for arg in m.group(2).split():
            if arg.startswith("#"):  # a scalar argument
                continue
            dims = arg.split(":")[1].split(",")
            if len(dims) >= 2 and dims[-1] == "T" and dims[-2] == "T":
                found.add(symbols[m.group(1)])
    return found


def profile_ms(err, kernels):
    """(total kernel ms, attention ms) from an executable's --profile."""
    total = attention = 0.0
    for line in err.splitlines():
        w = line.split()
        if len(w) >= 5 and re.fullmatch(r"k[0-9a-f]{16}", w[0]):
            ms = float(w[3])  # kernel, family, calls, ms, share, GFLOP/s
            total += ms
            if w[0] in kernels:
                attention += ms
    return total, attention


def torch_worker(b, t, steps, compiled, threads):
    import torch
    torch.set_num_threads(threads)
    ts.CFG["context_length"] = CONTEXT
    print(json.dumps({"s": ts.torch_step_time(b, t, steps, compiled)}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--lengths", default="256,512,1024,2048")
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--torch-worker", nargs=3, metavar=("T", "MODE", "X"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        t, mode, _ = args.torch_worker
        return torch_worker(1, int(t), args.steps, mode == "compile",
                            args.threads)

    lengths = [int(x) for x in args.lengths.split(",")]
    work = tempfile.mkdtemp(prefix="gptc-bench-attn-")
    base = [ts.MODEL, "--config", ts.CONFIG, "--set",
            f"context_length={CONTEXT}", "--task=train"]
    try:
        variants = {}
        for name, flags in (("fused", []), ("unfused", ["--no-fuse-attention"])):
            exe = os.path.join(work, name)
            subprocess.run([ts.GPTC, "build", *base, *flags, "-o", exe],
                           check=True, capture_output=True)
            plan = subprocess.run([ts.GPTC, "emit", *base, *flags,
                                   "--stage=kernels"], check=True,
                                  capture_output=True, text=True).stdout
            variants[name] = (exe, attention_kernels(plan), plan)
        plan = variants["fused"][2]
        fn = plan[plan.index("function train_step"):]
        fn = fn[:fn.index("\nend")]
        names = [(m.group(1), m.group(2), m.group(3)) for m in re.finditer(
            r"^value \d+ (input|param) (\S+) \S+ (\S+)$", fn, re.M)]
        ts.CFG["context_length"] = CONTEXT

        print(f"GPT-2 124M (context {CONTEXT}) training step, B=1, "
              f"{args.threads} threads: ms (attention ms) and peak RSS MiB; "
              f"the train_step arena (activations, gradients, moments) in "
              f"brackets\n")
        cols = ["fused", "unfused", "eager", "compile"]
        hdr = f"{'T':>5} | " + " | ".join(f"{c:>31}" for c in cols) + \
            " | attn speedup | vs compile"
        print(hdr)
        print("-" * len(hdr), flush=True)
        for t in lengths:
            inputs = os.path.join(work, f"T{t}.safetensors")
            ts.train_inputs(names, 1, t, inputs)
            row = {}
            for name, (exe, kernels, _) in variants.items():
                _, err, rss = run_child(
                    [exe, "--inputs", inputs, "-o", os.path.join(work, "out"),
                     "--threads", str(args.threads), "--repeat",
                     str(args.steps), "--profile"])
                ms = float(re.search(r"train_step: ([0-9.]+) ms median",
                                     err).group(1))
                arena = float(re.search(r"train_step ([0-9.]+) MiB",
                                        err).group(1))
                total, attn = profile_ms(err, kernels)
                # The profile sums every run; its share scales the median.
                row[name] = (ms, attn / total * ms, rss, arena)
            os.remove(inputs)
            for mode in ([] if args.skip_torch else
                         ["eager"] + ([] if args.skip_compile else ["compile"])):
                out, _, rss = run_child(
                    [sys.executable, os.path.abspath(__file__), "--threads",
                     str(args.threads), "--steps", str(args.steps),
                     "--torch-worker", str(t), mode, "-"])
                row[mode] = (json.loads(out)["s"] * 1e3, None, rss, None)
            cells = []
            for c in cols:
                if c not in row:
                    cells.append(f"{'-':>31}")
                    continue
                ms, attn, rss, arena = row[c]
                a = f"({attn:5.0f})" if attn is not None else " " * 7
                ar = f"[{arena:5.0f}M]" if arena is not None else " " * 8
                cells.append(f"{ms:6.0f} {a} {rss:6.0f}M {ar}")
            speed = row["unfused"][1] / row["fused"][1]
            vc = (f"{row['compile'][0] / row['fused'][0]:9.2f}x"
                  if "compile" in row else f"{'-':>10}")
            print(f"{t:5} | " + " | ".join(cells) +
                  f" | {speed:11.2f}x | {vc}", flush=True)
        print("\nattn speedup = unfused attention time / flash attention time "
              "(from --profile); vs compile > 1: gptc (fused) is faster.")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
