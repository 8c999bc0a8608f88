#!/usr/bin/env bash
# Fuzzes one of gptc's input parsers with libFuzzer.
# Usage: scripts/fuzz.sh [frontend|config|safetensors|contract|tokenizer] [SECONDS]
#        (default: frontend 600)
#   frontend     lexer, parser, config (YAML) and elaboration; seeds: every .gpt
#   config       the YAML readers (model and training configs); seeds: models/configs, models/train
#   safetensors  the safetensors reader (run-contract inputs, weights); seeds: the golden files
#   contract     the executor's checks of run-contract inputs, on a golden
#                model's plan with no-op kernels; seeds: that golden's inputs
#   tokenizer    tokenizer files (tiktoken, encoder.json); seeds: a cut of data/gpt2.tiktoken
# New inputs go to build/fuzz/corpus-TARGET, crashes to build/fuzz/ (add each
# as a regression test before fixing it).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-frontend}
secs=${2:-600}
case "$target" in
  frontend) seeds=(models models/lib tests/lit/errors tests/lit/frontend); dict=(-dict=../../tests/fuzz/gpt.dict) ;;
  config) seeds=(models/configs models/train); dict=() ;;
  safetensors) seeds=(tests/reference/goldens); dict=() ;;
  contract) seeds=(); dict=() ;;
  tokenizer) seeds=(); dict=() ;;
  *) echo "usage: scripts/fuzz.sh [frontend|config|safetensors|contract|tokenizer] [SECONDS]" >&2; exit 2 ;;
esac
scripts/setup.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "gptc-$target-fuzzer"
mkdir -p "build/fuzz/corpus-$target" "build/fuzz/seeds-$target"
for d in "${seeds[@]}"; do
  find "$d" -maxdepth 1 -type f \( -name '*.gpt' -o -name '*.safetensors' -o -name '*.yaml' \) \
    -exec cp {} "build/fuzz/seeds-$target/" \;
done
if [ "$target" = contract ]; then
  # The plan of a golden model (release gptc), and that golden's inputs.
  golden=tests/reference/goldens/tied-bias-odd-t
  cmake --preset release >/dev/null
  cmake --build --preset release --target gptc
  build/release/tools/gptc/gptc emit models/gpt2.gpt --config "$golden.yaml" \
    --stage=kernels --task=train > build/fuzz/contract.plan
  export GPTC_FUZZ_PLAN=$PWD/build/fuzz/contract.plan
  cp "$golden.safetensors" build/fuzz/seeds-contract/
fi
if [ "$target" = tokenizer ]; then
  # The first 300 ranks: a small tokenizer that loads, to mutate from.
  head -n 300 data/gpt2.tiktoken > build/fuzz/seeds-tokenizer/gpt2-300.tiktoken
fi
cd build/fuzz
"./tests/fuzz/gptc-$target-fuzzer" -max_total_time="$secs" -timeout=10 \
  -rss_limit_mb=4096 "${dict[@]}" -print_final_stats=1 \
  "corpus-$target" "seeds-$target"
