#!/usr/bin/env python3
"""GPT-2 BPE encode throughput, gptc against tiktoken, one thread each, in
one run on the same file. Needs tiktoken (pip install tiktoken); it is built
from data/gpt2.tiktoken, so nothing is downloaded.

  python3 bench/tokenizer.py [FILE]     (default: data/tinyshakespeare.txt)
"""
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from make_tokenizer_goldens import encoding  # noqa: E402

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    ROOT, "data", "tinyshakespeare.txt")
text = open(path, encoding="utf-8", newline="").read()
mb = len(text.encode()) / 1e6
print(subprocess.run([os.path.join(ROOT, "build/release/bench/gptc-bench-tokenizer"),
                      path], capture_output=True, text=True,
                     check=True).stdout.rstrip())
enc = encoding()
times = []
for _ in range(5):
    t = time.perf_counter()
    n = len(enc.encode_ordinary(text))
    times.append(time.perf_counter() - t)
print(f"tiktoken {n} tokens  first pass {mb / times[0]:.1f} MB/s  "
      f"steady {mb / min(times[1:]):.1f} MB/s")
