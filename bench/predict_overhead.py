#!/usr/bin/env python3
"""What `predict_proba` adds to the network's own time from Python, on a batch of rows.

    pip install ./crates/neuron-py
    python3 bench/predict_overhead.py [--threads 2] [--rows 1024] [--calls 200]

Fits 784-256-128-10 for one epoch on random data, then times, alternating call by call in one
process (medians, rows per second):
- `network`: the compiled network alone (the estimator's internal `_net.predict`, no checks);
- `isfinite + network`: NumPy's `np.isfinite(X).all()` pass first, as scikit-learn's validation
  does, then the network;
- `predict_proba`: the estimator, whose network checks each value as it takes the rows in.
"""

import argparse
import statistics
import time
import warnings

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rows", type=int, default=1024)
    p.add_argument("--calls", type=int, default=200)
    a = p.parse_args()
    warnings.simplefilter("ignore")
    from neuron.sklearn import MLPClassifier
    rng = np.random.RandomState(0)
    est = MLPClassifier(hidden_layer_sizes=(256, 128), max_iter=1, n_threads=a.threads,
                        random_state=0).fit(rng.rand(2000, 784).astype(np.float32),
                                            rng.randint(0, 10, 2000))
    X = rng.rand(a.rows, 784).astype(np.float32)
    net = est._net
    runs = {"network": lambda: net.predict(X),
            "isfinite + network": lambda: (np.isfinite(X).all(), net.predict(X)),
            "predict_proba": lambda: est.predict_proba(X)}
    times = {k: [] for k in runs}
    for f in runs.values():
        f()
    for _ in range(a.calls):
        for k, f in runs.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    print(f"{a.rows} rows, {a.threads} threads, median of {a.calls} calls each")
    for k, t in times.items():
        print(f"{k}: {a.rows / statistics.median(t):,.0f} rows/s")


if __name__ == "__main__":
    main()
