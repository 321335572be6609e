#!/usr/bin/env python3
"""Inference speed, neuron against ONNX Runtime on the same exported model, both called from Python.

    cargo build --release && pip install ./crates/neuron-py onnxruntime
    python3 bench/onnx_speed.py [--threads 2] [--calls 2000]

For 784-256-128-10 and 784-1024-1024-1024-10 (random weights, float32): the model is saved by
neuron, exported with `neuron export`, and run by ONNX Runtime's CPU execution provider (all graph
optimisations, `--threads` intra-op threads) and by neuron (`predict_proba` of the loaded
estimator, `--threads` threads), alternating. Prints the latency of one row (median and 90th
percentile, µs) and the throughput at batch 1024 (rows/s, median of the runs).
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import warnings

import numpy as np
import onnxruntime as ort

import neuron
from neuron.sklearn import MLPClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timings(f, calls):
    f()
    t = []
    for _ in range(calls):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return t


def model(hidden, threads, d):
    rng = np.random.RandomState(0)
    X = rng.rand(2000, 784).astype(np.float32)
    y = rng.randint(0, 10, 2000)
    est = MLPClassifier(hidden_layer_sizes=hidden, max_iter=1, n_threads=threads, random_state=0)
    est.fit(X, y)
    path = os.path.join(d, "m.safetensors")
    est.save(path)
    binary = os.environ.get("NEURON_BIN", os.path.join(ROOT, "target", "release", "neuron"))
    subprocess.run([binary, "export", "--model", path, "--out", os.path.join(d, "m.onnx")],
                   check=True, capture_output=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(os.path.join(d, "m.onnx"), opts, providers=["CPUExecutionProvider"])
    return neuron.load(path, n_threads=threads), sess, X


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--calls", type=int, default=2000)
    a = p.parse_args()
    warnings.simplefilter("ignore")
    print(f"threads: {a.threads}; onnxruntime {ort.__version__}\n")
    print("| model | measure | ONNX Runtime | neuron |")
    print("| --- | --- | --- | --- |")
    for name, hidden in (("784-256-128-10", (256, 128)), ("784-1024-1024-1024-10", (1024, 1024, 1024))):
        with tempfile.TemporaryDirectory() as d:
            est, sess, X = model(hidden, a.threads, d)
            row, batch = X[:1].copy(), X[:1024].copy()
            runs = {"ort": lambda x: sess.run(["probabilities"], {"input": x}),
                    "neuron": lambda x: est.predict_proba(x)}
            one = {k: [] for k in runs}
            many = {k: [] for k in runs}
            for _ in range(3):
                for k, f in runs.items():
                    one[k] += timings(lambda: f(row), a.calls // 3)
                    many[k] += [1024 / t for t in timings(lambda: f(batch), 20)]
            q = lambda v, p: np.percentile(np.array(v) * 1e6, p)
            print(f"| {name} | one row, median / p90 (µs) | {q(one['ort'], 50):.1f} / {q(one['ort'], 90):.1f} "
                  f"| {q(one['neuron'], 50):.1f} / {q(one['neuron'], 90):.1f} |")
            print(f"| {name} | batch 1024 (rows/s) | {statistics.median(many['ort']):,.0f} "
                  f"| {statistics.median(many['neuron']):,.0f} |", flush=True)


if __name__ == "__main__":
    main()
