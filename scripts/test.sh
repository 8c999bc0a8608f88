#!/usr/bin/env bash
# The full test suite (README command 2; CI runs it through .ci/run).
#
# 1. setup.sh installs any missing Debian packages.
# 2. Release build: every tier (unit, lit, gpu; gpu skips without a GPU).
# 3. ASan+UBSan build: the front-end and runtime tiers (unit, lit) again.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "== release build"
cmake --preset release >/dev/null
cmake --build --preset release
echo "== release tests"
ctest --preset release -j2

echo "== asan+ubsan build"
cmake --preset asan >/dev/null
cmake --build --preset asan
echo "== asan+ubsan tests (front end, runtime)"
ctest --preset asan -j2 -L 'unit|lit'
