#!/usr/bin/env bash
# The book's chapter 6 as a demo: compile the spam classifier
# (models/gpt2-classifier.gpt) into a training executable, fine-tune it on
# the SMS Spam Collection (balanced, split 70/10/20, padded to the longest
# training text), print accuracy per epoch and over every text, then
# classify the book's two example messages.
#
#   scripts/finetune-spam.sh             # gpt2-mini trained from scratch (minutes)
#   scripts/finetune-spam.sh GPT2_124M   # the book's: OpenAI's GPT-2 124M (a Hugging
#                                        # Face folder or model.safetensors; CONFIG=
#                                        # another size's config), only the
#                                        # last block, final norm and head trained
#   scripts/finetune-spam.sh --lora GPT2_124M   # appendix E: LoRA adapters on every
#                                        # Linear of the frozen body (models/gpt2-lora.gpt)
set -euo pipefail
cd "$(dirname "$0")/.."

model=models/gpt2-classifier.gpt
lora=false
if [ "${1:-}" = --lora ]; then
  lora=true
  model=models/gpt2-lora.gpt
  shift
  if [ $# -lt 1 ]; then
    echo "finetune-spam.sh --lora needs pretrained weights to adapt (a GPT-2" \
      "folder, model.safetensors or a gptc checkpoint)" >&2
    exit 2
  fi
fi

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release

gptc=build/release/tools/gptc/gptc
out=build/spam
start=()
if [ $# -ge 1 ]; then
  config=${CONFIG:-models/configs/gpt2-124m.yaml}
  train=models/train/spam-finetune.yaml
  $lora && train=models/train/spam-lora.yaml
  start=(--init-from "$1")
else
  config=models/configs/gpt2-mini.yaml
  train=models/train/spam-scratch.yaml
fi
mkdir -p "$out"

echo "== compiling the classifier's training executable"
"$gptc" build "$model" --config "$config" \
  --train-config "$train" --task=train -o "$out/train"

echo
echo "== fine-tuning on data/SMSSpamCollection"
"$out/train" --config "$train" --data data/SMSSpamCollection \
  --out "$out/run" "${start[@]}"

echo
echo "== classifying the book's two messages"
"$out/train" --weights "$out/run/checkpoint.safetensors" \
  --classify "You are a winner you have been specially selected to receive \$1000 cash or a \$2000 award." \
  --classify "Hey, just wanted to check if we're still on for dinner tonight? Let me know!"
