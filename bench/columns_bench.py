#!/usr/bin/env python3
"""Column inference against plain encoding, on three messy tables.

    python3 bench/columns_bench.py [--seeds 3]

Each table is generated with the kinds of columns real exports have, and a target that depends
on some of them through a known rule plus noise; it is split at random into a training file and a
test file of a quarter of the rows (so every identifier in the test file is new). For each table, `neuron train` with its defaults
(column inference: identifiers and constants left out, dates and numbers written for people read
as values) is compared with `neuron train --keep-all-columns` (every column kept: plain numbers,
else one-hot text), on the test file's score and the training time (medians over seeds).

- customers: a customer id, a sign-up date (the target follows the month), an amount such as
  `12,345.67` (it follows the amount), a region, a constant export tag; churn yes/no.
- sensors (semicolon-separated, decimal commas): a reading's timestamp (the target follows the
  time of day), a device id among 4,000, two readings such as `21,5`, a constant firmware; a
  regression target.
- orders: a running order number, an ISO datetime with an offset (the weekday matters), an amount,
  a product among 30; class of 3 delivery speeds.

Needs only numpy. NEURON_BIN picks the binary (default: target/release/neuron).
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NEURON = os.environ.get("NEURON_BIN", os.path.join(HERE, "..", "target", "release", "neuron"))


def dates(rng, n, start_day, with_time=False):
    days = np.sort(rng.integers(0, 700, n)) + start_day
    base = np.datetime64("2022-01-01")
    d = base + days.astype("timedelta64[D]")
    if not with_time:
        return d, [str(x) for x in d]
    secs = rng.integers(0, 86400, n)
    t = d.astype("datetime64[s]") + secs.astype("timedelta64[s]")
    return t, [str(x).replace("T", " ") for x in t]


def customers(rng, n, start):
    d, text = dates(rng, n, start // 10)
    month = d.astype("datetime64[M]").astype(int) % 12
    amount = rng.gamma(2.0, 4000.0, n)
    region = rng.choice(["north", "south", "east", "west"], n)
    logit = np.cos(2 * np.pi * month / 12) * 1.5 + (amount - 8000) / 4000 + (region == "east") * 0.8
    y = np.where(logit + rng.logistic(size=n) * 0.5 > 0, "yes", "no")
    rows = ["customer_id,signed_up,amount,region,export,churn"]
    for i in range(n):
        rows.append(f'C{start + i:07d},{text[i]},"{amount[i]:,.2f}",{region[i]},v2,{y[i]}')
    return "\n".join(rows) + "\n", "churn"


def sensors(rng, n, start):
    t, text = dates(rng, n, start // 20, with_time=True)
    hour = (t.astype("datetime64[s]").astype(int) % 86400) / 3600
    device = rng.integers(0, 4000, n)
    a, b = rng.normal(20, 3, n), rng.normal(50, 10, n)
    y = 5 * np.sin(2 * np.pi * hour / 24) + 0.4 * a - 0.05 * b + rng.normal(0, 1, n)
    fmt = lambda v: f"{v:.2f}".replace(".", ",")
    rows = ["time;device;temperature;humidity;firmware;load"]
    for i in range(n):
        rows.append(f"{text[i]};dev-{device[i]:04d};{fmt(a[i])};{fmt(b[i])};1.4.2;{fmt(y[i])}")
    return "\n".join(rows) + "\n", "load"


def orders(rng, n, start):
    t, _ = dates(rng, n, start // 15, with_time=True)
    weekday = (t.astype("datetime64[D]").astype(int) + 3) % 7
    amount = rng.lognormal(3.5, 0.8, n)
    product = rng.integers(0, 30, n)
    score = (weekday >= 5) * 1.5 + np.log(amount) / 2 + (product % 3 == 0) * 0.7 + rng.normal(0, 0.6, n)
    y = np.select([score < 2.2, score < 3.2], ["slow", "normal"], "fast")
    rows = ["order_no,placed,amount,product,speed"]
    for i in range(n):
        iso = str(t[i]) + "+01:00"
        rows.append(f'{start + i},{iso},"{amount[i]:,.2f}",p{product[i]:02d},{y[i]}')
    return "\n".join(rows) + "\n", "speed"


def run(args):
    t0 = time.perf_counter()
    p = subprocess.run([NEURON, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"neuron {' '.join(args)} failed:\n{p.stderr}")
    return time.perf_counter() - t0, p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rows", type=int, default=6000)
    a = ap.parse_args()
    print("| table | columns | score | inferred | --keep-all-columns | time inferred (s) | time plain (s) | inputs inferred / plain |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, make in [("customers", customers), ("sensors", sensors), ("orders", orders)]:
        res = {"inferred": [], "plain": []}
        secs = {"inferred": [], "plain": []}
        width, failed = {}, {}
        for seed in range(a.seeds):
            rng = np.random.default_rng(seed)
            table, target = make(rng, a.rows + a.rows // 3, 0)
            header, *body = table.splitlines()
            order = rng.permutation(len(body))
            part = lambda idx: "\n".join([header] + [body[i] for i in sorted(idx)]) + "\n"
            train, test = part(order[: a.rows]), part(order[a.rows :])
            with tempfile.TemporaryDirectory() as d:
                tr, te = os.path.join(d, "train.csv"), os.path.join(d, "test.csv")
                open(tr, "w").write(train)
                open(te, "w").write(test)
                for mode, extra in [("inferred", []), ("plain", ["--keep-all-columns"])]:
                    m = os.path.join(d, f"{mode}.safetensors")
                    s, _ = run(["train", "--data", tr, "--target", target, "--seed", str(seed),
                                "--quiet", "--out", m, *extra])
                    secs[mode].append(s)
                    p = subprocess.run([NEURON, "eval", "--model", m, "--data", te, "--json"],
                                       capture_output=True, text=True)
                    if p.returncode != 0:
                        # e.g. a target written 12,5 read as text: classes the test rows lack.
                        res[mode].append(float("nan"))
                        failed[mode] = p.stderr.split("(the model")[0].strip()[-90:]
                    else:
                        v = json.loads(p.stdout)
                        res[mode].append(v.get("accuracy", v.get("r2")))
                    _, p = run(["summary", "--model", m])
                    width[mode] = next(l for l in p.stdout.splitlines() if "in_features=" in l)
                    width[mode] = width[mode].split("in_features=")[1].split(",")[0]
        metric = "R²" if name == "sensors" else "accuracy"
        cols = len(train.splitlines()[0].replace(";", ",").split(","))
        med = lambda k: f"fails: {failed[k]}" if k in failed else f"{statistics.median(res[k]):.3f}"
        print(f"| {name} | {cols} | {metric} | {med('inferred')} | {med('plain')} | "
              f"{statistics.median(secs['inferred']):.1f} | {statistics.median(secs['plain']):.1f} | "
              f"{width['inferred']} / {width['plain']} |", flush=True)


if __name__ == "__main__":
    main()
