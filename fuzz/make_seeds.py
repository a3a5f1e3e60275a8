#!/usr/bin/python3
"""Writes the seed corpus of fuzz_safetensors into fuzz/corpus/safetensors/.

The seeds follow the harness's stores (a model and an "optim." state) so that some of
them load; others exercise the format's corners. Run it again after changing either.
"""
import json
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "safetensors")

MODEL = [("dense.kernel", [2, 3]), ("dense.bias", [3]), ("scale", []), ("bn.mean", [3]),
         ("empty", [0, 4]), ("optim.dense.kernel.momentum_buffer", [2, 3]), ("optim.step", [1])]


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def file(tensors, meta=None, pad=True, indent=None, dtypes=None):
    header, data = {}, b""
    if meta is not None:
        header["__metadata__"] = meta
    for name, shape in tensors:
        dtype, size = (dtypes or {}).get(name, ("F32", 4))
        raw = bytes((7 * len(data) + k) % 251 for k in range(numel(shape) * size))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, indent=indent, separators=None if indent else (",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def main():
    os.makedirs(HERE, exist_ok=True)
    seeds = {
        "nabla_checkpoint": file(MODEL, {"epoch": "3", "step": "120", "shuffle_seed": "42"}),
        "reversed_spaced": file(list(reversed(MODEL)), {"format": "pt", "loss": "0.25"}, indent=1),
        "extra_f16_i64": file(MODEL[:3] + [("x", [2, 2])] + [("ids", [3])],
                              dtypes={"x": ("F16", 2), "ids": ("I64", 8)}),
        "empty_header": struct.pack("<Q", 8) + b"{}      ",
        "metadata_only": file([], {"k": "v", "naïve": "\u20ac"}, pad=False),
        "wrong_shape": file([("dense.kernel", [3, 2])] + MODEL[1:]),
    }
    for name, blob in seeds.items():
        with open(os.path.join(HERE, name + ".safetensors"), "wb") as f:
            f.write(blob)
    print(f"wrote {len(seeds)} seeds to {HERE}")


if __name__ == "__main__":
    main()
