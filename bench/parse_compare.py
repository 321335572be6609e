#!/usr/bin/env python3
"""One core's CSV reading speed: neuron's reading stages against pandas and pyarrow, side by side.

    cargo build --release -p neuron --example parse_speed
    python3 bench/parse_compare.py --rounds 5

Each round runs, one after the other on the same file (already in the page cache after the first
round): neuron's `parse_speed` example (its stages, once each: the text split into records, the
statistics pass, and an epoch's reading, split, parse and encode into standardised network rows),
`pandas.read_csv` (its C engine, which uses one thread) and `pyarrow.csv.read_csv` with
`use_threads=False`. Prints every round and the median of the rounds in MB/s (10^6 bytes of the
file per second). The table is `stream_bench.py`'s HIGGS-shaped one, 1 M rows (212 MB), written
first if the file is missing. Needs numpy, pandas and pyarrow (bench/requirements.txt).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PARSE_SPEED = os.path.join(HERE, "..", "target", "release", "examples", "parse_speed")
STAGES = ["records", "statistics", "records + encoding"]


def neuron_round(path):
    """MB/s of each parse_speed stage, one run of each."""
    out = subprocess.run([PARSE_SPEED, path, "1"], check=True, capture_output=True, text=True)
    speeds = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\s*(.+?): ([\d.]+) s, ([\d.]+) MB/s", line)
        if m and m.group(1) in STAGES:
            speeds["neuron " + m.group(1)] = float(m.group(3))
    return speeds


def timed_mb_s(mb, read):
    start = time.perf_counter()
    read()
    return mb / (time.perf_counter() - start)


def others_round(path, mb):
    import pandas as pd
    import pyarrow.csv as pc

    one_thread = pc.ReadOptions(use_threads=False)
    return {
        "pandas read_csv (C engine)": timed_mb_s(mb, lambda: pd.read_csv(path, engine="c")),
        "pyarrow read_csv, 1 thread": timed_mb_s(
            mb, lambda: pc.read_csv(path, read_options=one_thread)
        ),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", default="/tmp/neuron-parse-bench/t1m.csv")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if not os.path.exists(args.table):
        sys.path.insert(0, HERE)
        import stream_bench

        os.makedirs(os.path.dirname(os.path.abspath(args.table)), exist_ok=True)
        stream_bench.write_table(args.table, None, 1_000_000, 7)
    mb = os.path.getsize(args.table) / 1e6
    rounds = []
    for r in range(args.rounds):
        speeds = {**neuron_round(args.table), **others_round(args.table, mb)}
        rounds.append(speeds)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v:.0f}" for k, v in speeds.items()), flush=True)
    print(f"\nmedian of {args.rounds} rounds, {mb:.0f} MB table (MB/s):")
    for key in rounds[0]:
        values = [s[key] for s in rounds]
        print(f"  {key:>32}: {statistics.median(values):6.0f}  ({min(values):.0f}-{max(values):.0f})")


if __name__ == "__main__":
    main()
