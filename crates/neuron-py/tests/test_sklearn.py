"""neuron.sklearn as a scikit-learn user would use it: in pipelines and searches, its fitted
attributes, round trips through pickle, joblib and model files, bad inputs, Ctrl-C and threads."""

import os
import pickle
import signal
import subprocess
import threading
import time

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits, load_iris, make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import neuron
from neuron.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def forward(est, X):
    """The network's output computed from `coefs_` and `intercepts_` with NumPy."""
    acts = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "identity": lambda z: z,
            "logistic": lambda z: 1 / (1 + np.exp(-z))}
    a = X
    for i, (W, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        a = a @ W + b
        if i < len(est.coefs_) - 1:
            a = acts[est.activation](a)
    if est.out_activation_ == "softmax":
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if est.out_activation_ == "logistic":
        return 1 / (1 + np.exp(-a))
    return a


# ----- how users combine estimators ------------------------------------------------------------

def test_pipeline_with_a_column_transformer_on_a_dataframe():
    rng = np.random.RandomState(0)
    df = pd.DataFrame({"a": rng.randn(300), "b": rng.randn(300),
                       "colour": rng.choice(["red", "green", "blue"], 300)})
    y = ((df.a + (df.colour == "red")) > 0.5).map({True: "yes", False: "no"})
    pre = ColumnTransformer([("num", StandardScaler(), ["a", "b"]),
                             ("cat", OneHotEncoder(), ["colour"])])
    pipe = make_pipeline(pre, MLPClassifier(random_state=0, max_iter=300)).fit(df, y)
    assert pipe.score(df, y) > 0.9
    assert set(pipe.predict(df)) <= {"yes", "no"}


def test_grid_search_in_two_processes_and_cross_val_score():
    X, y = iris()
    grid = GridSearchCV(MLPClassifier(random_state=0, max_iter=300),
                        {"hidden_layer_sizes": [(8,), (32,)], "alpha": [1e-4, 1e-2]}, cv=3, n_jobs=2)
    grid.fit(X, y)
    assert grid.best_score_ > 0.9
    assert set(grid.best_params_) == {"hidden_layer_sizes", "alpha"}
    data = make_regression(200, 5, noise=1, random_state=0)
    ours = cross_val_score(MLPRegressor(random_state=0, max_iter=300), *data, cv=3).mean()
    theirs = cross_val_score(SkRegressor(random_state=0, max_iter=300), *data, cv=3).mean()
    assert ours >= theirs - 0.02


# ----- fitted attributes -----------------------------------------------------------------------

def test_fitted_attributes_mean_what_scikit_learn_says():
    X, y = iris()
    est = MLPClassifier(hidden_layer_sizes=(7, 5), activation="tanh", random_state=0,
                        max_iter=50).fit(X, y)
    assert list(est.classes_) == [0, 1, 2]
    assert est.n_features_in_ == 4
    assert [W.shape for W in est.coefs_] == [(4, 7), (7, 5), (5, 3)]
    assert [b.shape for b in est.intercepts_] == [(7,), (5,), (3,)]
    assert est.n_layers_ == 4 and est.n_outputs_ == 3 and est.out_activation_ == "softmax"
    assert est.n_iter_ == len(est.loss_curve_) == 50
    assert est.t_ == 50 * len(X)
    assert est.loss_ == est.loss_curve_[-1]
    assert est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    # The weights are the network: predict_proba is the forward pass through coefs_ and intercepts_.
    np.testing.assert_allclose(est.predict_proba(X), forward(est, X), rtol=1e-9, atol=1e-12)
    # The reported loss is the mean log-loss (+ the tiny L2 term) at the epoch's weights.
    assert est.loss_curve_[0] > est.loss_curve_[-1]


def test_binary_multilabel_regression_and_early_stopping_attributes():
    X, y = iris()
    binary = MLPClassifier(random_state=0, max_iter=30).fit(X, y == 2)
    assert binary.out_activation_ == "logistic" and binary.n_outputs_ == 1
    assert binary.predict_proba(X).shape == (150, 2)
    np.testing.assert_allclose(binary.predict_proba(X)[:, 1], forward(binary, X)[:, 0], rtol=1e-9)
    Y = np.stack([y == 0, y == 2], axis=1).astype(int)
    multi = MLPClassifier(random_state=0, max_iter=200).fit(X, Y)
    assert multi.predict(X).shape == (150, 2) and multi.score(X, Y) > 0.8
    Xr, Yr = make_regression(200, 4, n_targets=3, random_state=0)
    reg = MLPRegressor(random_state=0, max_iter=50).fit(Xr, Yr)
    assert reg.predict(Xr).shape == (200, 3) and reg.out_activation_ == "identity"
    np.testing.assert_allclose(reg.predict(Xr), forward(reg, Xr), rtol=1e-8)
    es = MLPClassifier(early_stopping=True, random_state=0, max_iter=500).fit(*iris())
    assert len(es.validation_scores_) == es.n_iter_
    assert es.best_validation_score_ == max(es.validation_scores_)
    assert es.best_loss_ is None and es.n_iter_ < 500


def test_labels_dtypes_and_weights():
    X, y = iris()
    for labels in (np.array(["a", "b", "c"])[y], y + 10, (y == 1)):
        est = MLPClassifier(random_state=0, max_iter=100).fit(X, labels)
        assert set(est.predict(X)) <= set(np.unique(labels))
    assert MLPClassifier(max_iter=5).fit(X.astype(np.float32), y)._net.dtype == "float32"
    assert MLPClassifier(max_iter=5).fit(X, y)._net.dtype == "float64"
    # Class 2 weighted out: it is (almost) never predicted.
    w = np.where(y == 2, 0.0, 1.0)
    assert (MLPClassifier(random_state=0, max_iter=200).fit(X, y, sample_weight=w).predict(X) == 2).mean() < 0.1
    balanced = MLPClassifier(class_weight="balanced", random_state=0, max_iter=100).fit(X, y)
    assert balanced.score(X, y) > 0.9


def test_partial_fit_and_warm_start_continue_training():
    X, y = iris()
    est = MLPClassifier(random_state=0)
    for _ in range(20):
        est.partial_fit(X, y, classes=[0, 1, 2])
    assert est.n_iter_ == 20 and est.loss_curve_[-1] < est.loss_curve_[0]
    warm = MLPClassifier(random_state=0, max_iter=10, warm_start=True).fit(X, y)
    first = warm.coefs_[0].copy()
    warm.fit(X, y)
    assert warm.n_iter_ == 20 and not np.array_equal(first, warm.coefs_[0])


def test_neuron_parameters_on_top():
    X, y = iris()
    est = MLPClassifier(hidden_layer_sizes=(16, 16), activation=["relu", "gelu"], optimizer="adamw",
                        dropout=0.2, label_smoothing=0.1, n_threads=1, random_state=0,
                        batch_size=16, max_iter=300).fit(X, y)
    assert est.score(X, y) > 0.9
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifier(solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="optimizer"):
        MLPClassifier(optimizer="lion").fit(X, y)
    with pytest.raises(ValueError, match="device"):
        MLPClassifier(device="cuda").fit(X, y)


# ----- round trips -----------------------------------------------------------------------------

def test_pickle_joblib_and_model_file_round_trips(tmp_path):
    X, y = iris()
    for est in (MLPClassifier(random_state=0, max_iter=50).fit(X, y),
                MLPRegressor(random_state=0, max_iter=50).fit(X, X[:, 0]),
                MLPClassifier(random_state=0, max_iter=50).fit(X.astype(np.float32), y)):
        want = est.predict(X)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), want)
        joblib.dump(est, tmp_path / "m.joblib")
        np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").predict(X), want)
        est.save(tmp_path / "m.safetensors")
        back = neuron.load(tmp_path / "m.safetensors")
        # Model files hold f32 weights.
        np.testing.assert_allclose(back.predict(X.astype(np.float32)), want, rtol=1e-4, atol=1e-4)


