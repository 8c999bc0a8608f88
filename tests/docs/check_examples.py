#!/usr/bin/env python3
"""Checks every example of a Markdown document against the real tools.

- A ```gpt block is a complete model: `gptc check` must accept it, or, when
  its first line is `// error: TEXT`, reject it (exit 1) with TEXT in the
  message. An HTML comment `<!-- gptc: ARGS -->` right before a block adds
  ARGS to the command line (e.g. `--set emb_dim=8`).
- A ```gpt excerpt=PATH block must appear word for word in PATH (relative
  to --src), so walkthroughs of real files cannot drift from them.

Usage: check_examples.py DOC.md --src ROOT [--gptc PATH]
Prints one line per example and `all N examples ok`; exits 1 on a failure.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\S*)(?:\s+(.*))?$")


def blocks(text):
    """Yields (line, info, attrs, body, extra_args) for each fenced block."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        start = i
        extra = []
        if i > 0:
            c = re.match(r"^<!-- gptc: (.*) -->$", lines[i - 1])
            if c:
                extra = shlex.split(c.group(1))
        j = i + 1
        while j < len(lines) and lines[j] != "```":
            j += 1
        yield start + 1, m.group(1), (m.group(2) or ""), "\n".join(lines[i + 1:j]) + "\n", extra
        i = j + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("doc")
    ap.add_argument("--src", required=True)
    ap.add_argument("--gptc", default="gptc")
    args = ap.parse_args()
    text = open(args.doc, encoding="utf-8").read()
    failures, count = 0, 0
    for line, lang, attrs, body, extra in blocks(text):
        if lang != "gpt":
            continue
        count += 1
        where = f"{os.path.basename(args.doc)}:{line}"
        m = re.match(r"excerpt=(\S+)", attrs)
        if m:
            path = os.path.join(args.src, m.group(1))
            ok = body in open(path, encoding="utf-8").read()
            print(f"{where}: excerpt of {m.group(1)}: {'ok' if ok else 'NOT FOUND'}")
            failures += not ok
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".gpt", delete=False) as f:
            f.write(body)
            path = f.name
        try:
            r = subprocess.run([args.gptc, "check", path] + extra,
                               capture_output=True, text=True)
        finally:
            os.unlink(path)
        first = body.split("\n", 1)[0]
        if first.startswith("// error: "):
            want = first[len("// error: "):]
            ok = r.returncode == 1 and want in r.stderr
            print(f"{where}: expected error: {'ok' if ok else 'FAILED'}")
        else:
            ok = r.returncode == 0
            print(f"{where}: check: {'ok' if ok else 'FAILED'}")
        if not ok:
            print(r.stdout + r.stderr)
            failures += 1
    if failures:
        print(f"{failures} of {count} examples failed")
        return 1
    print(f"all {count} examples ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
