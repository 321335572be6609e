#!/usr/bin/env python3
"""PyTorch on one NVIDIA GPU, the recipe of `neuron bench --device cuda`: Adam lr 1e-3, ReLU hidden
layers, softmax cross-entropy, the whole training set resident on the GPU, floor(60000 / batch)
shuffled full batches per epoch; seconds per epoch (median of --epochs after a warm-up epoch), in
eager mode and with the whole training step captured as one CUDA graph.

Data: Fashion-MNIST when /usr/share/datasets/fashion-mnist exists, else random data of the same
shapes (as neuron's benchmark does). Prints one JSON object.

    python3 bench/torch_gpu.py --epochs 3 [--tf32]
"""
import argparse
import gzip
import json
import os
import statistics
import time

import numpy as np
import torch
import torch.nn as nn

CONFIGS = {"small-128": ([256, 128], 128), "small-1024": ([256, 128], 1024), "wide-1024": ([1024, 1024, 1024], 1024)}
FMNIST = "/usr/share/datasets/fashion-mnist"


def data(dev):
    path = f"{FMNIST}/train-images-idx3-ubyte.gz"
    if os.path.exists(path):
        with gzip.open(path, "rb") as f:
            x = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255.0
        with gzip.open(f"{FMNIST}/train-labels-idx1-ubyte.gz", "rb") as f:
            y = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
        real = True
    else:
        rng = np.random.default_rng(0)
        x = rng.random((60000, 784), dtype=np.float32)
        y = rng.integers(0, 10, 60000)
        real = False
    return torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev), real


def model(hidden, dev):
    layers, w = [], 784
    for h in hidden:
        layers += [nn.Linear(w, h), nn.ReLU()]
        w = h
    layers.append(nn.Linear(w, 10))
    return nn.Sequential(*layers).to(dev)


def eager(x, y, hidden, batch, epochs):
    torch.manual_seed(0)
    m = model(hidden, x.device)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()
    n = x.shape[0] // batch * batch
    times = []
    for e in range(epochs + 1):
        perm = torch.randperm(x.shape[0], device=x.device)[:n]
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            lossf(m(x[idx]), y[idx]).backward()
            opt.step()
        torch.cuda.synchronize()
        if e > 0:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def graphed(x, y, hidden, batch, epochs):
    """The whole step (gather, forward, backward, Adam) replayed as one CUDA graph."""
    torch.manual_seed(0)
    m = model(hidden, x.device)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, capturable=True)
    lossf = nn.CrossEntropyLoss()
    n = x.shape[0] // batch * batch
    idx = torch.zeros(batch, dtype=torch.long, device=x.device)

    def step():
        opt.zero_grad(set_to_none=False)
        lossf(m(x[idx]), y[idx]).backward()
        opt.step()

    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        step()
    times = []
    for e in range(epochs + 1):
        perm = torch.randperm(x.shape[0], device=x.device)[:n]
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            idx.copy_(perm[i:i + batch])
            g.replay()
        torch.cuda.synchronize()
        if e > 0:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--tf32", action="store_true", help="allow TF32 in matrix products")
    ap.add_argument("--only", default=",".join(CONFIGS))
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    dev = torch.device("cuda")
    x, y, real = data(dev)
    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "tf32": a.tf32,
           "data": "fashion-mnist" if real else "random", "configs": {}}
    for name in a.only.split(","):
        hidden, batch = CONFIGS[name]
        out["configs"][name] = {"eager": eager(x, y, hidden, batch, a.epochs),
                                "cuda_graph": graphed(x, y, hidden, batch, a.epochs)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
