#!/usr/bin/env python3
"""Training on a table larger than memory: neuron streamed (CSV, its row cache, Parquet) against
neuron in memory, pandas + scikit-learn's MLPClassifier, and PyTorch with a hand-written
IterableDataset over the same CSV.

The table has the shape of HIGGS: 28 numeric features (21 "low-level" ones, 7 "high-level"
nonlinear combinations of them) and a binary label drawn from a known nonlinear rule plus noise,
so accuracy means something (the rule's own accuracy on the test rows is printed as the ceiling).

    python3 bench/stream_bench.py --rows 10000000 --subset 1000000 --epochs 2

writes the table (CSV, about 250 bytes a row, and Parquet), a subset of its first rows and a test
file of other rows, then times each tool. Every run is a separate process under
`/usr/bin/time -v` for its peak memory; epoch times come from each tool's own clock. All use the
same network (28 → 128 → 64 → 2, ReLU, Adam at 1e-3, batch 32, cross-entropy) and 2 threads.
Needs numpy, pandas, pyarrow, scikit-learn and torch (bench/requirements.txt).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NEURON = os.environ.get("NEURON_BIN", os.path.join(HERE, "..", "target", "release", "neuron"))
COLS = [f"f{i}" for i in range(28)]


def make_rows(n, seed):
    """n rows of 28 features and the label of the rule (with noise), and the rule's logit."""
    rng = np.random.default_rng(seed)
    low = rng.standard_normal((n, 21)).astype(np.float32)
    low[:, :5] = np.exp(0.5 * low[:, :5])  # positive, skewed, like transverse momenta
    high = np.stack(
        [
            np.sqrt(low[:, 0] ** 2 + low[:, 1] ** 2),
            low[:, 2] * low[:, 3],
            np.sin(2 * low[:, 5]) + low[:, 6],
            np.abs(low[:, 7] - low[:, 8]),
            low[:, 9] ** 2 - low[:, 10],
            np.log1p(low[:, 1] * low[:, 4]),
            np.tanh(low[:, 11] + low[:, 12]),
        ],
        axis=1,
    ).astype(np.float32)
    logit = (
        1.2 * high[:, 1]
        + 1.5 * np.sin(2 * low[:, 5])
        + 0.8 * (low[:, 9] ** 2 - 1)
        - 0.7 * (high[:, 0] - 2.3)
        + 0.5 * low[:, 13] * low[:, 14]
    )
    y = (logit + rng.standard_normal(n) > 0).astype(np.int8)
    return np.concatenate([low, high], axis=1), y, logit


