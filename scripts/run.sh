#!/usr/bin/env bash
# The main job (README command 1): build gptc, then check the book's GPT-2
# model and print its summary. Grows into compile, train and generate as the
# backends land.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release

gptc=build/release/tools/gptc/gptc
model=models/gpt2.gpt
config=${1:-models/configs/gpt2-124m.yaml}
"$gptc" check "$model" --config "$config"
echo
"$gptc" info "$model" --config "$config"