def neuron_bin():
    path = os.environ.get("NEURON_BIN") or os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "target", "release", "neuron")
    assert os.path.exists(path), f"build the command line first (cargo build --release): {path}"
    return path


def test_models_move_between_python_and_the_command_line(tmp_path):
    X, y = iris()
    df = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    df["species"] = np.array(["setosa", "versicolor", "virginica"])[y]
    df.to_csv(tmp_path / "iris.csv", index=False)
    # A model the command line trained, used from Python on raw columns.
    subprocess.run([neuron_bin(), "train", "--data", str(tmp_path / "iris.csv"), "--target",
                    "species", "--out", str(tmp_path / "cli.safetensors"), "--quiet",
                    "--epochs", "30", "--cv-folds", "0"], check=True)
    cli = neuron.load(tmp_path / "cli.safetensors")
    out = subprocess.run([neuron_bin(), "predict", "--model", str(tmp_path / "cli.safetensors"),
                          "--data", str(tmp_path / "iris.csv")], check=True, capture_output=True,
                         text=True).stdout.split()
    assert list(cli.classes_) == ["setosa", "versicolor", "virginica"]
    assert list(cli.predict(df.drop(columns="species"))) == out[1:]
    # A model Python trained, used by the command line.
    est = MLPClassifier(random_state=0, max_iter=100).fit(df.drop(columns="species"), df.species)
    est.save(tmp_path / "py.safetensors")
    out = subprocess.run([neuron_bin(), "predict", "--model", str(tmp_path / "py.safetensors"),
                          "--data", str(tmp_path / "iris.csv")], check=True, capture_output=True,
                         text=True).stdout.split()
    assert list(est.predict(df.drop(columns="species"))) == out[1:]


