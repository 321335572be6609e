#!/usr/bin/env python3
"""Inference speed, neuron against ONNX Runtime on the same exported model, both called from Python.

    cargo build --release && pip install ./crates/neuron-py onnxruntime
    python3 bench/onnx_speed.py [--threads 2] [--calls 2000] [--rounds 4] [--activation relu]

For 784-256-128-10 and 784-1024-1024-1024-10 (random weights, float32): the model is saved by
neuron, exported with `neuron export`, and run by ONNX Runtime's CPU execution provider (all graph
optimisations, `--threads` intra-op threads) and by neuron (`predict_proba` of the loaded
estimator, `--threads` threads). Prints the latency of one row (median and 90th percentile, µs)
and the throughput at batch 1024 (rows/s, median of the calls).

Each runtime is timed in a process of its own, the two alternating for `--rounds` rounds (which
goes first alternates too). In one process they would disturb each other: after a call, ONNX
Runtime's worker threads keep spinning for a while (its default `allow_spinning`), and neuron's
for up to 0.2 ms, each taking a core from whichever runtime is called next; `--same-process`
measures that way instead, alternating call by call, to show it (`--ort-no-spin` turns ONNX
Runtime's spinning off there).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = (("784-256-128-10", (256, 128)), ("784-1024-1024-1024-10", (1024, 1024, 1024)))


def timings(f, calls):
    f()
    t = []
    for _ in range(calls):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return t


def save_model(hidden, threads, d, activation="relu"):
    """Trains one epoch of random data into `d/m.safetensors` and exports it to `d/m.onnx`."""
    from neuron.sklearn import MLPClassifier
    rng = np.random.RandomState(0)
    X = rng.rand(2000, 784).astype(np.float32)
    y = rng.randint(0, 10, 2000)
    est = MLPClassifier(hidden_layer_sizes=hidden, activation=activation, max_iter=1,
                        n_threads=threads, random_state=0)
    est.fit(X, y)
    path = os.path.join(d, "m.safetensors")
    est.save(path)
    binary = os.environ.get("NEURON_BIN", os.path.join(ROOT, "target", "release", "neuron"))
    subprocess.run([binary, "export", "--model", path, "--out", os.path.join(d, "m.onnx")],
                   check=True, capture_output=True)


def runner(runtime, d, threads, spin=True):
    """The function that predicts the probabilities of its rows with `runtime` (`spin`: whether
    ONNX Runtime's worker threads keep spinning after a call, its default)."""
    if runtime == "ort":
        import onnxruntime as ort
        opts = ort.SessionOptions()
        if not spin:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(os.path.join(d, "m.onnx"), opts,
                                    providers=["CPUExecutionProvider"])
        return lambda x: sess.run(["probabilities"], {"input": x})
    import neuron
    return neuron.load(os.path.join(d, "m.safetensors"), n_threads=threads).predict_proba


def worker(runtime, d, threads, calls):
    """Times one runtime on the model in `d`; prints one JSON object of seconds per call."""
    run = runner(runtime, d, threads)
    X = np.random.RandomState(1).rand(1024, 784).astype(np.float32)
    row = X[:1].copy()
    one = timings(lambda: run(row), calls)
    many = timings(lambda: run(X), max(10, calls // 50))
    print(json.dumps({"one": one, "many": many}))


def same_process(d, a):
    """Both runtimes in this process, alternating call by call (batch 1024 only): shows how each
    disturbs the other."""
    runs = {k: runner(k, d, a.threads, not a.ort_no_spin) for k in ("ort", "neuron")}
    X = np.random.RandomState(1).rand(1024, 784).astype(np.float32)
    got = {k: {"one": [], "many": []} for k in runs}
    for _ in range(max(10, a.calls // 10)):
        for k, run in runs.items():
            got[k]["many"] += timings(lambda: run(X), 1)[-1:]
    return got


def measure(d, a):
    """Alternating worker processes; returns each runtime's one-row latencies and batch times."""
    got = {"ort": {"one": [], "many": []}, "neuron": {"one": [], "many": []}}
    for r in range(a.rounds):
        order = ("ort", "neuron") if r % 2 == 0 else ("neuron", "ort")
        for runtime in order:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", runtime,
                                  "--dir", d, "--threads", str(a.threads),
                                  "--calls", str(a.calls // a.rounds)],
                                 check=True, capture_output=True, text=True).stdout
            for k, v in json.loads(out.strip().splitlines()[-1]).items():
                got[runtime][k] += v
    return got


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--same-process", action="store_true",
                   help="both runtimes in one process, alternating call by call (batch only)")
    p.add_argument("--ort-no-spin", action="store_true",
                   help="with --same-process: ONNX Runtime's threads stop spinning after a call")
    p.add_argument("--activation", default="relu",
                   help="the hidden layers' activation, as scikit-learn names it (relu, tanh, "
                        "logistic, identity)")
    p.add_argument("--worker", choices=("ort", "neuron"), help=argparse.SUPPRESS)
    p.add_argument("--dir", help=argparse.SUPPRESS)
    a = p.parse_args()
    warnings.simplefilter("ignore")
    if a.worker:
        worker(a.worker, a.dir, a.threads, a.calls)
        return
    import onnxruntime as ort
    print(f"threads: {a.threads}; onnxruntime {ort.__version__}; {a.rounds} rounds; "
          f"hidden layers: {a.activation}\n")
    print("| model | measure | ONNX Runtime | neuron |")
    print("| --- | --- | --- | --- |")
    for name, hidden in MODELS:
        with tempfile.TemporaryDirectory() as d:
            save_model(hidden, a.threads, d, a.activation)
            got = same_process(d, a) if a.same_process else measure(d, a)
        q = lambda v, p: np.percentile(np.array(v) * 1e6, p)
        many = [f"{1024 / statistics.median(got[k]['many']):,.0f}" for k in ("ort", "neuron")]
        if not a.same_process:
            one = [f"{q(got[k]['one'], 50):.1f} / {q(got[k]['one'], 90):.1f}"
                   for k in ("ort", "neuron")]
            print(f"| {name} | one row, median / p90 (µs) | {one[0]} | {one[1]} |")
        print(f"| {name} | batch 1024 (rows/s) | {many[0]} | {many[1]} |", flush=True)


if __name__ == "__main__":
    main()
