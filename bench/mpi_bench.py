#!/usr/bin/env python3
"""Data-parallel training on MPI: what was measured on this machine, and what a cluster would do.

Measured here (2 cores):
  1. Seconds per epoch of Fashion-MNIST, small (784-256-128-10) and wide (784-1024-1024-1024-10)
     models, as 1 process x 2 threads against 2 processes x 1 thread (`mpirun -np 2`), at global
     batches 256 and 1024. Median over the timed epochs (the first is a warm-up).
  2. One all-reduce of each model's gradient (f32) between 2 processes, over shared memory
     (Open MPI's `vader` transport) and over TCP on loopback, with the example
     `crates/neuron-cli/examples/allreduce.rs` (the same `MpiSync` that training uses).
  3. The compute time of one training step at batch 1024 on one process (from 1).

Computed from those (a model, not a measurement): ring all-reduce on N = 2..64 nodes moves
2(N-1)/N x the gradient's bytes per node per step over the network, plus 2(N-1) latencies:

    t_ar(N) = 2(N-1)/N * S / BW + 2(N-1) * alpha

with BW = 25 or 100 Gb/s and alpha an assumed per-message latency. Scaling efficiency without
overlap is t_c / (t_c + t_ar); the batch per node above which it stays over 90 % is
b >= 9 * t_ar(N) / (t_c / 1024).

Needs Open MPI (apt-get install libopenmpi-dev openmpi-bin libclang-dev) and Fashion-MNIST
(apt-get install dataset-fashion-mnist). Builds neuron with `--features mpi` (the binary in
target/release is then the MPI build).

    python3 bench/mpi_bench.py [--epochs 3] [--alpha-us 10] [--json out.json]

With --stream TABLE it measures instead streamed training (`--stream`) on TABLE (for instance the
HIGGS-shaped table of bench/stream_bench.py): seconds per epoch of 1 process against 2 processes,
each with 1 thread, reading the CSV (each process reads and parses only its own segments of the
table) and reading a --cache built beforehand (each process reads all of it); and the CPU seconds
each process spends per epoch reading the CSV (user + system time of a run of 4 epochs less that
of a run of 1, over 3).

    python3 bench/mpi_bench.py --stream t1m.csv [--epochs 2]

With --overlap it measures instead, with `crates/neuron-cli/examples/overlap.rs` on 2 processes
of 1 thread, a training step (forward and backward) and the all-reduce of the model's gradient:
each alone, one after the other, and overlapped two ways (a non-blocking MPI_Iallreduce started
before the step and waited for after it; a blocking one on a second thread during the step), over
shared memory and TCP on loopback.

    python3 bench/mpi_bench.py --overlap [--reps 20]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.path.join(TARGET, "release", "neuron")
ALLREDUCE = os.path.join(TARGET, "release", "examples", "allreduce")
FASHION = "/usr/share/datasets/fashion-mnist"
MPIRUN = ["mpirun", "--oversubscribe", "--allow-run-as-root", "--bind-to", "none"]
MODELS = {"small": ("256,128", [784, 256, 128, 10]), "wide": ("1024,1024,1024", [784, 1024, 1024, 1024, 10])}
TRANSPORTS = {
    "shared memory": ["--mca", "pml", "ob1", "--mca", "btl", "self,vader"],
    "TCP on loopback": ["--mca", "pml", "ob1", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo"],
}


def params(widths):
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def build():
    subprocess.run(
        ["cargo", "build", "--release", "-p", "neuron-cli", "--features", "mpi", "--bin", "neuron",
         "--example", "allreduce", "--example", "overlap"],
        cwd=ROOT,
        check=True,
    )


def overlap_main(reps):
    """A step and its all-reduce, in turn and overlapped, for each model, batch and transport."""
    exe = os.path.join(TARGET, "release", "examples", "overlap")
    print("| model | rows per process | transport | step alone (ms) | all-reduce alone (ms) | in turn (ms) | "
          "non-blocking (ms) | on a thread (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for model in MODELS:
        for rows in (128, 512):
            for transport in TRANSPORTS:
                cmd = MPIRUN + TRANSPORTS[transport] + ["-np", "2", exe, model, str(rows), str(reps)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                ms = lambda k: r[k] * 1e3
                print(f"| {model} | {rows} | {transport} | {ms('step_s'):.1f} | {ms('all_reduce_s'):.2f} | "
                      f"{ms('in_turn_s'):.1f} | {ms('immediate_s'):.1f} | {ms('thread_s'):.1f} |", flush=True)


def epoch_seconds(model, batch, procs, threads, epochs):
    """Median seconds of the timed epochs (all but the first) of one training run."""
    layers, _ = MODELS[model]
    with tempfile.TemporaryDirectory() as d:
        metrics = os.path.join(d, "m.json")
        cmd = [BIN, "train", "--data", FASHION, "--layers", layers, "--batch-size", str(batch),
               "--epochs", str(epochs + 1), "--no-augment", "--val-split", "0", "--patience", "0",
               "--label-smoothing", "0", "--threads", str(threads), "--quiet",
               "--out", os.path.join(d, "m.safetensors"), "--metrics-json", metrics]
        if procs > 1:
            cmd = MPIRUN + ["-np", str(procs)] + cmd
        subprocess.run(cmd, check=True)
        with open(metrics) as f:
            history = json.load(f)["history"]["epochs"]
    return statistics.median(e["seconds"] for e in history[1:])


def stream_epoch_seconds(table, procs, epochs, cache=None):
    """Median seconds of the timed epochs (all but the first) of one streamed run of `procs`
    processes with 1 thread each (28-128-64-2 network, global batch 256, Adam)."""
    with tempfile.TemporaryDirectory() as d:
        metrics = os.path.join(d, "m.json")
        cmd = [BIN, "train", "--data", table, "--stream", "--layers", "128,64", "--batch-size", "256",
               "--optimizer", "adam", "--lr", "1e-3", "--epochs", str(epochs + 1), "--val-split", "0",
               "--patience", "0", "--threads", "1", "--seed", "1", "--quiet",
               "--out", os.path.join(d, "m.safetensors"), "--metrics-json", metrics]
        if cache:
            cmd += ["--cache", cache]
        if procs > 1:
            cmd = MPIRUN + ["-np", str(procs)] + cmd
        subprocess.run(cmd, check=True)
        with open(metrics) as f:
            history = json.load(f)["history"]["epochs"]
    return statistics.median(e["seconds"] for e in history[1:]) if epochs else None


def stream_cpu_seconds(table, procs, epochs):
    """User + system CPU seconds of each process of a streamed run of `epochs` epochs (as
    `stream_epoch_seconds` trains), from the CSV."""
    with tempfile.TemporaryDirectory() as d:
        cmd = ["/usr/bin/time", "-f", "cpu %U %S", BIN, "train", "--data", table, "--stream",
               "--layers", "128,64", "--batch-size", "256", "--optimizer", "adam", "--lr", "1e-3",
               "--epochs", str(epochs), "--val-split", "0", "--patience", "0", "--threads", "1",
               "--seed", "1", "--quiet", "--out", os.path.join(d, "m.safetensors")]
        if procs > 1:
            cmd = MPIRUN + ["-np", str(procs)] + cmd
        err = subprocess.run(cmd, check=True, capture_output=True, text=True).stderr
    return sorted(float(u) + float(s) for _, u, s in
                  (line.split() for line in err.splitlines() if line.startswith("cpu ")))


def stream_main(table, epochs):
    """Streamed training on 1 and 2 processes, from the CSV and from a cache."""
    print("| reading | 1 process × 1 thread (s/epoch) | 2 processes × 1 thread (s/epoch) | ratio |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as d:
        cache = os.path.join(d, "cache")
        # Built once, outside the timings (the first run writes it).
        stream_epoch_seconds(table, 1, 0, cache)
        for name, c in (("the CSV, each process its own segments", None), ("the cache", cache)):
            one = stream_epoch_seconds(table, 1, epochs, c)
            two = stream_epoch_seconds(table, 2, epochs, c)
            print(f"| {name} | {one:.2f} | {two:.2f} | {two / one:.2f} |", flush=True)
    print()
    print("| processes | CPU seconds per epoch, each process (reading the CSV and training) |")
    print("| --- | --- |")
    for procs in (1, 2):
        short, long = stream_cpu_seconds(table, procs, 1), stream_cpu_seconds(table, procs, 4)
        per = ", ".join(f"{(b - a) / 3:.2f}" for a, b in zip(short, long))
        print(f"| {procs} | {per} |", flush=True)


def allreduce(floats, transport, reps):
    cmd = MPIRUN + TRANSPORTS[transport] + ["-np", "2", ALLREDUCE, str(floats), str(reps)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def model_rows(measured, alpha):
    rows = []
    for model, (_, widths) in MODELS.items():
        size = 4 * params(widths)
        t_c = measured["step_1024"][model]
        for gbps in (25, 100):
            bw = gbps * 1e9 / 8
            effs, b90 = [], []
            for n in (2, 4, 8, 16, 32, 64):
                t_ar = 2 * (n - 1) / n * size / bw + 2 * (n - 1) * alpha
                effs.append(t_c / (t_c + t_ar))
                b90.append(9 * t_ar / (t_c / 1024))
            rows.append((model, gbps, effs, b90))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per run (after a warm-up epoch)")
    ap.add_argument("--reps", type=int, help="timed all-reduce calls per size (50), or steps with --overlap (20)")
    ap.add_argument("--alpha-us", type=float, default=10.0, help="assumed network latency per message, µs")
    ap.add_argument("--json", help="write the measurements here")
    ap.add_argument("--stream", metavar="TABLE", help="measure streamed training on TABLE instead")
    ap.add_argument("--overlap", action="store_true", help="measure an all-reduce overlapped with a step instead")
    a = ap.parse_args()
    if a.overlap:
        build()
        return overlap_main(a.reps or 20)
    if a.stream:
        build()
        return stream_main(a.stream, a.epochs)
    if not os.path.isdir(FASHION):
        sys.exit(f"{FASHION} is missing: apt-get install dataset-fashion-mnist")
    build()
    measured = {"epoch": {}, "allreduce": {}, "step_1024": {}}
    print("| model | global batch | 1 process × 2 threads (s/epoch) | 2 processes × 1 thread (s/epoch) | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for model in MODELS:
        for batch in (256, 1024):
            one = epoch_seconds(model, batch, 1, 2, a.epochs)
            two = epoch_seconds(model, batch, 2, 1, a.epochs)
            measured["epoch"][f"{model}-{batch}"] = {"1x2": one, "2x1": two}
            if batch == 1024:
                measured["step_1024"][model] = one / (60000 / 1024)
            print(f"| {model} | {batch} | {one:.2f} | {two:.2f} | {two / one:.2f} |", flush=True)
    print()
    print("| model | gradient | transport | all-reduce, median (ms) | p90 (ms) | GB/s (bytes / median) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for model, (_, widths) in MODELS.items():
        floats = params(widths)
        for transport in TRANSPORTS:
            r = allreduce(floats, transport, a.reps or 50)
            measured["allreduce"][f"{model}/{transport}"] = r
            print(f"| {model} | {4 * floats / 1e6:.2f} MB | {transport} | {r['median_s'] * 1e3:.3f} | "
                  f"{r['p90_s'] * 1e3:.3f} | {4 * floats / r['median_s'] / 1e9:.2f} |", flush=True)
    print()
    alpha = a.alpha_us * 1e-6
    print(f"Computed (ring all-reduce, alpha = {a.alpha_us:g} µs, no overlap), at batch 1024 per node; "
          f"step compute measured here: small {measured['step_1024']['small'] * 1e3:.1f} ms, "
          f"wide {measured['step_1024']['wide'] * 1e3:.1f} ms")
    print()
    print("| model | network | efficiency N=2 | 4 | 8 | 16 | 32 | 64 | batch/node for ≥ 90 % at N=64 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model, gbps, effs, b90 in model_rows(measured, alpha):
        cells = " | ".join(f"{e * 100:.0f} %" for e in effs)
        print(f"| {model} | {gbps} Gb/s | {cells} | {b90[-1]:.0f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(measured, f, indent=2)


if __name__ == "__main__":
    main()
