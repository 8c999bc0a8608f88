#!/usr/bin/env bash
# Fuzzes one of gptc's input parsers with libFuzzer.
# Usage: scripts/fuzz.sh [frontend|safetensors|tokenizer] [SECONDS]   (default: frontend 600)
#   frontend     lexer, parser, config (YAML) and elaboration; seeds: every .gpt
#   safetensors  the safetensors reader (run-contract inputs, weights); seeds: the golden files
#   tokenizer    tokenizer files (tiktoken, encoder.json); seeds: a cut of data/gpt2.tiktoken
# New inputs go to build/fuzz/corpus-TARGET, crashes to build/fuzz/ (add each
# as a regression test before fixing it).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-frontend}
secs=${2:-600}
case "$target" in
  frontend) seeds=(models models/lib tests/lit/errors tests/lit/frontend); dict=(-dict=../../tests/fuzz/gpt.dict) ;;
  safetensors) seeds=(tests/reference/goldens); dict=() ;;
  tokenizer) seeds=(); dict=() ;;
  *) echo "usage: scripts/fuzz.sh [frontend|safetensors|tokenizer] [SECONDS]" >&2; exit 2 ;;
esac
scripts/setup.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "gptc-$target-fuzzer"
mkdir -p "build/fuzz/corpus-$target" "build/fuzz/seeds-$target"
for d in "${seeds[@]}"; do
  find "$d" -maxdepth 1 -type f \( -name '*.gpt' -o -name '*.safetensors' \) \
    -exec cp {} "build/fuzz/seeds-$target/" \;
done
if [ "$target" = tokenizer ]; then
  # The first 300 ranks: a small tokenizer that loads, to mutate from.
  head -n 300 data/gpt2.tiktoken > build/fuzz/seeds-tokenizer/gpt2-300.tiktoken
fi
cd build/fuzz
"./tests/fuzz/gptc-$target-fuzzer" -max_total_time="$secs" -timeout=10 \
  -rss_limit_mb=4096 "${dict[@]}" -print_final_stats=1 \
  "corpus-$target" "seeds-$target"
