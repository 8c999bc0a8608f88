#!/usr/bin/env python3
"""Table-driven bad inputs for gptc and its executables: each must fail
cleanly.

Each case runs gptc (flags, DSL sources, YAML configs, run-contract
safetensors, text and tokenizer files) or a tiny training executable it
builds (weights as safetensors and llm.c files, training data, tokenizer
files, flags, labelled tables and instruction records for the book's
fine-tunings) on one hostile input and checks what a user must get: exit
status 1 or 2 (never a signal), a message that names the offending file or
flag, output bounded to a few KiB, and no sanitizer report. Sources and
configs are derived from the repository's own (truncated at many offsets,
bytes corrupted), so the cases follow the language as it grows. The last
line counts the outcomes: clear, unclear (no name, too long), crash, hang,
silent (exit 0 or no message).

  python3 tests/hostile/bad_inputs.py --gptc build/release/tools/gptc/gptc
"""
import argparse
import base64
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

MAX_OUTPUT = 8192
# The smallest byte-level BPE: each byte its own token, no merges.
BYTE_RANKS = b"".join(b"%s %d\n" % (base64.b64encode(bytes([b])), b)
                      for b in range(256))
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

    # The layer-swapping, freezing and merging constructs (LoRA's), cut and
    # corrupted the same way.
    adapters = open(os.path.join(src, "tests", "lit", "frontend", "Inputs",
                                 "adapters.gpt"), "rb").read()
    for k in range(20):
        cut = 1 + (len(adapters) - 2) * k // 20
        head = adapters[:cut]
        if head.count(b"{") == head.count(b"}") and \
                head.rstrip().endswith(b"}"):
            continue  # whole defs only: a valid model
        path = "%s/adapters-cut%02d.gpt" % (work, k)
        yield ("adapters cut at %d" % cut, ["check", path],
               "adapters-cut%02d.gpt" % k, {path: adapters[:cut]})
    code = adapters.index(b"def ")  # past the header comment
    for k in range(15):
        b = bytearray(adapters)
        pos = rng.randrange(code, len(b))
        b[pos] = rng.choice(b"{}()[]@:=,.*+\"\\\x00\xff#")
        path = "%s/adapters-flip%02d.gpt" % (work, k)
        yield ("adapters byte %d corrupted" % pos, ["check", path], "",
               {path: bytes(b)})

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

    # Tokenizer files: tiktoken ranks and encoder.json, damaged.
    text = work + "/text.txt"
    for name, body in tokenizer_files(BYTE_RANKS):
        path = "%s/%s.tok" % (work, name.replace(" ", "_"))
        yield ("tokenizer " + name, ["tokenize", text, "--tokenizer", path],
               os.path.basename(path), {path: body, text: b"hello"})