def write_table(path, parquet, rows, seed, chunk=1_000_000):
    """Writes `rows` rows as CSV (values rounded to 4 decimals) and, if asked, as Parquet."""
    import pyarrow as pa
    import pyarrow.csv as pc
    import pyarrow.parquet as pq

    writer = None
    with open(path, "wb") as f:
        f.write((",".join(COLS + ["label"]) + "\n").encode())
        for start in range(0, rows, chunk):
            x, y, _ = make_rows(min(chunk, rows - start), seed + start)
            x = np.round(x, 4)
            cols = {c: x[:, i] for i, c in enumerate(COLS)}
            cols["label"] = pa.array(np.where(y == 1, "signal", "background"))
            t = pa.table(cols)
            pc.write_csv(t, f, pc.WriteOptions(include_header=False))
            if parquet:
                if writer is None:
                    writer = pq.ParquetWriter(parquet, t.schema, compression="snappy")
                writer.write_table(t, row_group_size=131_072)
    if writer is not None:
        writer.close()


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time -v; returns (stderr+stdout text, peak RSS in MB, seconds)."""
    t0 = time.perf_counter()
    p = subprocess.run(
        ["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - t0
    out = p.stdout + p.stderr
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out).group(1)) / 1024
    return out, rss, wall


def neuron_epochs(out):
    return [float(s) for s in re.findall(r"^epoch\s+\d+.*?([\d.]+)s$", out, re.M)]


def neuron_accuracy(model, test):
    out = subprocess.run(
        [NEURON, "eval", "--model", model, "--data", test, "--json"],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)["accuracy"]


def run_neuron(name, args, model, test, results):
    out, rss, wall = timed([NEURON, "train", *args, "--out", model, "--seed", "1"])
    epochs = neuron_epochs(out)
    results.append(
        dict(tool=name, epochs=epochs, peak_mb=rss, wall_s=wall, acc=neuron_accuracy(model, test))
    )
    print(json.dumps(results[-1]), flush=True)


WORKER = r'''
import sys, time, json, resource
mode, path, test, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
import numpy as np
if mode == "sklearn":
    import pandas as pd
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    t0 = time.perf_counter()
    df = pd.read_csv(path)
    x, y = df.drop(columns="label").to_numpy(np.float32), df["label"].to_numpy()
    del df
    read = time.perf_counter() - t0
    sc = StandardScaler().fit(x)
    m = MLPClassifier(hidden_layer_sizes=(128, 64), batch_size=32, learning_rate_init=1e-3,
                      max_iter=epochs, alpha=1e-4, shuffle=True, random_state=1, tol=0,
                      n_iter_no_change=10**9)
    t0 = time.perf_counter()
    import warnings; warnings.simplefilter("ignore")
    m.fit(sc.transform(x), y)
    fit = time.perf_counter() - t0
    t = pd.read_csv(test)
    acc = m.score(sc.transform(t.drop(columns="label").to_numpy(np.float32)), t["label"].to_numpy())
    print(json.dumps(dict(epochs=[fit / m.n_iter_] * m.n_iter_, read_s=read, acc=acc)))
else:
    import csv, torch
    torch.set_num_threads(2); torch.manual_seed(1)
    class Rows(torch.utils.data.IterableDataset):
        """The CSV read row by row: no shuffling beyond a buffer, one worker."""
        def __init__(self, path, mean=None, std=None):
            self.path, self.mean, self.std = path, mean, std
        def __iter__(self):
            with open(self.path, newline="") as f:
                r = csv.reader(f); next(r)
                for row in r:
                    x = np.asarray(row[:-1], dtype=np.float32)
                    if self.mean is not None:
                        x = (x - self.mean) / self.std
                    yield torch.from_numpy(x), int(row[-1] == "signal")
    t0 = time.perf_counter()
    n, s, s2 = 0, np.zeros(28), np.zeros(28)
    for x, _ in Rows(path):
        x = x.numpy().astype(np.float64); n += 1; s += x; s2 += x * x
    mean = (s / n).astype(np.float32); std = np.sqrt(s2 / n - (s / n) ** 2).astype(np.float32)
    stats = time.perf_counter() - t0
    net = torch.nn.Sequential(torch.nn.Linear(28, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                              torch.nn.ReLU(), torch.nn.Linear(64, 2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for xb, yb in torch.utils.data.DataLoader(Rows(path, mean, std), batch_size=32):
            opt.zero_grad(); loss_fn(net(xb), yb).backward(); opt.step()
        times.append(time.perf_counter() - t0)
    right = total = 0
    with torch.no_grad():
        for xb, yb in torch.utils.data.DataLoader(Rows(test, mean, std), batch_size=4096):
            right += (net(xb).argmax(1) == yb).sum().item(); total += len(yb)
    print(json.dumps(dict(epochs=times, read_s=stats, acc=right / total)))
'''


def run_python(name, mode, path, test, epochs, results):
    out, rss, wall = timed([sys.executable, "-c", WORKER, mode, path, test, str(epochs)])
    r = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
    results.append(dict(tool=name, peak_mb=rss, wall_s=wall, **r))
    print(json.dumps(results[-1]), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--subset", type=int, default=1_000_000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--dir", default="/tmp/neuron-stream-bench")
    ap.add_argument("--only", default="", help="comma-separated tools to run (default: all)")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    big, pq, sub, test = (os.path.join(a.dir, f) for f in
                          ("higgs.csv", "higgs.parquet", "subset.csv", "test.csv"))
    # The tables are kept between runs, with a note of the rows they were written for: a table
    # of another size (or one without the note) is written again, and its subset with it.
    stamp = os.path.join(a.dir, "tables.json")
    want_stamp = {"rows": a.rows, "subset": a.subset, "seed": 1}
    try:
        with open(stamp) as f:
            fresh = json.load(f) == want_stamp
    except (OSError, ValueError):
        fresh = False
    if not fresh:
        for f in (big, pq, sub):
            if os.path.exists(f):
                os.remove(f)
    if not os.path.exists(big):
        t0 = time.perf_counter()
        write_table(big, pq, a.rows, 1)
        print(f"wrote {big} ({os.path.getsize(big) / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s")
    if not os.path.exists(sub):
        with open(big) as f, open(sub, "w") as g:
            for i, line in enumerate(f):
                if i > a.subset:
                    break
                g.write(line)
    if not os.path.exists(test):
        write_table(test, None, 100_000, 10**9)
    with open(stamp, "w") as f:
        json.dump(want_stamp, f)
    x, y, logit = make_rows(100_000, 10**9)
    print(f"the rule's own accuracy on the test rows (the ceiling): {((logit > 0) == y).mean():.4f}")
    only = set(filter(None, a.only.split(",")))
    want = lambda t: not only or t in only
    e, results = str(a.epochs), []
    common = ["--epochs", e, "--batch-size", "32", "--layers", "128,64", "--lr", "1e-3",
              "--optimizer", "adam", "--threads", "2"]
    stream = ["--stream", "--val-split", "0"]
    cache = os.path.join(a.dir, "cache")
    if want("neuron-stream-csv"):
        run_neuron("neuron --stream (CSV, full)", ["--data", big, *stream, *common],
                   os.path.join(a.dir, "s.safetensors"), test, results)
    if want("neuron-stream-cache"):
        subprocess.run(["rm", "-rf", cache], check=True)
        for k in ("building", "reading"):
            run_neuron(f"neuron --stream --cache (full, {k} the cache)",
                       ["--data", big, *stream, "--cache", cache, *common],
                       os.path.join(a.dir, "c.safetensors"), test, results)
    if want("neuron-stream-parquet"):
        run_neuron("neuron --stream (Parquet, full)", ["--data", pq, *stream, *common],
                   os.path.join(a.dir, "p.safetensors"), test, results)
    subcache = os.path.join(a.dir, "subcache")
    if want("neuron-subset"):
        subprocess.run(["rm", "-rf", subcache], check=True)
        for k in ("building", "reading"):
            run_neuron(f"neuron --stream --cache (subset, {k} the cache)",
                       ["--data", sub, *stream, "--cache", subcache, *common],
                       os.path.join(a.dir, "sc.safetensors"), test, results)
        run_neuron("neuron in memory (subset)",
                   ["--data", sub, "--val-split", "0", "--test-split", "0", "--patience", "0",
                    "--cv-folds", "0", *common],
                   os.path.join(a.dir, "m.safetensors"), test, results)
    if want("sklearn"):
        run_python("pandas + scikit-learn MLPClassifier (subset)", "sklearn", sub, test,
                   a.epochs, results)
    if want("torch"):
        run_python("PyTorch IterableDataset over the CSV (subset)", "torch", sub, test,
                   a.epochs, results)
    print("\n| tool | rows | median epoch (s) | µs per row | peak memory (MB) | test accuracy |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        n = a.subset if "subset" in r["tool"] else a.rows
        med = float(np.median(r["epochs"]))
        print(f"| {r['tool']} | {n:,} | {med:.1f} | {med / n * 1e6:.2f} | {r['peak_mb']:.0f} | {r['acc']:.4f} |")


if __name__ == "__main__":
    main()
