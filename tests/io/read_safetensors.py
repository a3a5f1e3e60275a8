#!/usr/bin/python3
"""Reads safetensors files with nothing but json and numpy, as any reader can.

    read_safetensors.py check FILE EXPECTED   compare every value and metadata entry of
                                              FILE with EXPECTED (the dump nabla's writer
                                              made beside it); exit 1 on any difference
    read_safetensors.py write FILE EXPECTED   write EXPECTED's tensors to FILE as another
                                              producer might: reversed order, spaced JSON
                                              with \\u escapes, extra metadata, an extra
                                              I64 tensor, a header padded with spaces

EXPECTED has one line per metadata entry ("meta<TAB>key<TAB>value") and per tensor
("tensor<TAB>name<TAB>d0,d1,...<TAB>bits bits ..."), with each float32 as the 8 hex
digits of its bits, so the comparison is exact (NaN and -0.0 included).
"""
import json
import struct
import sys

import numpy as np


# The reader: this is all it takes (docs/checkpoints.md).
def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None) or {}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = {"F32": "<f4", "I64": "<i8"}[info["dtype"]]
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
    return tensors, meta


def read_expected(path):
    meta, tensors = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "meta":
                meta[fields[1]] = fields[2]
            else:
                shape = [int(d) for d in fields[2].split(",") if d]
                bits = [int(b, 16) for b in fields[3].split()] if len(fields) > 3 else []
                tensors[fields[1]] = np.array(bits, dtype=np.uint32).view(np.float32).reshape(shape)
    return tensors, meta


def check(path, expected):
    tensors, meta = read_safetensors(path)
    want, want_meta = read_expected(expected)
    bad = 0
    if set(tensors) != set(want):
        print(f"tensors differ: file {sorted(tensors)}, expected {sorted(want)}")
        bad += 1
    for name in sorted(set(tensors) & set(want)):
        got, exp = tensors[name], want[name]
        if got.dtype != np.float32 or got.shape != exp.shape:
            print(f"{name}: {got.dtype}{list(got.shape)}, expected float32{list(exp.shape)}")
            bad += 1
        elif not np.array_equal(got.view(np.uint32), exp.view(np.uint32)):
            i = int(np.flatnonzero(got.view(np.uint32) != exp.view(np.uint32))[0])
            print(f"{name}[{i}]: {got.ravel()[i]!r}, expected {exp.ravel()[i]!r}")
            bad += 1
        else:
            print(f"{name} {list(got.shape)}: {got.size} values equal")
    if meta != want_meta:
        print(f"metadata differs: file {meta}, expected {want_meta}")
        bad += 1
    values = sum(t.size for t in tensors.values())
    print(f"{len(tensors)} tensors, {values} values, {len(meta)} metadata entries read")
    return 1 if bad else 0


def write(path, expected):
    tensors, meta = read_expected(expected)
    meta = dict(meta, producer="read_safetensors.py", format="np")
    tensors = dict(reversed(list(tensors.items())))
    tensors["python.extra"] = np.arange(3, dtype="<i8")
    header, chunks, at = {}, [], 0
    for name, t in tensors.items():
        raw = t.astype(t.dtype.newbyteorder("<")).tobytes()
        kind = "F32" if t.dtype == np.float32 else "I64"
        header[name] = {"dtype": kind, "shape": list(t.shape), "data_offsets": [at, at + len(raw)]}
        chunks.append(raw)
        at += len(raw)
    header = {"__metadata__": meta, **header}
    text = json.dumps(header, indent=1, ensure_ascii=True).encode()
    text += b" " * (-len(text) % 8 + 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    print(f"wrote {len(tensors)} tensors to {path}")
    return 0


if __name__ == "__main__":
    mode, path, expected = sys.argv[1:4]
    sys.exit(check(path, expected) if mode == "check" else write(path, expected))
