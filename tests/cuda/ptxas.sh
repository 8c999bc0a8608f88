#!/usr/bin/env bash
# Offline validation of the CUDA backend, no GPU needed: every kernel the
# tiny model's training step and generation functions generate for
# --target=cuda (fused kernels through Halide, attention and the KV cache
# through nvcc) must assemble with ptxas for sm_80 (A100) and sm_90
# (H100/H200). Skips (exit 77) where the CUDA toolkit is absent.
#   tests/cuda/ptxas.sh GPTC MODELS_DIR CACHE_DIR WORK_DIR
set -euo pipefail
gptc=$1 models=$2 cache=$3 work=$4
ptxas=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
if [ ! -x "$ptxas" ] || [ ! -x "$nvcc" ]; then
  echo "cuda ptxas: skipped (no CUDA toolkit: ptxas or nvcc not found)"
  exit 77
fi
rm -rf "$work"
modules=0
for task in train generate; do
  "$gptc" emit "$models/gpt2.gpt" --config "$models/configs/tiny.yaml" \
    --stage=ptx --target=cuda --task=$task --cache-dir "$cache" \
    -o "$work/$task" > "$work.$task.log"
  for ptx in "$work/$task"/*.ptx; do
    for arch in sm_80 sm_90; do
      if ! "$ptxas" -arch=$arch "$ptx" -o "$work/out.cubin"; then
        echo "cuda ptxas: $ptx does not assemble for $arch"
        exit 1
      fi
    done
    modules=$((modules + 1))
  done
done
if [ "$modules" -lt 50 ]; then
  echo "cuda ptxas: only $modules PTX modules generated; expected the fused kernels of train and generate"
  exit 1
fi
# Attention forward and backward (train), the cache write and the cached
# attention (generate) are among them.
for entry in attentionForward attentionBackwardQ attentionBackwardKV cacheWrite cachedAttention; do
  if ! grep -q "$entry" "$work"/*/*.ptx; then
    echo "cuda ptxas: no PTX module defines $entry"
    exit 1
  fi
done
echo "cuda ptxas: $modules PTX modules assemble for sm_80 and sm_90"
rm -rf "$work" "$work".*.log