def tokenizer_files(ranks):
    """Yields (name, bytes) of broken tiktoken and encoder.json files."""
    yield "empty", b""
    yield "not base64", b"!!!! 0\n"
    yield "no rank", b"IQ==\n"
    yield "rank text", b"IQ== one\n"
    yield "duplicate rank", ranks + b"IQ== 0\n"
    yield "huge rank", ranks + b"IUE= 99999999999\n"
    yield "gap", ranks + b"IUE= 300\n"
    yield "no byte 0", ranks[ranks.index(b"\n") + 1:]
    yield "binary", bytes(range(256)) * 4
    yield "json cut", b'{"a": 1, "b'
    yield "json duplicate", b'{"a": 1, "a": 2}'
    yield "json negative id", b'{"a": -1}'
    yield "json float id", b'{"a": 0.5}'
    yield "json nested", b'{"a": {"b": 1}}'
    yield "json deep", b'{"a": ' + b"[" * 100000
    yield "json bad escape", b'{"\\uZZZZ": 0}'
    yield "json huge id", b'{"<|endoftext|>": 4294967295}'
    yield "json not utf8", b'{"\xff": 0}'
    # tokenizer.json (an object with a "model").
    bpe = b'"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}'
    yield "hf wordpiece", b'{"model": {"type": "WordPiece", "vocab": {}}}'
    yield "hf byte fallback", (b'{"model": {"type": "BPE", "vocab": {}, '
                               b'"byte_fallback": true}}')
    yield "hf negative id", b'{"model": {"type": "BPE", "vocab": {"a": -1}}}'
    yield "hf huge id", b'{"model": {"type": "BPE", "vocab": {"a": 1e12}}}'
    yield "hf merges text", (b'{"model": {"type": "BPE", "vocab": {"a": 0}, '
                             b'"merges": "a b"}}')
    yield "hf merge outside", (b'{"model": {"type": "BPE", "vocab": {"a": 0}, '
                               b'"merges": [["a", "zz"]]}}')
    yield "hf added id", (b'{"added_tokens": [{"id": 99999999999, "content": '
                          b'"<s>"}], ' + bpe + b'}')
    yield "hf added clash", (b'{"added_tokens": [{"id": 0, "content": '
                             b'"<s>"}], ' + bpe + b'}')
    yield "hf normalizer", b'{"normalizer": {"type": "NFKC"}, ' + bpe + b'}'
    yield "hf pre-tokenizer", (b'{"pre_tokenizer": {"type": "Metaspace"}, ' +
                               bpe + b'}')
    yield "hf regex", (b'{"pre_tokenizer": {"type": "Split", "pattern": '
                       b'{"Regex": "\\\\w+"}}, ' + bpe + b'}')
    yield "hf template after", (
        b'{"pre_tokenizer": {"type": "ByteLevel"}, "post_processor": '
        b'{"type": "TemplateProcessing", "single": [{"Sequence": {"id": '
        b'"A"}}, {"SpecialToken": {"id": "</s>"}}]}, ' + bpe + b'}')
    yield "hf deep", b'{"model": ' + b'[' * 100000


