#!/usr/bin/env python3
"""gptc's generated matmul kernels against PyTorch, in one run.

Runs build/release/bench/gptc-bench-matmul (which measures the machine's
fp32 FMA peak itself) and times torch.matmul on the same shapes and thread
count, then prints one table with GFLOP/s, fraction of peak and the ratio.
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
peak = float(re.search(r"peak .*: ([0-9.]+) GFLOP/s", out).group(1))
print(out.splitlines()[0])
torch.set_num_threads(threads)
print(f"\n{'shape (M x K x N)':<26} {'gptc GFLOP/s':>13} {'torch GFLOP/s':>14} "
      f"{'gptc/peak':>10} {'gptc/torch':>11}")
for line in out.splitlines():
    m = re.match(r"(.*?) +(\d+) +(\d+) +(\d+) +([0-9.]+) +([0-9.]+) +\d+%$",
                 line)
    if not m:
        continue
    rows, k, n = int(m.group(2)), int(m.group(3)), int(m.group(4))
    ours = float(m.group(6))
    trans_b = "^T" in m.group(1)
    a = torch.randn(rows, k)
    b = torch.randn(n, k) if trans_b else torch.randn(k, n)
    f = (lambda: a @ b.T) if trans_b else (lambda: a @ b)
    for _ in range(3):
        f()
    best = 1e9
    for _ in range(max(3, int(2e9 / (2 * rows * n * k)))):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    theirs = 2 * rows * n * k / best / 1e9
    print(f"{f'{rows} x {k} x {n}' + (' (b^T)' if trans_b else ''):<26} "
          f"{ours:>13.1f} {theirs:>14.1f} {ours / peak:>9.0%} "
          f"{ours / theirs:>10.2f}x")
