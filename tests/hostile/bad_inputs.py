#!/usr/bin/env python3
"""Table-driven bad inputs for gptc: every case must fail cleanly.

Each case runs gptc on one hostile input (flags, DSL sources, YAML configs,
safetensors inputs, tokenizer input) and checks what a user must get: exit
status 1 or 2 (never a signal), a message that names the offending file or
flag, output bounded to a few KiB, and no sanitizer report. Sources and
configs are derived from the repository's own (truncated at many offsets,
bytes corrupted), so the cases follow the language as it grows.

  python3 tests/hostile/bad_inputs.py --gptc build/release/tools/gptc/gptc
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

MAX_OUTPUT = 8192
BAD_MARKERS = ("Sanitizer", "terminate called", "Segmentation", "Aborted",
               "runtime error:", "stack-overflow")


def safetensors(header, data=b""):
    h = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(h)) + h + data


def cases(src, work):
    """Yields (name, argv, needle, files) with files {path: bytes}."""
    model = os.path.join(src, "models", "gpt2.gpt")
    tiny = os.path.join(src, "models", "configs", "tiny.yaml")
    base = ["check", model, "--config", tiny]
    rng = random.Random(17)

    # Flags.
    for name, argv, needle in [
        ("unknown flag", base + ["--frobnicate"], "--frobnicate"),
        ("no command", [], "subcommand"),
        ("unknown command", ["frob", model], "frob"),
        ("stage missing", ["emit", model, "--config", tiny, "--stage"],
         "--stage"),
        ("stage unknown", ["emit", model, "--config", tiny, "--stage=xyz"],
         "xyz"),
        ("task unknown", ["emit", model, "--config", tiny, "--stage=fused",
                          "--task=fly"], "fly"),
        ("target unknown", ["build", model, "--config", tiny,
                            "--target=z80", "-o", work + "/x"], "z80"),
        ("jobs negative", base + ["--jobs", "-1"], "--jobs"),
        ("jobs text", base + ["--jobs", "many"], "--jobs"),
        ("jobs huge", base + ["--jobs", "99999999999999999999"], "--jobs"),
        ("threads text", base + ["--threads", "x"], "--threads"),
        ("set no equals", base + ["--set", "emb_dim"], "emb_dim"),
        ("set unknown key", base + ["--set", "emb_dims=3"], "emb_dims"),
        ("set wrong type", base + ["--set", "emb_dim=wide"], "emb_dim"),
        ("set float for int", base + ["--set", "n_layers=2.5"], "n_layers"),
        ("set bool", base + ["--set", "qkv_bias=maybe"], "qkv_bias"),
        ("set negative heads", base + ["--set", "n_heads=-4"], "n_heads"),
        ("set zero width", base + ["--set", "emb_dim=0"], ""),
        ("config missing", ["check", model, "--config", work + "/none.yaml"],
         "none.yaml"),
        ("model missing", ["check", work + "/none.gpt"], "none.gpt"),
        ("model folder", ["check", work], work),
        ("model dev zero", ["check", "/dev/zero"], "/dev/zero"),
        ("config dev zero", ["check", model, "--config", "/dev/zero"],
         "/dev/zero"),
    ] + [("dim " + d, ["info", model, "--config", tiny, "--dim", d], "--dim")
         for d in ["B", "=4", "B=", "B=0", "B=-3", "B=1e3", "B=x",
                   "B=9223372036854775807", "B=99999999999999999999",
                   "T=1048577"]]:
        yield name, argv, needle, {}

    # DSL: the model cut at many offsets, and with bytes corrupted.
    text = open(model, "rb").read()
    for k in range(40):
        cut = 1 + (len(text) - 2) * k // 40
        path = "%s/cut%02d.gpt" % (work, k)
        yield ("model cut at %d" % cut, ["check", path, "--config", tiny],
               "cut%02d.gpt" % k, {path: text[:cut]})
    for k in range(30):
        b = bytearray(text)
        pos = rng.randrange(len(b))
        b[pos] = rng.choice(b"{}()[]@:=,.*\"\\\x00\xff#")
        path = "%s/flip%02d.gpt" % (work, k)
        yield ("model byte %d corrupted" % pos,
               ["check", path, "--config", tiny], "", {path: bytes(b)})

    # YAML: the tiny config cut, corrupted, retyped.
    ytext = open(tiny, "rb").read()
    for k in range(12):
        cut = 1 + (len(ytext) - 2) * k // 12
        path = "%s/cut%02d.yaml" % (work, k)
        yield ("config cut at %d" % cut, ["check", model, "--config", path],
               "cut%02d.yaml" % k, {path: ytext[:cut]})
    for name, body in [
        ("list", b"emb_dim: [1, 2]\n"), ("map", b"emb_dim: {a: 1}\n"),
        ("dup", b"emb_dim: 32\nemb_dim: 32\n"), ("tabs", b"\temb_dim: 3\n"),
        ("latin1", b"emb_dim: caf\xe9\n"), ("deep", b"a: " + b"[" * 5000),
        ("anchor", b"a: &x 1\nb: *y\n"), ("empty key", b": 3\n"),
        ("huge int", b"emb_dim: 99999999999999999999999\n"),
        ("nan", b"drop_rate: .nan\n"), ("null", b"emb_dim: ~\n"),
        ("binary", bytes(range(256))),
    ]:
        path = "%s/%s.yaml" % (work, name.replace(" ", "_"))
        yield ("config " + name, ["check", model, "--config", path],
               os.path.basename(path), {path: body})

    # Run-contract inputs (the interpreter): damaged safetensors files.
    a = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    for name, body in [
        ("empty", b""), ("short", b"abc"),
        ("huge header", struct.pack("<Q", 1 << 62)),
        ("header past end", struct.pack("<Q", 100) + b"{}"),
        ("not json", safetensors(b"{nope")),
        ("array", safetensors(b"[1,2]")),
        ("bad dtype", safetensors({"tokens": dict(a, dtype="Q7")}, b"1" * 8)),
        ("bad offsets", safetensors({"tokens": dict(a, data_offsets=[4, 0])},
                                     b"1" * 8)),
        ("past data", safetensors({"tokens": dict(a, data_offsets=[0, 80])},
                                   b"1" * 8)),
        ("size mismatch", safetensors({"tokens": dict(a, shape=[3])},
                                       b"1" * 8)),
        ("overlap", safetensors({"tokens": a, "b": dict(a, shape=[1],
                                                        data_offsets=[4, 8])},
                                 b"1" * 8)),
        ("gap", safetensors({"tokens": dict(a, shape=[1],
                                             data_offsets=[0, 4])},
                             b"1" * 8)),
        ("negative dim", safetensors({"tokens": dict(a, shape=[-2])},
                                      b"1" * 8)),
        ("deep json", safetensors(b"[" * 100000)),
        ("dup key", safetensors(b'{"a":1,"a":2}')),
        ("float tokens", safetensors({"tokens": dict(a, shape=[1, 2])},
                                      b"\0" * 8)),
        ("no tokens", safetensors({"x": a}, b"\0" * 8)),
        ("rank 1 tokens", safetensors({"tokens": dict(a, dtype="I32")},
                                       b"\0" * 8)),
        ("ids past vocab", safetensors(
            {"tokens": dict(a, dtype="I32", shape=[1, 2])},
            struct.pack("<ii", 5, 100000))),
        ("negative ids", safetensors(
            {"tokens": dict(a, dtype="I32", shape=[1, 2])},
            struct.pack("<ii", -1, 0))),
    ]:
        path = "%s/%s.safetensors" % (work, name.replace(" ", "_"))
        yield ("inputs " + name,
               ["run", model, "--config", tiny, "--interpret", "--inputs",
                path, "-o", work + "/out.safetensors"],
               "", {path: body})

    # Text to tokenize: not UTF-8, a folder, a device.
    path = work + "/latin1.txt"
    yield ("tokenize latin1", ["tokenize", path], "", {path: b"caf\xe9"})
    yield ("tokenize folder", ["tokenize", work], work, {})
    yield ("tokenize missing", ["tokenize", work + "/none.txt"], "none.txt",
           {})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gptc", required=True)
    ap.add_argument("--src", default=os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))
    args = ap.parse_args()
    gptc = os.path.abspath(args.gptc)
    failures, count = [], 0
    with tempfile.TemporaryDirectory(prefix="gptc-bad-") as work:
        for name, argv, needle, files in cases(args.src, work):
            count += 1
            for path, body in files.items():
                with open(path, "wb") as f:
                    f.write(body)
            try:
                p = subprocess.run([gptc] + argv, capture_output=True,
                                   timeout=120, cwd=work)
            except subprocess.TimeoutExpired:
                failures.append("%s: hung" % name)
                continue
            out = (p.stdout + p.stderr).decode("utf-8", "replace")
            why = []
            if p.returncode not in (1, 2):
                why.append("exit status %d" % p.returncode)
            if len(out) > MAX_OUTPUT:
                why.append("%d bytes of output" % len(out))
            if not out.strip():
                why.append("no message")
            if needle and needle not in out:
                why.append("the message does not name %r" % needle)
            for marker in BAD_MARKERS:
                if marker in out:
                    why.append("%r in the output" % marker)
            if why:
                failures.append("%s: %s\n    %s\n    %s" % (
                    name, "; ".join(why), " ".join(argv),
                    out[:600].replace("\n", "\n    ")))
    for f in failures:
        print("FAIL", f)
    print("bad inputs: %d cases, %d failed" % (count, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