def executable_cases(exe, src, work):
    """Yields (name, argv, needle, files) run on a built executable: weights
    (safetensors, llm.c), training data and tokenizer files, flags."""
    golden = os.path.join(src, "tests", "reference", "goldens")
    llmc = open(os.path.join(golden, "llmc-tiny.bin"), "rb").read()
    verdict = os.path.join(src, "data", "the-verdict.txt")
    gen = ["--prompt-ids", "1 2", "--max-new-tokens", "2"]

    # Weights: llm.c checkpoints with a damaged header or body.
    def header(**fields):
        h = list(struct.unpack("<256i", llmc[:1024]))
        for k, v in fields.items():
            h[["magic", "version", "maxT", "V", "L", "NH", "C", "Vp"]
              .index(k)] = v
        return struct.pack("<256i", *h) + llmc[1024:]
    nan = bytearray(llmc)
    nan[2048:2052] = struct.pack("<f", float("nan"))
    for name, body in [
        ("empty", b""), ("short header", llmc[:100]),
        ("bad magic", header(magic=7)), ("version 5", header(version=5)),
        ("zero layers", header(L=0)), ("heads do not divide",
                                       header(NH=5)),
        ("huge vocab", header(V=1 << 30, Vp=1 << 30)),
        ("padded below vocab", header(Vp=1)),
        ("truncated", llmc[:-4]), ("one float more", llmc + b"\0" * 4),
        ("nan", bytes(nan)),
    ]:
        path = "%s/%s.bin" % (work, name.replace(" ", "_"))
        yield ("llm.c " + name, ["--weights", path] + gen,
               os.path.basename(path), {path: body})
    # Weights: safetensors that parse but are not this model's.
    a = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    for name, body in [
        ("empty", b""), ("no tensors", safetensors({})),
        ("wrong names", safetensors({"x": a}, b"\0" * 8)),
        ("int weights", safetensors({"wte.weight": dict(a, dtype="I32")},
                                    b"\0" * 8)),
    ]:
        path = "%s/w-%s.safetensors" % (work, name.replace(" ", "_"))
        yield ("weights " + name, ["--weights", path] + gen,
               os.path.basename(path), {path: body})
    yield ("weights folder", ["--weights", work] + gen, "is a folder", {})

    # Training data and the trainer's tokenizer. The 256 bytes as a
    # tokenizer (end-of-text 256) fit the executable's vocabulary of 257, so
    # the data is what fails.
    byte_ranks = work + "/bytes.tiktoken"
    with open(byte_ranks, "wb") as f:
        f.write(BYTE_RANKS)
    train = ["--steps", "1", "--ctx", "8", "--out", work + "/run",
             "--no-progress", "--tokenizer", byte_ranks]
    for name, body in [
        ("empty", b""), ("latin1", b"caf\xe9 " * 100),
        ("nul bytes", b"\0" * 100), ("one word", b"hello"),
        ("shard bad magic", b"\0" * 1024),
        ("shard truncated", struct.pack("<256i", 20240520, 1, 10,
                                        *([0] * 253)) + b"\0\0"),
    ]:
        ext = ".bin" if name.startswith("shard") else ".txt"
        path = "%s/d-%s%s" % (work, name.replace(" ", "_"), ext)
        yield ("data " + name, ["--data", path] + train,
               os.path.basename(path), {path: body})
    yield ("data folder", ["--data", work] + train, work, {})
    for name, body in tokenizer_files(BYTE_RANKS):
        path = "%s/t-%s.tok" % (work, name.replace(" ", "_"))
        yield ("trainer tokenizer " + name,
               ["--data", verdict] + train + ["--tokenizer", path],
               os.path.basename(path), {path: body})

    # Flags: values out of range, unknown flags, contradictions.
    for argv, needle in [
        (["--batch", "0x10"], "--batch"), (["--warmup", "-1"], "--warmup"),
        (["--micro-batch", "-1"], "--micro-batch"),
        (["--micro-batch", "1e9"], "--micro-batch"),
        (["--seed", "18446744073709551616"], "--seed"),
        (["--prompt-ids", "-1"], "--prompt-ids"),
        (["--prompt-ids", "1", "--top-k", "1e3"], "--top-k"),
        (["--temperature", "nan"] + gen, "--temperature"),
        (["--weight-format", "int4"] + gen, "--weight-format"),
        (["--data", verdict, "--weight-format", "bf16"] + train,
         "training keeps fp32 weights"),
        (["--weights"], "--weights"), (["--data", verdict, "--frob"],
                                       "--frob"),
        (["--resume", os.path.join(golden, "llmc-tiny.bin"), "--data",
          verdict] + train, "llmc-tiny.bin"),
        (["--inputs", work + "/none.safetensors", "-o", work + "/o"],
         "none.safetensors"),
        (["--export-hf", work + "/hf"], "--weights"),
        (["--data", verdict, "--prompt", "a", "--prompt", "b"], "prompt"),
        (["--data", verdict, "--resume", work + "/x", "--init-from",
          work + "/y"] + train, "--resume continues a run"),
        (["--data", verdict, "--weights", work + "/x", "--init-from",
          work + "/y"] + train, "--init-from"),
        (["--data", verdict, "--init-from", work + "/none.bin"] + train,
         "none.bin"),
    ]:
        yield ("flags " + " ".join(argv[:2]), argv, needle, {})


