#!/usr/bin/env python3
"""Streamed training on a table sorted by its label, against the same rows unsorted.

A shuffle buffer smaller than the table cannot mix a sorted table's classes: its batches come from
one class for most of an epoch. `neuron train --stream` reads the table in segments and mixes them
in every batch. This writes the HIGGS-shaped table of stream_bench.py (1 M rows by default), the
same rows sorted by label, trains the same network on each (2 epochs, 10 % of the rows held out for
the test by a hash of their place) and prints the test accuracy of each seed.

    cargo build --release -p neuron-cli
    python3 bench/sorted_stream.py [--rows 1000000] [--seeds 1,2] [--bin target/release/neuron]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stream_bench  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def accuracy(binary, table, seed):
    """Test accuracy of a streamed run on `table`."""
    with tempfile.TemporaryDirectory() as d:
        cmd = [binary, "train", "--data", table, "--stream", "--layers", "128,64", "--batch-size", "256",
               "--optimizer", "adam", "--lr", "1e-3", "--epochs", "2", "--test-split", "0.1",
               "--seed", str(seed), "--threads", "2", "--out", os.path.join(d, "m.safetensors")]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    found = re.findall(r"test \(.*\): loss ([0-9.]+), accuracy ([0-9.]+)", out.stdout + out.stderr)
    return found[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "neuron"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        plain = os.path.join(d, "table.csv")
        stream_bench.write_table(plain, None, a.rows, 1)
        with open(plain) as f:
            header, *rows = f.read().splitlines()
        rows.sort(key=lambda r: r.rsplit(",", 1)[1])
        ordered = os.path.join(d, "sorted.csv")
        with open(ordered, "w") as f:
            f.write(header + "\n" + "\n".join(rows) + "\n")
        del rows
        print("| table | seed | test loss | test accuracy |")
        print("| --- | --- | --- | --- |")
        for name, table in (("as written", plain), ("sorted by label", ordered)):
            for seed in a.seeds.split(","):
                loss, acc = accuracy(a.bin, table, int(seed))
                print(f"| {name} | {seed} | {loss} | {acc} |", flush=True)


if __name__ == "__main__":
    main()
