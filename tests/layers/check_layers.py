#!/usr/bin/env python3
"""Checks that each layer of gptc includes only the layers below it.

The folders say where code runs (docs/Architecture.md, "Layers"): the support
library and the runtime go into users' executables, the front end, the IR and
the passes into the compiler, the kernel generators into their own process,
and the kernel templates into generated kernels. A `#include "gptc/..."` that
crosses a layer the wrong way is reported as `file:line: ... includes ...`
and the script exits 1; the linker would otherwise find out only for the
binaries that happen to call the code.

  python3 tests/layers/check_layers.py [--root SRC]
"""
import argparse
import os
import re
import sys

# What the code in each folder (and its headers under include/gptc/<Dir>)
# may include, as prefixes of the path after `gptc/`. The first matching
# rule wins, so a file-specific rule comes before its folder's.
SUPPORT = ["Support/"]
OPINFO = ["IR/OpInfo.h", "IR/Dim.h", "IR/ShapeRules.h", "IR/GptOpTable.inc"]
RULES = [
    ("support/", SUPPORT),
    ("include/gptc/Support/", SUPPORT),
    ("runtime/", SUPPORT + ["Runtime/"]),
    ("include/gptc/Runtime/", SUPPORT + ["Runtime/"]),
    # The op table is MLIR-free; the front end reads its builtins from it.
    ("frontend/MLIRGen.cpp", SUPPORT + ["Frontend/", "IR/"]),
    ("include/gptc/Frontend/MLIRGen.h", SUPPORT + ["Frontend/", "IR/"]),
    ("frontend/", SUPPORT + ["Frontend/"] + OPINFO),
    ("include/gptc/Frontend/", SUPPORT + ["Frontend/"] + OPINFO),
    # The interpreter reads and writes the runtime's tensors.
    ("ir/Interpreter.cpp", SUPPORT + ["IR/", "Runtime/"]),
    ("include/gptc/IR/Interpreter.h", SUPPORT + ["IR/", "Runtime/"]),
    ("ir/", SUPPORT + ["IR/"]),
    ("include/gptc/IR/", SUPPORT + ["IR/"]),
    ("passes/", SUPPORT + ["IR/", "Passes/"]),
    ("include/gptc/Passes/", SUPPORT + ["IR/", "Passes/"]),
    # The compiler side of the backends: IR in, kernel descriptions and a
    # plan out.
    ("backends/lowering/", SUPPORT + ["IR/", "Backends/", "Runtime/Plan.h"]),
    ("include/gptc/Backends/", SUPPORT + ["IR/", "Backends/", "Runtime/Plan.h"]),
    # Kernel templates run inside executables: the RNG they share with the
    # interpreter, nothing else.
    ("backends/cpu/kernels/", ["Runtime/Philox.h"]),
    ("backends/cuda/kernels/", ["Runtime/Philox.h"]),
    # The generators read descriptions and the op table, never the IR.
    ("backends/", SUPPORT + OPINFO + ["Backends/KernelDesc.h",
                                      "Backends/KernelCache.h",
                                      "Runtime/Philox.h"]),
]
SOURCES = (".cpp", ".h", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s+"gptc/([^"]+)"')


def rule_for(rel):
    for prefix, allowed in RULES:
        if rel.startswith(prefix):
            return prefix, allowed
    return None, None


def check(root):
    errors, files = [], 0
    for top in ["support", "runtime", "frontend", "ir", "passes", "backends",
                "include/gptc"]:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not name.endswith(SOURCES):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                layer, allowed = rule_for(rel)
                if allowed is None:
                    continue
                files += 1
                with open(path, encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m and not any(m.group(1).startswith(a)
                                         for a in allowed):
                            errors.append(
                                f"{rel}:{n}: includes gptc/{m.group(1)}, "
                                f"outside its layer ({layer} may include "
                                f"{', '.join(allowed)})")
    return errors, files


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))
    args = ap.parse_args()
    errors, files = check(args.root)
    for e in errors:
        print(e)
    if errors:
        print(f"layers: {len(errors)} include(s) cross a layer")
        return 1
    print(f"layers: {files} files ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
