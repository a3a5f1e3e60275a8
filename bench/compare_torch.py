#!/usr/bin/python3
"""
compare_torch.py - nabla against PyTorch on the same cores, in one run.

    /usr/bin/python3 bench/compare_torch.py [--build build] [--quick] [--threads 2] [--ops]

Times, with torch.set_num_threads(threads) and the same threads for nabla:
  - forward + backward of sigmoid, BCE (probabilities), BCE with logits and MSE on 2^20
    floats, and of two conv2d layers of the Fashion CNN (a: 64x1x28x28 -> 32, input
    without grad; b: 64x32x14x14 -> 64), 3x3 pad 1;
  - a training epoch on Fashion-MNIST of the MLP 784-256-128-10 (ReLU, Adam 1e-3, batch
    128) and of the CNN of examples/fashion_cnn.c (Adam 1e-3, batch 64). With --quick the
    epoch is estimated from its first 100 steps (both sides alike).
PyTorch runs twice, with OMP_WAIT_POLICY=PASSIVE and with the default (spinning) policy,
each in a fresh process, with OPENBLAS_CORETYPE unset so it gets its best GEMM. nabla's
side runs bench/bench_ops, bench/bench_conv and the examples fashion_mlp / fashion_cnn
(their "seconds per epoch" line). Prints each figure and nabla's time as a fraction of
PyTorch's best. With --ops only the element-wise ops are timed (no conv, no epochs);
an example that is not built is shown as n/a. Needs Debian's python3-torch and
python3-numpy; exits 0 with a message if torch is missing.
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import time

DATA = "/usr/share/datasets/fashion-mnist"


def torch_side(threads, quick, ops_only=False):
    """Runs in its own process: returns a dict of figures (milliseconds / seconds)."""
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    runs = 8 if quick else 30
    out = {}

    def best(fn, warm=3):
        for _ in range(warm):
            fn()
        t = float("inf")
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            t = min(t, time.perf_counter() - t0)
        return t

    n = 1 << 20
    x = (torch.rand(n) * 6 - 3).requires_grad_()
    p = (torch.rand(n) * 0.98 + 0.01).requires_grad_()
    y = torch.rand(n)
    seed = torch.rand(n) * 2 - 1

    def sigmoid():
        torch.sigmoid(x).backward(seed)

    def bce():
        F.binary_cross_entropy(p, y).backward()

    def bce_logits():
        F.binary_cross_entropy_with_logits(x, y).backward()

    def mse():
        F.mse_loss(x, y).backward()

    for name, fn in [("sigmoid", sigmoid), ("bce", bce), ("bce_logits", bce_logits),
                     ("mse", mse)]:
        out["op " + name] = 1e3 * best(fn)
    if ops_only:
        return out

    for name, (N, C, K, H, grad_in) in {"a": (64, 1, 32, 28, False),
                                         "b": (64, 32, 64, 14, True)}.items():
        xi = torch.rand(N, C, H, H, requires_grad=grad_in)
        conv = nn.Conv2d(C, K, 3, padding=1)
        seed_c = torch.rand(N, K, H, H)

        def step():
            conv(xi).backward(seed_c)
        out["conv " + name] = 1e3 * best(step)

    images, labels = load_fashion()
    xs = torch.from_numpy(images)
    ys = torch.from_numpy(labels.astype(np.int64))

    def epoch(model, batch, flat):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        steps = xs.shape[0] // batch
        limit = min(steps, 100) if quick else steps
        perm = torch.randperm(xs.shape[0])
        t0 = time.perf_counter()
        for s in range(limit):
            idx = perm[s * batch:(s + 1) * batch]
            xb = xs[idx]
            if flat:
                xb = xb.reshape(batch, -1)
            loss = F.cross_entropy(model(xb), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return (time.perf_counter() - t0) * steps / limit

    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    out["epoch mlp"] = epoch(mlp, 128, True)
    cnn = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    out["epoch cnn"] = epoch(cnn, 64, False)
    return out


def load_fashion():
    import numpy as np

    def idx(name):
        with gzip.open(os.path.join(DATA, name)) as f:
            raw = f.read()
        ndim = raw[3]
        dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    images = idx("train-images-idx3-ubyte.gz").astype(np.float32)[:, None] / 255.0
    return np.ascontiguousarray(images), idx("train-labels-idx1-ubyte.gz")


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"compare_torch: {' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def nabla_side(build, threads, quick, ops_only=False):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = {}
    text = run([os.path.join(build, "bench", "bench_ops")] + (["--quick"] if quick else []), env)
    for m in re.finditer(r"^op (\S+)\s+([\d.]+) ms", text, re.M):
        out["op " + m.group(1)] = float(m.group(2))
    if ops_only:
        return out
    text = run([os.path.join(build, "bench", "bench_conv")], env)
    for m in re.finditer(r"^\((\w)\).*?forward\+backward \(\dx\)\s+([\d.]+) ms", text,
                         re.M | re.S):
        out["conv " + m.group(1)] = float(m.group(2))
    for name, batch in [("mlp", 128), ("cnn", 64)]:
        exe = os.path.join(build, "examples", "fashion_" + name)
        if not os.path.exists(exe):
            continue
        args = [exe, "--epochs", "1",
                "--threads", str(threads), "--quiet"]
        if quick:
            args += ["--max-steps", "100"]
        text = run(args, env)
        m = re.search(r"seconds per epoch: ([\d.]+)", text)
        if m:
            out["epoch " + name] = float(m.group(1))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ops", action="store_true", help="element-wise ops only")
    ap.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_child:
        print(json.dumps(torch_side(a.threads, a.quick, a.ops)))
        return
    try:
        import torch  # noqa: F401
    except ImportError:
        print("compare_torch: PyTorch is not installed (apt-get install python3-torch): "
              "skipped")
        return
    torch_runs = {}
    for policy in ["PASSIVE", None]:
        env = dict(os.environ)
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OMP_WAIT_POLICY", None)
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        cmd = [sys.executable, __file__, "--torch-child", "--threads", str(a.threads)]
        if a.quick:
            cmd.append("--quick")
        if a.ops:
            cmd.append("--ops")
        torch_runs[policy or "default"] = json.loads(run(cmd, env).strip().splitlines()[-1])
    nb = nabla_side(a.build, a.threads, a.quick, a.ops)
    unit = lambda k: "s" if k.startswith("epoch") else "ms"
    print(f"nabla vs PyTorch {__import__('torch').__version__}, {a.threads} threads"
          f"{' (quick)' if a.quick else ''}")
    print(f"{'figure':<16} {'torch PASSIVE':>14} {'torch default':>14} {'nabla':>10} "
          f"{'nabla/best torch':>17}")
    for k in torch_runs["PASSIVE"]:
        tp, td = torch_runs["PASSIVE"][k], torch_runs["default"][k]
        v = nb.get(k)
        ratio = f"{v / min(tp, td):17.2f}" if v is not None else f"{'n/a':>17}"
        vs = f"{v:10.3f}" if v is not None else f"{'n/a':>10}"
        print(f"{k:<16} {tp:12.3f}{unit(k):>2} {td:12.3f}{unit(k):>2} {vs} {ratio}")


if __name__ == "__main__":
    main()
