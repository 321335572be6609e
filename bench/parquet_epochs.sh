#!/usr/bin/env bash
# Epoch times of two neuron builds, side by side, on the same table as Parquet and as CSV:
# streamed Parquet, streamed CSV, and Parquet in memory, for each build in turn, ROUNDS times.
#
#   bench/parquet_epochs.sh OLD_BIN NEW_BIN PREFIX [ROUNDS]
#
# PREFIX.parquet and PREFIX.csv hold the same rows (`write_table` in bench/stream_bench.py writes
# both). Prints one line per run: round, build, mode, wall seconds, peak KB (GNU time), and the
# seconds of each epoch (from --metrics-json).
set -euo pipefail
old=$1 new=$2 prefix=$3 rounds=${4:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--epochs 2 --batch-size 32 --layers 128,64 --lr 1e-3 --optimizer adam --threads 2
        --seed 1 --val-split 0 --test-split 0 --quiet)
for round in $(seq 1 "$rounds"); do
    for build in old new; do
        bin=$old
        [ "$build" = new ] && bin=$new
        for mode in parquet-stream csv-stream parquet-memory; do
            case $mode in
                parquet-stream) args=(--data "$prefix.parquet" --stream) ;;
                csv-stream) args=(--data "$prefix.csv" --stream) ;;
                parquet-memory) args=(--data "$prefix.parquet" --cv-folds 0 --patience 0) ;;
            esac
            /usr/bin/time -f "%e %M" -o "$work/time" "$bin" train "${args[@]}" "${common[@]}" \
                --metrics-json "$work/m.json" --out "$work/m.safetensors" > /dev/null
            epochs=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%.2f" % e["seconds"] for e in d["history"]["epochs"]))' "$work/m.json")
            echo "$round $build $mode $(cat "$work/time") $epochs"
        done
    done
done
