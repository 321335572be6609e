"""`neuron export`: every exported model passes ONNX's full check, and ONNX Runtime's outputs equal
neuron's within 1e-5 for every activation and loss, with the stored scaling in the graph."""

import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris

import neuron
from test_sklearn import neuron_bin

ACTIVATIONS = ["relu", "sigmoid", "tanh", "leaky-relu", "gelu", "identity"]


def tables(tmp_path):
    iris = load_iris(as_frame=True).frame
    iris["target"] = iris["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    binary = iris.copy()
    binary["target"] = np.where(iris["target"] == "virginica", "yes", "no")
    diabetes = load_diabetes(as_frame=True).frame
    paths = {}
    for name, df in (("iris", iris), ("binary", binary), ("diabetes", diabetes)):
        paths[name] = tmp_path / f"{name}.csv"
        df.to_csv(paths[name], index=False)
    return paths


def train_and_export(tmp_path, csv, args):
    model, exported = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    subprocess.run([neuron_bin(), "train", "--data", str(csv), "--target", "target", "--epochs", "8",
                    "--cv-folds", "0", "--quiet", "--out", str(model), *args], check=True)
    subprocess.run([neuron_bin(), "export", "--model", str(model), "--out", str(exported)],
                   check=True, capture_output=True)
    checked = onnx.load(str(exported))
    onnx.checker.check_model(checked, full_check=True)
    assert checked.opset_import[0].version == 17
    return model, exported


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("task", ["iris", "binary", "diabetes"])
def test_onnx_runtime_matches_neuron(tmp_path, activation, task):
    paths = tables(tmp_path)
    args = ["--activation", activation, "--layers", "16,8"]
    if task == "binary":
        args += ["--loss", "bce"]
    model, exported = train_and_export(tmp_path, paths[task], args)
    est = neuron.load(model)
    X = pd.read_csv(paths[task]).drop(columns="target")
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    out = dict(zip([o.name for o in session.get_outputs()],
                   session.run(None, {"input": X.to_numpy(np.float32)})))
    if task == "diabetes":
        np.testing.assert_allclose(out["prediction"].ravel(), est.predict(X), rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_allclose(out["probabilities"], est.predict_proba(X), rtol=1e-5, atol=1e-5)
        assert list(out["label"]) == list(est.predict(X))


def test_the_command_lines_probabilities_and_the_metadata(tmp_path):
    paths = tables(tmp_path)
    model, exported = train_and_export(tmp_path, paths["iris"], ["--scaling", "standard"])
    printed = subprocess.run([neuron_bin(), "predict", "--model", str(model), "--data",
                              str(paths["iris"]), "--proba"], check=True, capture_output=True,
                             text=True).stdout
    rows = [line.split(",") for line in printed.split()[1:]]
    X = pd.read_csv(paths["iris"]).drop(columns="target").to_numpy(np.float32)
    probs, labels = ort.InferenceSession(str(exported)).run(["probabilities", "label"], {"input": X})
    np.testing.assert_allclose(probs, np.array([[float(v) for v in r[1:]] for r in rows]), atol=1e-5)
    assert list(labels) == [r[0] for r in rows]
    meta = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert meta["neuron.labels"] == '["setosa","versicolor","virginica"]'
    assert '"raw_columns":true' in meta["neuron.inputs"] and "neuron" in meta
    # The batch dimension is dynamic.
    assert ort.InferenceSession(str(exported)).run(["label"], {"input": X[:1]})[0].shape == (1,)
