#!/usr/bin/env python3
"""neuron.sklearn against scikit-learn's MLP on the same data and the same constructor arguments.

    pip install ./crates/neuron-py -r bench/requirements.txt
    apt-get install dataset-fashion-mnist          # for the Fashion-MNIST rows
    python3 bench/sklearn_dropin.py [--repeats 3] [--skip-fashion] [--threads N]

Prints a markdown table: fit seconds (median over --repeats runs, both estimators alternating),
test accuracy, and the ratio. Rows:

- Fashion-MNIST (60,000 training images, pixels / 255 as float32), hidden_layer_sizes=(256, 128),
  max_iter=5, random_state=0;
- digits (75/25 split, pixels / 16), default parameters, random_state=0.

Then neuron's own numbers: the median seconds per epoch from Python against the same training in
the command line (`neuron train`, read from its --metrics-json), and `predict` on one row from
Python (median of 2,000 calls).
"""

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier

from neuron.sklearn import MLPClassifier

FASHION = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion():
    x = lambda s: (idx(f"{FASHION}/{s}-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0).astype(np.float32)
    y = lambda s: idx(f"{FASHION}/{s}-labels-idx1-ubyte.gz").astype(np.int64)
    return x("train"), y("train"), x("t10k"), y("t10k")


def digits():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, random_state=0)
    return Xtr, ytr, Xte, yte


def timed_fit(est, X, y):
    t0 = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - t0


def compare(name, data, params, repeats, threads):
    Xtr, ytr, Xte, yte = data
    times = {"neuron": [], "sklearn": []}
    scores = {}
    for _ in range(repeats):
        for key, cls, extra in (("neuron", MLPClassifier, {"n_threads": threads}),
                                ("sklearn", SkClassifier, {})):
            est = cls(**params, **extra)
            times[key].append(timed_fit(est, Xtr, ytr))
            scores[key] = est.score(Xte, yte)
    tn, ts = statistics.median(times["neuron"]), statistics.median(times["sklearn"])
    print(f"| {name} | {tn:.2f} | {ts:.2f} | {ts / tn:.1f}× | {scores['neuron']:.4f} | "
          f"{scores['sklearn']:.4f} |", flush=True)
    return times


def python_overhead(data, threads):
    """Seconds per epoch from Python against the command line, same network and data."""
    Xtr, ytr, _, _ = data
    est = MLPClassifier(hidden_layer_sizes=(256, 128), max_iter=5, batch_size=200, random_state=0,
                        n_threads=threads, shuffle=True)
    py = timed_fit(est, Xtr, ytr) / est.n_iter_
    binary = os.environ.get("NEURON_BIN", os.path.join(ROOT, "target", "release", "neuron"))
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([binary, "train", "--data", "fashion-mnist", "--layers", "256,128",
                        "--epochs", "5", "--batch-size", "200", "--optimizer", "adam", "--lr", "1e-3",
                        "--weight-decay", "0", "--schedule", "constant", "--dropout", "0",
                        "--label-smoothing", "0", "--no-augment", "--val-split", "0",
                        "--patience", "0", "--threads", str(threads), "--quiet",
                        "--out", f"{d}/m.safetensors", "--metrics-json", f"{d}/m.json"], check=True)
        epochs = json.load(open(f"{d}/m.json"))["history"]["epochs"]
    cli = statistics.median(e["seconds"] for e in epochs)
    return py, cli


def predict_latency(est, x):
    est.predict(x)
    t = []
    for _ in range(2000):
        t0 = time.perf_counter()
        est.predict(x)
        t.append(time.perf_counter() - t0)
    return statistics.median(t) * 1e6


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--skip-fashion", action="store_true")
    a = p.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"threads: {a.threads} (neuron), scikit-learn uses NumPy's BLAS threads\n")
    print("| data | neuron fit s | scikit-learn fit s | speed-up | neuron accuracy | scikit-learn accuracy |")
    print("| --- | --- | --- | --- | --- | --- |")
    have_fashion = os.path.exists(FASHION) and not a.skip_fashion
    if have_fashion:
        fm = fashion()
        compare("Fashion-MNIST, (256, 128), 5 epochs", fm,
                dict(hidden_layer_sizes=(256, 128), max_iter=5, random_state=0), a.repeats, a.threads)
    dg = digits()
    compare("digits, defaults", dg, dict(random_state=0), a.repeats, a.threads)
    print()
    if have_fashion:
        runs = [python_overhead(fm, a.threads) for _ in range(a.repeats)]
        py, cli = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"seconds per epoch, Fashion-MNIST (256, 128), batch 200: Python {py:.3f}, command line "
              f"{cli:.3f} ({(py / cli - 1) * 100:+.1f} %)")
    est = MLPClassifier(random_state=0).fit(dg[0], dg[1])
    print(f"predict, one row of digits, from Python: {predict_latency(est, dg[2][:1]):.1f} µs (median)")


if __name__ == "__main__":
    sys.exit(main())
