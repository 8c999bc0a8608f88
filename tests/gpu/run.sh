#!/usr/bin/env bash
# The GPU test tier. It needs an NVIDIA GPU; without one it reports "skipped"
# (exit 77, which ctest shows as Skipped). The CUDA backend fills it in.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu tier: skipped (no NVIDIA GPU on this machine)"
  exit 77
fi
echo "gpu tier: GPU present; no GPU tests are defined yet (CUDA backend issue)"
exit 0
