#!/usr/bin/env python3
"""gptc's generated matmul kernels against PyTorch, in one run.

Runs build/release/bench/gptc-bench-matmul (which measures the fp32 FMA
peak itself, for the host's widest ISA and for AVX2) and times torch.matmul
on the same shapes, layouts and thread count, then prints GFLOP/s, the
fraction of the ISA's peak and, for the host's ISA, the ratio to PyTorch.
Needs torch (pip install torch).

  python3 bench/matmul.py [THREADS]
"""
import os
import re
import subprocess
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
exe = os.path.join(ROOT, "build/release/bench/gptc-bench-matmul")
out = subprocess.run([exe, str(threads)], capture_output=True, text=True,
                     check=True).stdout
torch.set_num_threads(threads)


def torch_gflops(rows, k, n, op):
    """torch.matmul on the same layout: a [K, M] for a^T b, b [N, K] for
    a b^T."""
    a = torch.randn(k, rows) if op == "a^T b" else torch.randn(rows, k)
    b = torch.randn(n, k) if op == "a b^T" else torch.randn(k, n)
    f = {"a b": lambda: a @ b, "a b^T": lambda: a @ b.T,
         "a^T b": lambda: a.T @ b}[op]
    for _ in range(3):
        f()
    best = 1e9
    for _ in range(max(3, int(2e9 / (2 * rows * n * k)))):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return 2 * rows * n * k / best / 1e9


# One section per ISA, each starting with its peak. PyTorch runs with its
# default (widest) kernels, so it is compared with the first section only.
first = True
for section in re.split(r"\n(?=fp32 FMA peak)", out.strip()):
    lines = section.splitlines()
    peak = float(re.search(r"peak .*: ([0-9.]+) GFLOP/s", lines[0]).group(1))
    print(("" if first else "\n") + lines[0])
    print(f"{'shape (M x K x N)':<26} {'gptc GFLOP/s':>13} {'gptc/peak':>10}" +
          (f" {'torch GFLOP/s':>14} {'gptc/torch':>11}" if first else ""))
    for line in lines[1:]:
        m = re.match(r"(.*?) +(a\^T b|a b\^T|a b) +(\d+) +(\d+) +(\d+) +"
                     r"([0-9.]+) +([0-9.]+) +\d+%$", line)
        if not m:
            continue
        op = m.group(2)
        rows, k, n = int(m.group(3)), int(m.group(4)), int(m.group(5))
        ours = float(m.group(7))
        row = f"{f'{rows} x {k} x {n} ({op})':<26} {ours:>13.1f} {ours / peak:>9.0%}"
        if first:
            theirs = torch_gflops(rows, k, n, op)
            row += f" {theirs:>14.1f} {ours / theirs:>10.2f}x"
        print(row)
    first = False
