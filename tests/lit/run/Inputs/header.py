#!/usr/bin/env python3
"""Lists a safetensors file's tensors (name dtype shape). With --drop NAME
-o OUT, writes a copy without that tensor; with --train-inputs -o OUT, a copy
with zero AdamW moments for every parameter and the scalars of a first
training step. With --make NAME:DTYPE:D0,D1,... -o OUT (repeatable NAME
specs), writes tensors of ones (F32) or zeros (I32). Standard library only,
so lit tests need no PyPI packages."""
import json
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write(path, tensors):
    """tensors: name -> (dtype, shape, bytes)."""
    header, body, offset = {}, b"", 0
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        body += data
        offset += len(data)
    h = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + body)


def make(argv):
    out, tensors = argv[argv.index("-o") + 1], {}
    for spec in argv[2:argv.index("-o")]:
        name, dtype, dims = spec.split(":")
        shape = [int(d) for d in dims.split(",")] if dims else []
        n = 1
        for d in shape:
            n *= d
        value = struct.pack("<f", 1.0) if dtype == "F32" else bytes(4)
        tensors[name] = (dtype, shape, value * n)
    write(out, tensors)


def main(argv):
    if argv[1] == "--make":
        return make(argv)
    header, body = read(argv[1])
    if "--train-inputs" in argv:
        out = argv[argv.index("-o") + 1]
        tensors = {}
        for name, t in header.items():
            if name == "__metadata__" or name.startswith("expected."):
                continue
            b, e = t["data_offsets"]
            tensors[name] = (t["dtype"], t["shape"], body[b:e])
            if name not in ("tokens", "targets"):
                n = 1
                for d in t["shape"]:
                    n *= d
                for prefix in ("adam.m.", "adam.v."):
                    tensors[prefix + name] = ("F32", t["shape"], bytes(4 * n))
        for name, value in (("lr", 1e-3), ("step", 1.0),
                            ("weight_decay", 0.1), ("clip_norm", 1.0)):
            tensors[name] = ("F32", [], struct.pack("<f", value))
        write(out, tensors)
        return
    if "--drop" in argv:
        drop, out = argv[argv.index("--drop") + 1], argv[argv.index("-o") + 1]
        header.pop(drop)
        new_body, offset = b"", 0
        for name, t in sorted((k, v) for k, v in header.items() if k != "__metadata__"):
            b, e = t["data_offsets"]
            new_body += body[b:e]
            t["data_offsets"] = [offset, offset + e - b]
            offset += e - b
        h = json.dumps(header).encode()
        open(out, "wb").write(struct.pack("<Q", len(h)) + h + new_body)
        return
    for name in sorted(header):
        if name != "__metadata__":
            t = header[name]
            print(name, t["dtype"], t["shape"])


main(sys.argv)
