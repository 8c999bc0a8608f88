#!/usr/bin/env bash
# Fuzzes the front end (lexer, parser, config, elaboration) with libFuzzer.
# Usage: scripts/fuzz.sh [SECONDS]   (default 600)
# Seeds are every .gpt file of the project; new inputs go to build/fuzz/corpus,
# crashes to build/fuzz/ (add each as a regression test before fixing it).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
scripts/setup.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target gptc-frontend-fuzzer
mkdir -p build/fuzz/corpus build/fuzz/seeds
find models tests/lit -name '*.gpt' -exec cp {} build/fuzz/seeds/ \;
cd build/fuzz
./tests/fuzz/gptc-frontend-fuzzer -max_total_time="$secs" -timeout=10 \
  -rss_limit_mb=4096 -dict=../../tests/fuzz/gpt.dict -print_final_stats=1 \
  corpus seeds
