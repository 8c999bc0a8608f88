#!/bin/sh
# Stands in for gptc-kernelgen: answers --version, refuses every kernel.
if [ "$1" = "--version" ]; then
  echo "failing-kernelgen 1"
  exit 0
fi
echo "gptc-kernelgen: error: this stand-in generates no kernel"
exit 1
