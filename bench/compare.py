#!/usr/bin/env python3
"""neuron against PyTorch (and scikit-learn) on the CPU, same recipe, same threads, measured
alternately (neuron, PyTorch, neuron, PyTorch, ...) so machine noise hits both alike.

Recipe: Fashion-MNIST (60,000 training images, pixels / 255), Adam lr 1e-3, ReLU hidden layers,
softmax cross-entropy, data in memory, floor(60000 / batch) shuffled full batches per epoch.

    pip install -r bench/requirements.txt
    cargo build --release
    python3 bench/compare.py --threads 2 --rounds 3            # timing table and ratios
    python3 bench/compare.py --threads 2 --accuracy-epochs 4   # test accuracy after 4 epochs

Prints seconds per epoch (median over rounds; each round times one epoch after a warm-up epoch for
neuron, and one epoch of an already warm model for PyTorch) and the ratio neuron / PyTorch.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
NEURON = os.path.join(ROOT, "target", "release", "neuron")
FMNIST = "/usr/share/datasets/fashion-mnist"
CONFIGS = {"small-128": ([256, 128], 128), "small-1024": ([256, 128], 1024), "wide-1024": ([1024, 1024, 1024], 1024)}


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load(split):
    x = idx(f"{FMNIST}/{split}-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0
    y = idx(f"{FMNIST}/{split}-labels-idx1-ubyte.gz").astype(np.int64)
    return x, y


class Torch:
    def __init__(self, hidden, batch, threads, seed=0):
        import torch
        import torch.nn as nn
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.torch = torch
        layers, w = [], 784
        for h in hidden:
            layers += [nn.Linear(w, h), nn.ReLU()]
            w = h
        layers.append(nn.Linear(w, 10))
        self.model = nn.Sequential(*layers)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = nn.CrossEntropyLoss()
        self.batch = batch

    def epoch(self, x, y):
        torch = self.torch
        n = x.shape[0] // self.batch * self.batch
        perm = torch.randperm(x.shape[0])[:n]
        self.model.train()
        t0 = time.perf_counter()
        for i in range(0, n, self.batch):
            idx = perm[i:i + self.batch]
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.model(x[idx]), y[idx]).backward()
            self.opt.step()
        return time.perf_counter() - t0

    def accuracy(self, x, y):
        with self.torch.no_grad():
            self.model.eval()
            return (self.model(x).argmax(1) == y).float().mean().item()


def neuron_epoch(name, threads):
    out = subprocess.run([NEURON, "bench", "--json", "--only", name, "--epochs", "1", "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["configs"][0]["s_per_epoch"]


def sklearn_epoch(x, y, threads, rounds):
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits
    with threadpool_limits(threads):
        clf = MLPClassifier(hidden_layer_sizes=(256, 128), batch_size=128, learning_rate_init=1e-3, solver="adam",
                            shuffle=True, random_state=0)
        clf.partial_fit(x, y, classes=np.arange(10))  # warm-up epoch
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            clf.partial_fit(x, y)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default=",".join(CONFIGS))
    ap.add_argument("--sklearn", action="store_true", help="also time scikit-learn's MLPClassifier (small-128)")
    ap.add_argument("--accuracy-epochs", type=int, default=0, help="instead of timing: test accuracy after N epochs")
    a = ap.parse_args()
    import torch
    x, y = load("train")
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    if a.accuracy_epochs:
        xt, yt = load("t10k")
        hidden, batch = CONFIGS["small-128"]
        t = Torch(hidden, batch, a.threads)
        for _ in range(a.accuracy_epochs):
            t.epoch(tx, ty)
        acc_t = t.accuracy(torch.from_numpy(xt), torch.from_numpy(yt))
        model = "/tmp/neuron-compare.safetensors"
        subprocess.run([NEURON, "train", "--data", "fashion-mnist", "--layers", "256,128", "--optimizer", "adam",
                        "--lr", "1e-3", "--weight-decay", "0", "--dropout", "0", "--batch-size", "128",
                        "--epochs", str(a.accuracy_epochs), "--val-split", "0", "--patience", "0",
                        "--threads", str(a.threads), "--out", model, "--quiet"], check=True)
        ev = json.loads(subprocess.run([NEURON, "eval", "--model", model, "--data", "fashion-mnist", "--json"],
                                       check=True, capture_output=True, text=True).stdout)
        print(f"test accuracy after {a.accuracy_epochs} epochs (784-256-128-10, batch 128): "
              f"neuron {ev['accuracy'] * 100:.2f} %, PyTorch {acc_t * 100:.2f} %")
        return
    print(f"torch {torch.__version__}, {a.threads} thread(s), {a.rounds} alternating rounds")
    print(f"{'config':<11} {'neuron s/ep':>12} {'torch s/ep':>11} {'ratio':>7}  (per-round ratios)")
    for name in a.only.split(","):
        hidden, batch = CONFIGS[name]
        t = Torch(hidden, batch, a.threads)
        t.epoch(tx, ty)  # warm-up
        ns, ts, rs = [], [], []
        for _ in range(a.rounds):
            n = neuron_epoch(name, a.threads)
            p = t.epoch(tx, ty)
            ns.append(n)
            ts.append(p)
            rs.append(n / p)
        print(f"{name:<11} {statistics.median(ns):>12.3f} {statistics.median(ts):>11.3f} {statistics.median(rs):>7.2f}"
              f"  ({', '.join(f'{r:.2f}' for r in rs)})")
        sys.stdout.flush()
    if a.sklearn:
        print(f"scikit-learn MLPClassifier small-128: {sklearn_epoch(x, y, a.threads, a.rounds):.3f} s/epoch")


if __name__ == "__main__":
    main()
