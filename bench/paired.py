#!/usr/bin/env python3
"""Two neuron binaries' `bench` runs, alternated, with the paired ratios of their times.

    python3 bench/paired.py BEFORE AFTER [--rounds 4] [--threads 2] [--only small-128]

Runs `BEFORE bench --json`, then `AFTER bench --json`, `--rounds` times, and prints for each
configuration the median seconds per epoch of each binary and the median of the per-round ratios
AFTER / BEFORE (below 1: AFTER is faster). Alternating makes both binaries see the same noise of a
shared machine; a ratio within a few percent of 1 is no change.
"""

import argparse
import json
import statistics
import subprocess


def bench(binary, threads, only):
    extra = ["--only", only] if only else []
    out = subprocess.run([binary, "bench", "--json", "--threads", str(threads), *extra],
                         check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    times = {c["config"]: c["s_per_epoch"] for c in j["configs"]}
    times["predict latency (µs)"] = j.get("predict_latency_us")
    return times


def main():
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", help="configurations to run, as `bench --only` takes them")
    a = p.parse_args()
    rounds = []
    for r in range(a.rounds):
        before, after = bench(a.before, a.threads, a.only), bench(a.after, a.threads, a.only)
        rounds.append((before, after))
        print(f"round {r + 1}: " + ", ".join(f"{k} {after[k] / before[k]:.3f}"
                                              for k in before if before[k]), flush=True)
    print("| configuration | before (median) | after (median) | paired ratio after/before (median, range) |")
    print("| --- | --- | --- | --- |")
    for k in rounds[0][0]:
        if rounds[0][0][k] is None:
            continue
        ratios = [b2[k] / b1[k] for b1, b2 in rounds]
        print(f"| {k} | {statistics.median(b1[k] for b1, _ in rounds):.4g} "
              f"| {statistics.median(b2[k] for _, b2 in rounds):.4g} "
              f"| {statistics.median(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f}) |")


if __name__ == "__main__":
    main()