def finetune_cases(exe, classifier, work):
    """Yields (program, name, argv, needle, files) for the fine-tunings:
    labelled tables for the classifier, instruction records for the
    language model, data of the other kind, and their training keys."""
    byte_ranks = work + "/bytes.tiktoken"
    train = ["--steps", "1", "--ctx", "8", "--batch", "1", "--out",
             work + "/ft", "--no-progress", "--tokenizer", byte_ranks]
    rows = b"".join(b"%s\ttext %d\n" % (b"spam" if i % 2 else b"ham", i)
                    for i in range(20))
    for name, body in [
        ("empty", b""), ("blank lines", b"\n\n\n"),
        ("one field", rows + b"ham\n"), ("three fields", b"ham\ta\tb\n"),
        ("unclosed quote", rows + b'spam\t"never closed\n'),
        ("latin1", rows + b"ham\tcaf\xe9\n"),
        ("three classes", rows + b"eggs\tc\n"),
        ("header only", b"label\ttext\n"),
        ("header short row", b"label\ttext\tid\nham\tx\n"),
        ("nul bytes", b"\0" * 64),
    ]:
        path = "%s/c-%s.tsv" % (work, name.replace(" ", "_"))
        yield (classifier, "table " + name, ["--data", path] + train,
               os.path.basename(path), {path: body})
    # Training keys of the fine-tunings, each on data of its kind.
    table, records = work + "/c-good.tsv", work + "/i-good.json"
    good = json.dumps([{"instruction": "Say %d." % i, "input": "",
                        "output": "%d" % i} for i in range(20)]).encode()
    for program, data, name, body, needle in [
        (classifier, table, "split two parts", b"split: [0.5, 0.5]\n",
         "split"),
        (classifier, table, "split sum", b"split: [0.7, 0.2, 0.2]\n", "split"),
        (classifier, table, "split negative", b"split: [1.2, -0.1, -0.1]\n",
         "split"),
        (classifier, table, "split text", b"split: [a, b, c]\n", "split"),
        (classifier, table, "balance text", b"balance: maybe\n", "balance"),
        (classifier, table, "classes empty", b"classes: []\n", "classes"),
        (classifier, table, "classes twice", b"classes: [ham, ham]\n",
         "classes"),
        (classifier, table, "classes unknown label",
         b"classes: [ham, eggs]\n", "spam"),
        (exe, records, "response tokens negative", b"response_tokens: -1\n",
         "response_tokens"),
        (exe, records, "mask text", b"mask_instruction: sometimes\n",
         "mask_instruction"),
        (exe, records, "micro batch negative", b"micro_batch_size: -2\n",
         "micro_batch_size"),
        (exe, records, "micro batch text", b"micro_batch_size: half\n",
         "micro_batch_size"),
        (exe, records, "precision unknown", b"precision: fp8\n",
         "expects f32 or bf16"),
        (exe, records, "precision not built", b"precision: bf16\n",
         "fixed when the executable is built"),
    ]:
        path = "%s/k-%s.yaml" % (work, name.replace(" ", "_"))
        yield (program, "training key " + name,
               ["--data", data, "--config", path] + train, needle,
               {path: body, table: rows, records: good})
    for argv, needle in [
        (["--data", records], "this model classifies texts"),
        (["--classify", "hello"], "--weights"),
        (["--classify", "caf\xe9"], "--weights"),
    ]:
        yield (classifier, "classifier " + " ".join(argv), argv + train,
               needle, {records: good})

    for name, body, needle in [
        ("empty", b"", "i-empty.json"),
        ("empty array", b"[]", "array"),
        ("object", b'{"instruction": "a", "output": "b"}', "array"),
        ("record number", b"[1]", "record 0"),
        ("no output", b'[{"instruction": "a"}]', "output"),
        ("output number", b'[{"instruction": "a", "output": 3}]', "output"),
        ("truncated", good[:-7], "i-truncated.json"),
        ("latin1", b'[{"instruction": "caf\xe9", "output": "x"}]',
         "i-latin1.json"),
        ("deep nesting", b"[" * 100000, "i-deep_nesting.json"),
        ("deep arrays", b"[" * 100000 + b"]" * 100000, "record 0"),
    ]:
        path = "%s/i-%s.json" % (work, name.replace(" ", "_"))
        yield (exe, "instructions " + name, ["--data", path] + train,
               needle, {path: body})
    yield (exe, "language model table", ["--data", table] + train,
           "table of labelled texts", {table: rows})
    yield (exe, "language model --classify", ["--classify", "x"] + train,
           "needs a classifier", {})


