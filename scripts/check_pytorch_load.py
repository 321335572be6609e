#!/usr/bin/env python3
"""Proves that PyTorch reads neuron's model files: trains a model with the neuron binary, loads it
with `safetensors.torch.load_file` into the `nn.Sequential` its metadata describes, and checks that
PyTorch's probabilities equal `neuron predict --proba` on the same data.

    pip install torch safetensors && cargo build --release && python3 scripts/check_pytorch_load.py
"""
import csv
import gzip
import io
import json
import math
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import load_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
NEURON = os.path.join(ROOT, "target", "release", "neuron")
DIGITS = os.path.join(ROOT, "crates", "neuron", "data", "digits.csv.gz")

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU, "identity": nn.Identity}


def build(meta):
    layers = []
    for spec in meta["layers"]:
        t = spec["type"]
        if t == "dense":
            layers.append(nn.Linear(spec["inputs"], spec["outputs"]))
        elif t == "activation":
            a = spec["activation"]
            layers.append(nn.LeakyReLU(a["alpha"]) if a["kind"] == "leaky_relu" else ACTIVATIONS[a["kind"]]())
        elif t == "dropout":
            layers.append(nn.Dropout(spec["p"]))
        elif t == "softmax":
            layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers)


def main():
    tmp = tempfile.mkdtemp()
    model_path = os.path.join(tmp, "digits.safetensors")
    subprocess.run([NEURON, "train", "--epochs", "5", "--dropout", "0.1", "--out", model_path, "--quiet"], check=True)
    pred = subprocess.run([NEURON, "predict", "--model", model_path, "--data", DIGITS, "--proba"],
                          check=True, capture_output=True, text=True).stdout
    neuron_p = torch.tensor([[float(v) for v in row[1:]] for row in list(csv.reader(io.StringIO(pred)))[1:]])

    # The five lines a user needs:
    with safe_open(model_path, "pt") as f:
        meta = json.loads(f.metadata()["neuron"])
    model = build(meta)
    model.load_state_dict(load_file(model_path))
    model.eval()

    # Apply the stored preprocessing (scaling, then robust scaling's soft clip) to the raw CSV.
    rows = list(csv.reader(io.StringIO(gzip.open(DIGITS, "rt").read())))
    header, rows = rows[0], rows[1:]
    cols = meta["preprocessing"]["columns"]

    def scale(v, c):
        z = (v - c["mean"]) / c["std"]
        k = c.get("clip")
        return math.copysign(k + math.log1p(abs(z) - k), z) if k and abs(z) > k else z

    x = torch.tensor([[scale(float(r[header.index(c["name"])]), c) for c in cols] for r in rows])
    with torch.no_grad():
        torch_p = torch.softmax(model(x), dim=1)
    diff = (torch_p - neuron_p).abs().max().item()
    print(f"PyTorch loaded {model_path}: {len(meta['layers'])} layers, max |p_torch - p_neuron| = {diff:.2e}")
    if diff > 1e-5:
        sys.exit("mismatch")


if __name__ == "__main__":
    main()
