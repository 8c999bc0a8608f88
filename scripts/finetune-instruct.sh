#!/usr/bin/env bash
# The book's chapter 7 as a demo: compile the GPT (models/gpt2.gpt) into a
# training executable, fine-tune it on the book's instruction data (Alpaca
# prompts, split 85/5/10, the book's collate), print the losses and a
# response, and write the test set's responses to
# build/instruct/run/test-responses.json.
#
#   scripts/finetune-instruct.sh              # gpt2-mini from scratch: the pipeline
#                                             # in minutes (its answers are not good)
#   scripts/finetune-instruct.sh GPT2_355M    # the book's: OpenAI's GPT-2 355M (a
#                                             # Hugging Face folder or model.safetensors)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release

gptc=build/release/tools/gptc/gptc
out=build/instruct
start=()
if [ $# -ge 1 ]; then
  config=models/configs/gpt2-355m.yaml
  train=models/train/instruct.yaml
  start=(--init-from "$1")
else
  config=models/configs/gpt2-mini.yaml
  train=models/train/instruct-scratch.yaml
fi
mkdir -p "$out"

echo "== compiling the training executable"
"$gptc" build models/gpt2.gpt --config "$config" --train-config "$train" \
  --task=train -o "$out/train"

echo
echo "== fine-tuning on data/instruction-data.json"
"$out/train" --config "$train" --data data/instruction-data.json \
  --out "$out/run" "${start[@]}"

echo
echo "== the first test response"
python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))[0]; print("instruction:", r["instruction"], r["input"]); print("expected:   ", r["output"]); print("model:      ", r["model_response"])' \
  "$out/run/test-responses.json"
