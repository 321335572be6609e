"""Drop-in replacements for scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

    from neuron.sklearn import MLPClassifier   # instead of sklearn.neural_network

The constructors take scikit-learn's parameters with its defaults, and the fitted estimators have
its attributes (``classes_``, ``coefs_``, ``intercepts_``, ``loss_``, ``loss_curve_``,
``n_iter_``, ...). Training runs in neuron's Rust engine with the GIL released.

Differences, all deliberate:

- ``solver='lbfgs'`` is not available (neuron trains with mini-batch optimizers); using it raises
  ``ValueError``. ``max_fun`` is accepted and has no effect.
- The L2 penalty ``alpha`` also applies to the biases (scikit-learn leaves them out).
- SGD momentum is PyTorch's form (velocity of gradients), which equals scikit-learn's while the
  learning rate is constant.

neuron's own parameters on top: ``dropout`` (after each hidden layer), ``optimizer`` (``adamw``,
``rmsprop``, ``momentum``, ``nesterov``, ``sgd``, ``adam``; overrides ``solver``),
``label_smoothing`` and ``class_weight`` (classifier), a list for ``activation`` (one per hidden
layer; also ``leaky_relu`` and ``gelu``), ``n_threads`` (default: every core) and ``device``.
"""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

from ._mlp import BaseMLP

