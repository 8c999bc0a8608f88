#!/usr/bin/env bash
# Installs the Debian packages gptc needs to build and test, and nothing else.
#
# Idempotent: it asks dpkg what is present and installs only what is missing.
# When everything is there it prints one line and exits 0. The package set and
# the reasons for it are in docs/TOOLCHAIN.md (MLIR 22 for the IR, Halide 14
# for kernels, yaml-cpp for configs, GoogleTest, lit/FileCheck from llvm-22-tools).
set -euo pipefail

PACKAGES=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  libhalide14-0-dev libyaml-cpp-dev
  cmake ninja-build ccache g++ clang-14 libclang-rt-14-dev
  libgtest-dev libgmock-dev python3 graphviz
  libcli11-dev nlohmann-json3-dev
  libopenmpi-dev openmpi-bin
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Only one libmlir-N-dev can be installed at a time; apt removes an older one
# (e.g. MLIR 19) in favour of 22 here.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
