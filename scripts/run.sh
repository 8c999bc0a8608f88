#!/usr/bin/env bash
# The main job (README command 1), the book's chapter 5 as a demo: build
# gptc, compile the book's GPT (models/gpt2.gpt) at a small size into a
# native training executable, pretrain it on the-verdict.txt until it
# memorizes the story (training loss far below validation loss), and show
# the progress, generated text and the loss curve. A few minutes on two
# cores once set up and built.
#
#   scripts/run.sh [MODEL_CONFIG] [TRAIN_CONFIG]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release

gptc=build/release/tools/gptc/gptc
model=models/gpt2.gpt
config=${1:-models/configs/gpt2-mini.yaml}
train=${2:-models/train/verdict-demo.yaml}
out=build/demo
mkdir -p "$out"

echo "== the model"
"$gptc" check "$model" --config "$config"
"$gptc" info "$model" --config "$config" --dim B=2 --dim T=256 |
  sed -n '/^parameters/,/^$/p;/^memory plan/,$p'

echo
echo "== compiling the training executable (kernels are cached after the first time)"
"$gptc" build "$model" --config "$config" --train-config "$train" \
  --task=train -o "$out/train"

echo
echo "== pretraining on data/the-verdict.txt"
"$out/train" --config "$train" --data data/the-verdict.txt --out "$out/run"

echo
echo "== evaluating the checkpoint on the whole story"
"$out/train" --eval --data data/the-verdict.txt \
  --weights "$out/run/checkpoint.safetensors" --ctx 256
echo
echo "loss curve: $out/run/loss.svg   log: $out/run/log.jsonl"
