#!/usr/bin/env bash
# Offline validation of the CUDA backend, no GPU needed:
#  1. every kernel the tiny model's training step and generation functions
#     generate for --target=cuda (fused kernels through Halide, attention
#     and the KV cache through nvcc) assembles with ptxas for sm_80 (A100)
#     and sm_90 (H100/H200), and none of them touches a buffer on the host;
#  2. `gptc build --target=cuda` links train and generate executables;
#  3. the train executable links NCCL (data-parallel gradient sums on the
#     GPUs) and MPI;
#  4. without a GPU they stop with a clear message and exit 1 (with one,
#     the GPU tier, tests/gpu/run.sh, runs them), also as 2 MPI ranks.
# Skips (exit 77) where the CUDA toolkit is absent.
#   tests/cuda/offline.sh GPTC MODELS_DIR CACHE_DIR WORK_DIR WEIGHTS
set -euo pipefail
gptc=$1 models=$2 cache=$3 work=$4 weights=$5
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
    # A GPU pipeline that touches a buffer on the host stops at run time
    # ("The host pointer of ... is null"): the executor's buffers live on
    # the device only. (The newest object of that name: the cache keeps
    # those of earlier compiler versions too.)
    obj=$(ls -t "$cache/$(basename "$ptx" .ptx)"-*.o | head -1)
    if nm "$obj" | grep -q ' U halide_error_host_is_null'; then
      echo "cuda kernels: $ptx's kernel ($obj) accesses a buffer on the host"
      exit 1
    fi
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

for task in train generate; do
  "$gptc" build "$models/gpt2.gpt" --config "$models/configs/tiny.yaml" \
    --set vocab_size=250 --task=$task --target=cuda --cache-dir "$cache" \
    -o "$work/$task-cuda"
done
for lib in libnccl libmpi; do
  if ! readelf -d "$work/train-cuda" | grep -q "NEEDED.*$lib"; then
    echo "cuda build: the train executable does not link $lib"
    exit 1
  fi
done
# expect_failure WHAT PATTERN COMMAND...: COMMAND must exit 1 and print PATTERN.
expect_failure() {
  local what=$1 pattern=$2 out rc
  shift 2
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  if [ $rc -ne 1 ] || ! grep -q "$pattern" <<< "$out"; then
    echo "cuda build: expected $what, got exit $rc: $out"
    exit 1
  fi
}
if command -v nvidia-smi > /dev/null && nvidia-smi -L > /dev/null 2>&1; then
  echo "cuda build: linked; a GPU is present, so tests/gpu/run.sh runs them"
else
  expect_failure "a clear no-GPU error" \
    "error: this executable runs on an NVIDIA GPU, and none is usable here" \
    "$work/generate-cuda" --weights "$weights" --prompt-ids "1 2"
  echo "cuda build: linked; without a GPU it stops with a clear error"
  # Two ranks: each says so, naming its rank, and the job ends.
  if command -v mpirun > /dev/null; then
    expect_failure "each rank's no-GPU error under mpirun" \
      "(rank [01] of 2): error: this executable runs on an NVIDIA GPU" \
      env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
      mpirun --oversubscribe -np 2 "$work/train-cuda" \
      --data "$models/../data/the-verdict.txt" --ctx 16 --steps 1
    echo "cuda build: under mpirun without a GPU the ranks stop with the error"
  fi
fi
rm -rf "$work" "$work".*.log