# ----- bad inputs: the error scikit-learn gives ----------------------------------------------------

BAD = {
    "nan": lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X),
    "inf": lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X),
    "object strings": lambda X: np.full(X.shape, "x", dtype=object),
    "empty": lambda X: X[:0],
    "3-D": lambda X: X.reshape(X.shape[0], 2, 2),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_inputs_raise_what_scikit_learn_raises(case):
    X, y = iris()
    bad = BAD[case](X)
    errors = []
    for cls in (MLPClassifier, SkClassifier):
        with pytest.raises(Exception) as e:
            cls(max_iter=5).fit(bad, y[:len(bad)])
        errors.append(type(e.value))
    assert errors[0] is errors[1], errors


def test_wrong_feature_count_single_class_unfitted_and_non_contiguous():
    X, y = iris()
    est = MLPClassifier(random_state=0, max_iter=20).fit(X, y)
    with pytest.raises(ValueError, match="4 features"):
        est.predict(X[:, :3])
    with pytest.raises(ValueError, match="class"):
        MLPClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(X)
    F = np.asfortranarray(X)
    np.testing.assert_array_equal(est.predict(F), est.predict(X))
    np.testing.assert_array_equal(est.predict(X[::2]), est.predict(X)[::2])


@pytest.mark.parametrize("rows", [1, 10, 1000])
def test_nan_and_inf_at_predict_raise_what_scikit_learn_raises(rows):
    # Arrays already in the network's dtype and layout skip scikit-learn's validation, and the
    # network checks each value as it takes the rows in (in slices, on 2 threads, for 1000 rows).
    X, y = iris()
    est = MLPClassifier(random_state=0, max_iter=20, n_threads=2).fit(X, y)
    sk = SkClassifier(random_state=0, max_iter=20).fit(X, y)
    big = np.ascontiguousarray(np.tile(X, (7, 1))[:rows], dtype=est._net.dtype)
    np.testing.assert_allclose(est.predict_proba(big), est._net.predict(big), rtol=1e-6)
    for value in (np.nan, np.inf, -np.inf):
        bad = big.copy()
        bad[rows - 1, 2] = value
        for method in ("predict", "predict_proba"):
            with pytest.raises(ValueError) as ours:
                getattr(est, method)(bad)
            with pytest.raises(ValueError) as theirs:
                getattr(sk, method)(bad)
            assert str(ours.value) == str(theirs.value)


def test_a_rust_panic_is_a_runtime_error_and_python_lives_on():
    with pytest.raises(RuntimeError, match="deliberate panic"):
        neuron._core._panic_for_tests()
    X, y = iris()
    assert MLPClassifier(max_iter=5).fit(X, y).predict(X).shape == (150,)


# ----- Ctrl-C and threads ----------------------------------------------------------------------

def digits():
    X, y = load_digits(return_X_y=True)
    return np.repeat(X / 16.0, 20, axis=0), np.repeat(y, 20)


def test_ctrl_c_interrupts_within_a_step_and_leaves_a_usable_estimator():
    X, y = digits()
    # No early end (`n_iter_no_change` as large as `max_iter`): on a fast machine the default
    # stopping rule ended the fit before the interrupt came.
    est = MLPClassifier(hidden_layer_sizes=(256,), batch_size=64, max_iter=1000,
                        n_iter_no_change=1000, random_state=0)
    # Python's own Ctrl-C handler, as at an interactive prompt: a process started in the
    # background of a shell script inherits SIGINT ignored, and then no interrupt arrives.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            est.fit(X, y)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.perf_counter() - t0 < 5
    assert est.predict(X[:5]).shape == (5,)


def test_fit_releases_the_gil():
    X, y = digits()
    count = [0]
    done = threading.Event()

    def spin():
        while not done.is_set():
            count[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    t0 = time.perf_counter()
    MLPClassifier(hidden_layer_sizes=(256,), max_iter=3, random_state=0).fit(X, y)
    elapsed = time.perf_counter() - t0
    done.set()
    t.join()
    # A Python loop that held no GIL share during fit would count a few thousand at most.
    assert count[0] > 100_000 * elapsed, (count[0], elapsed)


def test_a_regressor_and_a_classifier_match_scikit_learn_on_the_same_settings():
    X, y = make_classification(600, 10, n_informative=6, random_state=0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    ours = MLPClassifier(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    theirs = SkClassifier(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= theirs - 0.03
    X, y = make_regression(600, 10, noise=5, random_state=0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    ours = MLPRegressor(random_state=0, max_iter=500).fit(Xtr, ytr).score(Xte, yte)
    theirs = SkRegressor(random_state=0, max_iter=500).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= theirs - 0.01
