#!/usr/bin/env python3
"""Writes the ONNX import fixtures in crates/neuron-cli/tests/data/onnx/ (tests need neither
PyTorch nor scikit-learn; this script does):

    pip install torch onnx onnxscript skl2onnx scikit-learn==1.9.1
    python3 scripts/make_onnx_fixtures.py

For each model: NAME.onnx as the exporter writes it, NAME.inputs.csv (float32 values, columns
x0, x1, ...) and NAME.expected.csv: what the original framework computes on those rows, as
class probabilities (columns p_<label>) or predictions (prediction, or prediction_<k> for several
outputs). PyTorch models are exported by both torch.onnx.export paths (TorchScript,
dynamo=False; and dynamo=True), at its default opset (with a Gelu node) and at opset 17 (GELU
written with Erf); scikit-learn models by skl2onnx, with its ai.onnx.ml nodes.
"""

import os
import warnings

import numpy as np
import onnx
import torch
from skl2onnx import to_onnx
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   "crates", "neuron-cli", "tests", "data", "onnx")
ROWS = 16


def write_csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(repr(float(v)) for v in r) + "\n")


def inputs(name, x):
    write_csv(os.path.join(OUT, f"{name}.inputs.csv"), [f"x{i}" for i in range(x.shape[1])], x)


def expected(name, header, y):
    write_csv(os.path.join(OUT, f"{name}.expected.csv"), header, y)


def torch_model(name, net, n_in, kind, dynamo, opset=None, labels=None):
    torch.manual_seed(0)
    for p in net.parameters():
        nn.init.normal_(p, std=0.6)
    net.eval()
    x = torch.randn(ROWS, n_in, generator=torch.Generator().manual_seed(1))
    path = os.path.join(OUT, f"{name}.onnx")
    kw = {} if opset is None else {"opset_version": opset}
    if dynamo:
        torch.onnx.export(net, (x,), path, dynamo=True, **kw)
        onnx.save(onnx.load(path), path)  # the weights inline, in the one file
        if os.path.exists(path + ".data"):
            os.remove(path + ".data")
    else:
        torch.onnx.export(net, (x,), path, dynamo=False, input_names=["input"],
                          dynamic_axes={"input": {0: "N"}}, **kw)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    with torch.no_grad():
        y = net(x).double().numpy()
    inputs(name, x.numpy())
    if kind == "softmax":
        expected(name, [f"p_{i}" for i in range(y.shape[1])], y)
    elif kind == "log_softmax":
        expected(name, [f"p_{i}" for i in range(y.shape[1])], np.exp(y))
    elif kind == "sigmoid":
        expected(name, ["p_0", "p_1"], np.hstack([1 - y, y]))
    else:
        header = ["prediction"] if y.shape[1] == 1 else [f"prediction_{k}" for k in range(y.shape[1])]
        expected(name, header, y)


def sk_model(name, est, x, y, proba, **opts):
    est.fit(x.astype(np.float64), y)
    m = to_onnx(est, x[:1].astype(np.float32), **opts)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, os.path.join(OUT, f"{name}.onnx"))
    rows = x[:ROWS].astype(np.float32)
    inputs(name, rows)
    xd = rows.astype(np.float64)
    if proba:
        classes = est.classes_ if hasattr(est, "classes_") else est[-1].classes_
        expected(name, [f"p_{c}" for c in classes], est.predict_proba(xd))
    else:
        out = est.predict(xd).reshape(ROWS, -1)
        header = ["prediction"] if out.shape[1] == 1 else [f"prediction_{k}" for k in range(out.shape[1])]
        expected(name, header, out)


def main():
    warnings.simplefilter("ignore")
    os.makedirs(OUT, exist_ok=True)
    deep = lambda: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 6), nn.GELU(),
                                 nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3), nn.Softmax(dim=1))
    torch_model("torch_script_softmax", deep(), 5, "softmax", dynamo=False)
    torch_model("torch_dynamo_softmax", deep(), 5, "softmax", dynamo=True)
    binary = lambda: nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 6), nn.LeakyReLU(0.1),
                                   nn.Linear(6, 1), nn.Sigmoid())
    torch_model("torch_script_opset17_sigmoid", binary(), 4, "sigmoid", dynamo=False, opset=17)
    torch_model("torch_dynamo_opset17_sigmoid", binary(), 4, "sigmoid", dynamo=True, opset=17)
    logsm = lambda: nn.Sequential(nn.Linear(4, 7), nn.GELU(), nn.Linear(7, 4), nn.LogSoftmax(dim=-1))
    torch_model("torch_script_opset17_logsoftmax", logsm(), 4, "log_softmax", dynamo=False, opset=17)
    torch_model("torch_dynamo_logsoftmax", logsm(), 4, "log_softmax", dynamo=True)
    reg = lambda: nn.Sequential(nn.Linear(3, 6), nn.Sigmoid(), nn.Linear(6, 2))
    torch_model("torch_script_regression", reg(), 3, "outputs", dynamo=False)
    torch_model("torch_dynamo_regression", reg(), 3, "outputs", dynamo=True)

    rng = np.random.RandomState(0)
    x = (rng.randn(300, 6) * [1, 5, 0.2, 3, 1, 10] + [0, 50, 1, -4, 2, 100]).astype(np.float32)
    z = x[:, 0] + 0.3 * x[:, 1] - 15
    y3 = np.array(["cat", "dog", "fish"])[np.digitize(z, np.quantile(z, [1 / 3, 2 / 3]))]
    sk_model("sklearn_binary_zipmap", make_pipeline(StandardScaler(), MLPClassifier(
        (8,), max_iter=300, random_state=0)), x, (z > 0).astype(int), True)
    sk_model("sklearn_pipeline_tanh_labels", make_pipeline(StandardScaler(), MLPClassifier(
        (8, 5), activation="tanh", max_iter=300, random_state=0)), x, y3, True,
        options={"zipmap": False})
    sk_model("sklearn_logistic_plain", MLPClassifier((6,), activation="logistic", max_iter=300,
                                                     random_state=0), x / 50, y3, True)
    sk_model("sklearn_regressor", make_pipeline(StandardScaler(), MLPRegressor(
        hidden_layer_sizes=(10,), max_iter=500, random_state=0)), x, z, False)
    sk_model("sklearn_regressor_two_outputs", MLPRegressor(hidden_layer_sizes=(7,), activation="identity",
                                                           max_iter=500, random_state=0),
             x / 50, np.c_[z, -z] / 10, False)


if __name__ == "__main__":
    main()