__all__ = ["MLPClassifier", "MLPRegressor"]


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier with scikit-learn's interface, trained by neuron.

    Parameters are scikit-learn's ``MLPClassifier``'s (same names, same defaults), plus
    ``dropout``, ``optimizer``, ``label_smoothing``, ``class_weight``, ``n_threads`` and
    ``device``; see the module docstring for what differs.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, dropout=0.0, optimizer=None,
                 label_smoothing=0.0, class_weight=None, n_threads=None, device="cpu"):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha,
                         batch_size=batch_size, learning_rate=learning_rate,
                         learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
                         shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
                         dropout=dropout, optimizer=optimizer, n_threads=n_threads, device=device)
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Trains on `X` with labels `y` (strings, integers or booleans; or a label-indicator
        matrix for multi-label) for up to ``max_iter`` epochs."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over `X`, `y`; `classes` (every label) is required on the first call."""
        if self.solver == "lbfgs":
            raise ValueError("partial_fit is only available for the mini-batch solvers ('adam', 'sgd').")
        first = not hasattr(self, "_net")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if first:
            self._classes_hint = np.asarray(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def _fit(self, X, y, sample_weight, incremental):
        self._validate_hyperparameters()
        _in = "label_smoothing"
        if not (0 <= self.label_smoothing < 1):
            raise ValueError(f"{_in} must be in [0, 1), got {self.label_smoothing!r}.")
        continuing = hasattr(self, "_net") and (self.warm_start or incremental)
        X, y = self._validate_X_y(X, y, reset=not continuing, y_numeric=False)
        check_classification_targets(y)
        Y = self._encode_targets(y, continuing)
        w = self._weights(sample_weight, X)
        if self.class_weight is not None:
            cw = compute_sample_weight(self.class_weight, y).astype(X.dtype)
            w = cw if w is None else w * cw
        if not continuing:
            self._build(X.shape[1], self._n_out, X.dtype)
        elif self._net.dtype != X.dtype.name:
            X = X.astype(self._net.dtype)
        Y = np.ascontiguousarray(Y, dtype=self._net.dtype)
        if w is not None:
            w = np.ascontiguousarray(w, dtype=self._net.dtype)
        epochs = 1 if incremental else self.max_iter
        self._fit_epochs(X, Y, w, epochs, incremental)
        return self

    def _encode_targets(self, y, continuing):
        """The core's targets: class indices (softmax), or 0/1 columns (one logistic output for
        two classes, one per label for multi-label)."""
        if not continuing:
            hint = getattr(self, "_classes_hint", None)
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(hint if hint is not None else y)
            self.classes_ = self._label_binarizer.classes_
            kind = type_of_target(y)
            if kind == "multilabel-indicator":
                self._loss_name = "bce"
                self._n_out = y.shape[1]
            elif len(self.classes_) < 2:
                raise ValueError("MLPClassifier needs samples of at least 2 classes in the data, but "
                                 f"the data contain only one class: {self.classes_[0]!r}.")
            elif len(self.classes_) == 2:
                self._loss_name, self._n_out = "bce", 1
            else:
                self._loss_name, self._n_out = "cross_entropy", len(self.classes_)
        else:
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if len(unseen):
                raise ValueError(f"`y` has classes not in `self.classes_`: {list(unseen)} "
                                 f"(classes: {list(self.classes_)}).")
        if self._loss_name == "cross_entropy":
            return np.searchsorted(self.classes_, y).reshape(-1, 1)
        return self._label_binarizer.transform(y)

    def _stratify(self, Y):
        return Y if self._loss_name != "bce" or Y.shape[1] == 1 else None

    def _validation_score(self, X, Y, w):
        pred = self._net.predict(np.ascontiguousarray(X, dtype=self._net.dtype))
        if self._loss_name == "cross_entropy":
            return accuracy_score(Y.ravel(), pred.argmax(axis=1), sample_weight=w)
        return accuracy_score(Y, (pred > 0.5).astype(int), sample_weight=w)

    def predict_proba(self, X):
        """Class probabilities `[n, classes]` (for multi-label, each label's probability)."""
        P = self._outputs(X)
        if self._loss_name == "bce" and len(self.classes_) == 2 and P.shape[1] == 1 \
                and not self._multilabel():
            return np.hstack([1 - P, P])
        return P

    def _multilabel(self):
        return self._label_binarizer.y_type_ == "multilabel-indicator"

    def predict_log_proba(self, X):
        """The logarithm of `predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row (for multi-label, the labels whose probability
        exceeds 0.5, as an indicator matrix)."""
        P = self._outputs(X)
        if self._multilabel():
            return (P > 0.5).astype(int)
        if P.shape[1] == 1:
            return self.classes_[(P[:, 0] > 0.5).astype(int)]
        return self.classes_[P.argmax(axis=1)]

    def _preprocessing(self):
        if self._multilabel():
            return None
        names = [str(n) for n in getattr(self, "feature_names_in_", range(self.n_features_in_))]
        return {"columns": [{"kind": "numeric", "name": n if hasattr(self, "feature_names_in_")
                             else f"x{n}", "mean": 0.0, "std": 1.0, "fill": None} for n in names],
                "target": {"kind": "classes", "name": "y", "labels": [str(c) for c in self.classes_]},
                "standardize": False, "impute": None}


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor with scikit-learn's interface, trained by neuron.

    Parameters are scikit-learn's ``MLPRegressor``'s (same names, same defaults), plus
    ``dropout``, ``optimizer``, ``n_threads`` and ``device``; see the module docstring for what
    differs.
    """

    _loss_name = "mse"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Trains on `X` with targets `y` (one or several columns) for up to ``max_iter`` epochs."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over `X`, `y`."""
        if self.solver == "lbfgs":
            raise ValueError("partial_fit is only available for the mini-batch solvers ('adam', 'sgd').")
        return self._fit(X, y, sample_weight, incremental=True)

    def _fit(self, X, y, sample_weight, incremental):
        self._validate_hyperparameters()
        continuing = hasattr(self, "_net") and (self.warm_start or incremental)
        X, y = self._validate_X_y(X, y, reset=not continuing, y_numeric=True)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        w = self._weights(sample_weight, X)
        if not continuing:
            self._build(X.shape[1], Y.shape[1], X.dtype)
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, but the model was trained with "
                             f"{self.n_outputs_}.")
        dtype = self._net.dtype
        X = np.ascontiguousarray(X, dtype=dtype)
        Y = np.ascontiguousarray(Y, dtype=dtype)
        if w is not None:
            w = np.ascontiguousarray(w, dtype=dtype)
        self.n_outputs_ = Y.shape[1]
        self._fit_epochs(X, Y, w, 1 if incremental else self.max_iter, incremental)
        return self

    def _stratify(self, Y):
        return None

    def _validation_score(self, X, Y, w):
        pred = self._net.predict(np.ascontiguousarray(X, dtype=self._net.dtype))
        return r2_score(Y, pred, sample_weight=w)

    def predict(self, X):
        """Predicted values: `[n]` for one output, `[n, outputs]` for several."""
        P = self._outputs(X)
        if getattr(self, "_target_scale", None) is not None:
            mean, std = self._target_scale
            P = P * std + mean
        return P.ravel() if P.shape[1] == 1 else P

    def _preprocessing(self):
        if self.n_outputs_ != 1:
            return None
        names = getattr(self, "feature_names_in_", None)
        names = [str(n) for n in names] if names is not None else [f"x{i}" for i in
                                                                     range(self.n_features_in_)]
        return {"columns": [{"kind": "numeric", "name": n, "mean": 0.0, "std": 1.0, "fill": None}
                            for n in names],
                "target": {"kind": "value", "name": "y", "mean": 0.0, "std": 1.0},
                "standardize": False, "impute": None}
