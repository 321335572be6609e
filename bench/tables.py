#!/usr/bin/env python3
"""The table panel: neuron's defaults against scikit-learn's MLP and HistGradientBoosting.

Every table is split 75/25 with ``train_test_split(random_state=0)`` (stratified for classes),
written as ``train.csv`` / ``test.csv`` with the target in column ``y``, and then:

- neuron:  ``neuron train --data train.csv --target y`` then ``neuron eval --data test.csv --json``
- sklearn: ``make_pipeline(StandardScaler(), MLPClassifier|MLPRegressor(max_iter=1000))``
- HistGB:  ``HistGradientBoostingClassifier|Regressor()`` with its defaults

Metric: accuracy for classification, R² for regression, on the 25 % test rows.

    pip install -r bench/requirements.txt && cargo build --release
    python3 bench/tables.py                       # the whole panel, one markdown table
    python3 bench/tables.py --args "--layers 64"  # a variant of neuron's options
    python3 bench/tables.py --seeds 3             # neuron and sklearn each over 3 seeds (mean)

scikit-learn and HistGB results are cached in bench/.tables-cache (keyed by scikit-learn's version
and the seed) because they never change between variants of neuron's options.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import sklearn
from sklearn import datasets as skd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, "bench", ".tables-cache")


def _sparse_linear(n, d, informative, noise, seed):
    """A linear target on a few of many standard-normal features, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[:informative] = rng.uniform(1, 3, informative) * rng.choice([-1, 1], informative)
    return x, x @ w + noise * rng.standard_normal(n)


def _skewed(n, seed):
    """Heavy-tailed (log-normal) features with a few outliers, and a smooth nonlinear target."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0.0, 1.0, (n, 8))
    x[rng.integers(0, n, n // 100), rng.integers(0, 8, n // 100)] *= 50.0
    y = np.log1p(x[:, 0]) * 2 + np.sqrt(x[:, 1]) - np.log1p(x[:, 2] * x[:, 3]) + rng.normal(0, 0.3, n)
    return x, y


# name -> (task, loader returning X, y). "c" classification, "r" regression.
PANEL = {
    "diabetes": ("r", lambda: skd.load_diabetes(return_X_y=True)),
    "regression": ("r", lambda: skd.make_regression(2000, 20, n_informative=10, noise=5, random_state=0)),
    "iris": ("c", lambda: skd.load_iris(return_X_y=True)),
    "classification4": ("c", lambda: skd.make_classification(3000, 20, n_informative=8, n_classes=4, random_state=0)),
    "friedman1": ("r", lambda: skd.make_friedman1(2000, noise=1.0, random_state=0)),
    "friedman2": ("r", lambda: skd.make_friedman2(2000, noise=10, random_state=0)),
    "friedman3": ("r", lambda: skd.make_friedman3(2000, noise=0.05, random_state=0)),
    "digits": ("c", lambda: skd.load_digits(return_X_y=True)),
    "moons": ("c", lambda: skd.make_moons(2000, noise=0.3, random_state=0)),
    "breast_cancer": ("c", lambda: skd.load_breast_cancer(return_X_y=True)),
    "wine": ("c", lambda: skd.load_wine(return_X_y=True)),
    "circles": ("c", lambda: skd.make_circles(1000, noise=0.15, factor=0.5, random_state=0)),
    "sparse_linear": ("r", lambda: _sparse_linear(800, 40, 5, 3.0, 0)),
    "noisy_labels": ("c", lambda: skd.make_classification(2000, 10, n_informative=5, flip_y=0.25, random_state=0)),
    "irrelevant": ("c", lambda: skd.make_classification(1500, 100, n_informative=5, n_redundant=0, random_state=0)),
    "imbalanced": ("c", lambda: skd.make_classification(5000, 20, n_informative=6, weights=[0.95, 0.05], random_state=0)),
    "skewed": ("r", lambda: _skewed(3000, 0)),
    "hastie": ("c", lambda: skd.make_hastie_10_2(6000, random_state=0)),
    "large100k": ("c", lambda: skd.make_classification(100_000, 20, n_informative=10, n_classes=3, random_state=0)),
}


def write_split(name, workdir):
    """Writes the table's train.csv and test.csv; returns (task, test y) and the paths."""
    task, load = PANEL[name]
    x, y = load()
    strat = y if task == "c" else None
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=strat)
    d = os.path.join(workdir, name)
    os.makedirs(d, exist_ok=True)
    for part, xs, ys in (("train", xtr, ytr), ("test", xte, yte)):
        cols = [f"x{i}" for i in range(xs.shape[1])] + ["y"]
        with open(os.path.join(d, f"{part}.csv"), "w") as f:
            f.write(",".join(cols) + "\n")
            for row, t in zip(xs, ys):
                target = str(int(t)) if task == "c" else repr(float(t))
                f.write(",".join(repr(float(v)) for v in row) + "," + target + "\n")
    return (xtr, xte, ytr, yte), d


