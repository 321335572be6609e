"""ONNX import, live: scikit-learn MLPs exported by skl2onnx (with their ai.onnx.ml nodes, behind a
StandardScaler) read by `neuron.load` and by `neuron predict` give scikit-learn's own outputs within
1e-5. (PyTorch's exports are checked without Python, from files: crates/neuron-cli/tests/onnx.rs.)"""

import subprocess
import warnings

import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_diabetes, load_iris
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import neuron
from test_sklearn import neuron_bin


def export(est, X, path, **opts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, est._y)
    path.write_bytes(to_onnx(est, X[:1].astype(np.float32), **opts).SerializeToString())
    return est


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("zipmap", [True, False])
def test_scikit_learn_classifiers_read_back(tmp_path, activation, zipmap):
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    y = np.array(["setosa", "versicolor", "virginica"])[y]
    est = make_pipeline(StandardScaler(), MLPClassifier((12, 6), activation=activation,
                                                        max_iter=400, random_state=0))
    est._y = y
    path = tmp_path / "m.onnx"
    export(est, X, path, options=None if zipmap else {"zipmap": False})
    model = neuron.load(path)
    want = est.predict_proba(X.astype(np.float64))
    np.testing.assert_allclose(model.predict_proba(X), want, atol=1e-5)
    assert list(model.classes_) == list(est.classes_)
    np.testing.assert_array_equal(model.predict(X), est.predict(X))
    csv = tmp_path / "x.csv"
    np.savetxt(csv, X, delimiter=",", header="a,b,c,d", comments="", fmt="%.9g")
    out = subprocess.run([neuron_bin(), "predict", "--model", str(path), "--data", str(csv),
                          "--proba"], check=True, capture_output=True, text=True).stdout
    rows = [line.split(",") for line in out.splitlines()[1:]]
    assert [r[0] for r in rows] == list(est.predict(X))
    np.testing.assert_allclose(np.array([r[1:] for r in rows], dtype=float), want, atol=2e-6)


def test_scikit_learn_regressors_read_back(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    est = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(20,), max_iter=300,
                                                       random_state=0))
    est._y = y
    path = tmp_path / "r.onnx"
    export(est, X, path)
    got = neuron.load(path).predict(X)
    want = est.predict(X.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
