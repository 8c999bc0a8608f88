#!/usr/bin/env python3
"""Lists a safetensors file's tensors (name dtype shape), or, with --drop NAME
-o OUT, writes a copy without that tensor. Standard library only, so lit
tests need no PyPI packages."""
import json
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def main(argv):
    header, body = read(argv[1])
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