def run_neuron(binary, d, task, extra, seed, threads):
    model = os.path.join(d, f"model-{seed}-{os.getpid()}-{abs(hash(tuple(extra))) % 10**8}.safetensors")
    cmd = [binary, "train", "--data", os.path.join(d, "train.csv"), "--target", "y", "--out", model,
           "--quiet", "--seed", str(seed), "--threads", str(threads)]
    if task == "c":
        cmd += ["--task", "classify"]
    else:
        cmd += ["--task", "regress"]
    t0 = time.perf_counter()
    subprocess.run(cmd + extra, check=True)
    seconds = time.perf_counter() - t0
    out = subprocess.run([binary, "eval", "--model", model, "--data", os.path.join(d, "test.csv"), "--json",
                          "--threads", str(threads)], check=True, capture_output=True, text=True).stdout
    os.remove(model)
    report = json.loads(out)
    return (report["accuracy"] if task == "c" else report["r2"]), seconds


def run_sklearn(split, task, seed):
    xtr, xte, ytr, yte = split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = (MLPClassifier if task == "c" else MLPRegressor)(max_iter=1000, random_state=seed)
        pipe = make_pipeline(StandardScaler(), mlp)
        t0 = time.perf_counter()
        pipe.fit(xtr, ytr)
        mlp_s = time.perf_counter() - t0
        score = accuracy_score if task == "c" else r2_score
        mlp_score = score(yte, pipe.predict(xte))
        hgb = (HistGradientBoostingClassifier if task == "c" else HistGradientBoostingRegressor)(random_state=seed)
        hgb.fit(xtr, ytr)
        hgb_score = score(yte, hgb.predict(xte))
    return {"mlp": mlp_score, "mlp_seconds": mlp_s, "hgb": hgb_score}


def sklearn_results(name, split, task, seeds):
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"{name}-sklearn{sklearn.__version__}.json")
    cached = json.load(open(path)) if os.path.exists(path) else {}
    changed = False
    for s in seeds:
        if str(s) not in cached:
            cached[str(s)] = run_sklearn(split, task, s)
            changed = True
    if changed:
        json.dump(cached, open(path, "w"), indent=1)
    rows = [cached[str(s)] for s in seeds]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--neuron", default=os.path.join(ROOT, "target", "release", "neuron"))
    p.add_argument("--args", default="", help="extra options for neuron train (one string)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per model (neuron 42.., sklearn 0..)")
    p.add_argument("--only", default="", help="comma-separated table names")
    p.add_argument("--skip", default="", help="comma-separated table names to leave out")
    p.add_argument("--jobs", type=int, default=2, help="neuron runs at once (each on --threads)")
    p.add_argument("--threads", type=int, default=1, help="threads per neuron run")
    p.add_argument("--json", help="write the results here too")
    p.add_argument("--export", help="only write each table's train.csv and test.csv under this folder")
    a = p.parse_args()
    names = [n for n in (a.only.split(",") if a.only else PANEL) if n and n not in a.skip.split(",")]
    extra = shlex.split(a.args)
    if a.export:
        for name in names:
            write_split(name, a.export)
        return
    work = tempfile.mkdtemp(prefix="neuron-tables-")
    results = {}
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        jobs = {}
        for name in names:
            task = PANEL[name][0]
            split, d = write_split(name, work)
            sk = sklearn_results(name, split, task, list(range(a.seeds)))
            futs = [pool.submit(run_neuron, a.neuron, d, task, extra, 42 + s, a.threads) for s in range(a.seeds)]
            jobs[name] = (task, len(split[0]), split[0].shape[1], sk, futs)
        for name, (task, n, d, sk, futs) in jobs.items():
            runs = [f.result() for f in futs]
            results[name] = {"task": task, "rows": n, "features": d,
                             "neuron": float(np.mean([r[0] for r in runs])),
                             "neuron_runs": [r[0] for r in runs],
                             "neuron_seconds": float(np.mean([r[1] for r in runs])), **sk}
            r = results[name]
            print(f"{name:16s} neuron {r['neuron']:.4f}  sklearn {r['mlp']:.4f}  hgb {r['hgb']:.4f}  "
                  f"({r['neuron_seconds']:.1f}s)", file=sys.stderr, flush=True)
    print(f"\nneuron train {' '.join(extra) or '(defaults)'}; seeds: {a.seeds}\n")
    print("| table | rows (train) | features | metric | neuron | sklearn MLP | Δ | HistGB | neuron s | sklearn s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    wins = 0
    for name, r in results.items():
        delta = r["neuron"] - r["mlp"]
        wins += delta >= -0.005
        print(f"| {name} | {r['rows']} | {r['features']} | {'acc' if r['task'] == 'c' else 'R²'} | "
              f"{r['neuron']:.4f} | {r['mlp']:.4f} | {delta:+.4f} | {r['hgb']:.4f} | "
              f"{r['neuron_seconds']:.1f} | {r['mlp_seconds']:.1f} |")
    beats_hgb = sum(r["neuron"] >= r["hgb"] - 0.005 for r in results.values())
    total_s = sum(r["neuron_seconds"] for r in results.values())
    print(f"\nat least sklearn's MLP (within 0.005): {wins}/{len(results)}; "
          f"at least HistGB (within 0.005): {beats_hgb}/{len(results)}; neuron training time: {total_s:.0f} s")
    if a.json:
        json.dump({"args": extra, "seeds": a.seeds, "results": results}, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
