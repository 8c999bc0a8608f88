#!/usr/bin/env bash
# The GPU test tier. It needs an NVIDIA GPU; without one it reports "skipped"
# (exit 77, which ctest shows as Skipped). With one, bench/gpu_check.py
# builds the CUDA and CPU executables and checks GPU against CPU results
# (forward, a training step, generation), then times GPT-2 124M.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu tier: skipped (no NVIDIA GPU on this machine)"
  exit 77
fi
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/bench/gpu_check.py" prepare "$work/gpu"
python3 "$root/bench/gpu_check.py" run "$work/gpu"
