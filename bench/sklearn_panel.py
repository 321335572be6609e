#!/usr/bin/env python3
"""neuron.sklearn against scikit-learn's MLP on the table panel, with the same constructor arguments.

    pip install ./crates/neuron-py -r bench/requirements.txt
    python3 bench/sklearn_panel.py [--seeds 3] [--only a,b] [--skip large100k]

Each table of `bench/tables.py` is split 75/25 as there; both estimators run as
``make_pipeline(StandardScaler(), MLP*(max_iter=1000, random_state=s))`` for s = 0.. --seeds-1,
and the mean test accuracy or R² is compared. scikit-learn's scores come from the cache that
`bench/tables.py` keeps (bench/.tables-cache), so they are computed once. neuron runs with every
core.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tables import PANEL, sklearn_results  # noqa: E402

from neuron.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--only", default="")
    p.add_argument("--skip", default="")
    a = p.parse_args()
    names = [n for n in PANEL if (not a.only or n in a.only.split(",")) and n not in a.skip.split(",")]
    print("| table | metric | neuron.sklearn | scikit-learn | difference | neuron s | scikit-learn s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    at_least = 0
    for name in names:
        task, load = PANEL[name]
        x, y = load()
        split = train_test_split(x, y, test_size=0.25, random_state=0,
                                 stratify=y if task == "c" else None)
        xtr, xte, ytr, yte = split
        sk = sklearn_results(name, split, task, range(a.seeds))
        scores, seconds = [], []
        for s in range(a.seeds):
            est = (MLPClassifier if task == "c" else MLPRegressor)(max_iter=1000, random_state=s)
            pipe = make_pipeline(StandardScaler(), est)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = time.perf_counter()
                pipe.fit(xtr, ytr)
                seconds.append(time.perf_counter() - t0)
            score = accuracy_score if task == "c" else r2_score
            scores.append(score(yte, pipe.predict(xte)))
        ours = float(np.mean(scores))
        at_least += ours >= sk["mlp"] - 0.005
        print(f"| {name} | {'acc' if task == 'c' else 'R²'} | {ours:.4f} | {sk['mlp']:.4f} | "
              f"{ours - sk['mlp']:+.4f} | {np.mean(seconds):.1f} | {sk['mlp_seconds']:.1f} |", flush=True)
    print(f"\nat least scikit-learn's MLP (within 0.005): {at_least}/{len(names)}")


if __name__ == "__main__":
    main()