def run_case(program, name, argv, needle, files, work):
    """Runs one case; returns (verdict, report) with verdict one of clear,
    unclear (exit 1/2 without naming the culprit, or too much output),
    crash (a signal or a sanitizer report), hang or silent (exit 0, or no
    message)."""
    for path, body in files.items():
        with open(path, "wb") as f:
            f.write(body)
    try:
        p = subprocess.run([program] + argv, capture_output=True,
                           timeout=120, cwd=work, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "hang", "%s: hung" % name
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    why, verdict = [], "clear"
    if p.returncode not in (0, 1, 2) or any(m in out for m in BAD_MARKERS):
        verdict = "crash"
        why.append("exit status %d" % p.returncode)
        why += ["%r in the output" % m for m in BAD_MARKERS if m in out]
    elif p.returncode == 0 or not out.strip():
        verdict = "silent"
        why.append("exit status %d, %d bytes of output" % (p.returncode,
                                                          len(out)))
    else:
        if len(out) > MAX_OUTPUT:
            why.append("%d bytes of output" % len(out))
        if needle and needle not in out:
            why.append("the message does not name %r" % needle)
        if why:
            verdict = "unclear"
    report = "%s: %s\n    %s\n    %s" % (
        name, "; ".join(why), " ".join(argv),
        out[:600].replace("\n", "\n    "))
    return verdict, report


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gptc", required=True)
    ap.add_argument("--src", default=os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))
    ap.add_argument("--cache-dir", help="kernel cache for the executable "
                    "the executable cases run (default: gptc's)")
    args = ap.parse_args()
    gptc = os.path.abspath(args.gptc)
    counts = dict.fromkeys(["clear", "unclear", "crash", "hang", "silent"], 0)
    failures = []
    with tempfile.TemporaryDirectory(prefix="gptc-bad-") as work:
        for case in cases(args.src, work):
            verdict, report = run_case(gptc, *case, work)
            counts[verdict] += 1
            if verdict != "clear":
                failures.append(report)
        # The executables: a tiny GPT-2 training executable.
        exe = os.path.join(work, "tiny-train")
        build = [gptc, "build", os.path.join(args.src, "models", "gpt2.gpt"),
                 "--config", os.path.join(args.src, "models", "configs",
                                          "tiny.yaml"),
                 "--set", "vocab_size=257", "--task=train", "-o", exe]
        if args.cache_dir:
            build += ["--cache-dir", args.cache_dir]
        p = subprocess.run(build, capture_output=True)
        # And the book's classifier on the same shapes (pads with 256).
        classifier = os.path.join(work, "tiny-classifier")
        build_classifier = [
            gptc, "build",
            os.path.join(args.src, "models", "gpt2-classifier.gpt"),
            "--config", os.path.join(args.src, "models", "configs",
                                     "tiny.yaml"),
            "--set", "vocab_size=257", "--set", "pad_token_id=256",
            "--task=train", "-o", classifier] + build[build.index("-o") + 2:]
        built = True
        for b in (build, build_classifier):
            p = subprocess.run(b, capture_output=True)
            if p.returncode != 0:
                built = False
                failures.append("building an executable failed:\n" +
                                (p.stdout + p.stderr).decode("utf-8",
                                                             "replace"))
        if built:
            for case in executable_cases(exe, args.src, work):
                verdict, report = run_case(exe, *case, work)
                counts[verdict] += 1
                if verdict != "clear":
                    failures.append(report)
            for program, *case in finetune_cases(exe, classifier, work):
                verdict, report = run_case(program, *case, work)
                counts[verdict] += 1
                if verdict != "clear":
                    failures.append(report)
    for f in failures:
        print("FAIL", f)
    print("bad inputs: %d cases, %d failed (%s)" % (
        sum(counts.values()), len(failures),
        ", ".join("%d %s" % (n, k) for k, n in counts.items())))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
