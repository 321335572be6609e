#!/usr/bin/env python3
"""Writes the Parquet test files in crates/neuron-cli/tests/data/parquet/ (tests need no Python):

    pip install pyarrow pandas
    python3 scripts/make_parquet_fixtures.py

- iris.parquet (snappy) and iris_zstd.parquet (zstd, dictionary-encoded text): the same rows as
  crates/neuron/data/iris.csv, so training on either gives the same model;
- shards/part-0.parquet, part-1.parquet: iris in two files;
- mixed.parquet: int64, float with nulls, boolean, dictionary text, date and a text label;
- other_columns.parquet: a shard whose columns differ;
- truncated.parquet: iris.parquet cut short.
"""

import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "neuron-cli", "tests", "data", "parquet")


def main():
    os.makedirs(os.path.join(OUT, "shards"), exist_ok=True)
    iris = pd.read_csv(os.path.join(ROOT, "crates", "neuron", "data", "iris.csv"))
    table = pa.Table.from_pandas(iris, preserve_index=False)
    pq.write_table(table, os.path.join(OUT, "iris.parquet"), compression="snappy",
                   use_dictionary=False)
    pq.write_table(table, os.path.join(OUT, "iris_zstd.parquet"), compression="zstd",
                   use_dictionary=True, row_group_size=40)
    half = len(iris) // 2
    for k, part in enumerate((iris.iloc[:half], iris.iloc[half:])):
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False),
                       os.path.join(OUT, "shards", f"part-{k}.parquet"))
    n = 40
    mixed = pd.DataFrame({
        "count": pd.array(range(n), dtype="int64"),
        "size": [None if i % 7 == 3 else i * 0.5 for i in range(n)],
        "flag": [i % 3 == 0 for i in range(n)],
        "colour": pd.Categorical(["red", "green", "blue", "green"][i % 4] for i in range(n)),
        "day": pd.to_datetime("2024-03-01") + pd.to_timedelta(range(n), unit="D"),
        "label": ["big" if i >= n // 2 else "small" for i in range(n)],
    })
    mixed["day"] = mixed["day"].dt.date
    pq.write_table(pa.Table.from_pandas(mixed, preserve_index=False),
                   os.path.join(OUT, "mixed.parquet"))
    other = iris.rename(columns={"petal_width": "width"})
    pq.write_table(pa.Table.from_pandas(other.iloc[:5], preserve_index=False),
                   os.path.join(OUT, "other_columns.parquet"))
    data = open(os.path.join(OUT, "iris.parquet"), "rb").read()
    open(os.path.join(OUT, "truncated.parquet"), "wb").write(data[: len(data) * 2 // 3])


if __name__ == "__main__":
    main()
