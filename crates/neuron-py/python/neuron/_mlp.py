"""The training loop shared by the scikit-learn estimators: parameters, data validation, the epoch
loop with scikit-learn's stopping rules, fitted attributes, pickling and model files.

Each epoch is trained in Rust (``_core.Net.fit_epoch``, the library's training loop, with the GIL
released); Python decides between epochs what scikit-learn's MLP decides there: convergence on
``tol`` and ``n_iter_no_change``, early stopping on a validation split, the ``adaptive`` and
``invscaling`` learning rates.
"""

import json
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _core

_SK_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                   "leaky_relu": "leaky-relu", "gelu": "gelu", "sigmoid": "sigmoid"}
# The network's dtype names as NumPy dtypes: `X.dtype is _DTYPES[...]` is a pointer comparison,
# where `X.dtype.name` builds a string (about 2 µs, a sixth of predicting one row).
_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}
_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")


def _positive_int(name, v, minimum=1):
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}.")


def _in_range(name, v, lo, hi, lo_open=False, hi_open=True):
    ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)
    ok = ok and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        raise ValueError(f"{name} must be a number in {'(' if lo_open else '['}{lo}, {hi}"
                         f"{')' if hi_open else ']'}, got {v!r}.")


class BaseMLP(BaseEstimator):
    """What the classifier and the regressor share. See their docstrings for the parameters."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, dropout=0.0, optimizer=None,
                 n_threads=None, device="cpu"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.optimizer = optimizer
        self.n_threads = n_threads
        self.device = device

    # ----- parameters -------------------------------------------------------------------------

    def _hidden(self):
        h = self.hidden_layer_sizes
        h = [h] if isinstance(h, numbers.Integral) else list(h)
        for v in h:
            _positive_int("hidden_layer_sizes", v)
        return h

    def _activations(self, n_hidden):
        acts = self.activation
        acts = [acts] * n_hidden if isinstance(acts, str) else list(acts)
        if len(acts) != n_hidden:
            raise ValueError(f"activation has {len(acts)} entries for {n_hidden} hidden layers.")
        for a in acts:
            if a not in _SK_ACTIVATIONS:
                raise ValueError(f"activation must be one of {sorted(_SK_ACTIVATIONS)}, got {a!r}.")
        return [_SK_ACTIVATIONS[a] for a in acts]

    def _validate_hyperparameters(self):
        if self.solver == "lbfgs":
            raise ValueError("solver='lbfgs' is not available in neuron: it trains with mini-batch "
                             "optimizers only. Use solver='adam' (the default) or 'sgd'.")
        if self.solver not in ("adam", "sgd"):
            raise ValueError(f"solver must be 'adam' or 'sgd', got {self.solver!r}.")
        if self.optimizer is not None and self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS} or None, got {self.optimizer!r}.")
        if self.learning_rate not in ("constant", "invscaling", "adaptive"):
            raise ValueError(f"learning_rate must be 'constant', 'invscaling' or 'adaptive', "
                             f"got {self.learning_rate!r}.")
        _positive_int("max_iter", self.max_iter)
        _positive_int("n_iter_no_change", self.n_iter_no_change)
        _positive_int("max_fun", self.max_fun)
        if not (self.batch_size == "auto" or isinstance(self.batch_size, numbers.Integral)):
            raise ValueError(f"batch_size must be 'auto' or an integer, got {self.batch_size!r}.")
        _in_range("alpha", self.alpha, 0, np.inf)
        _in_range("learning_rate_init", self.learning_rate_init, 0, np.inf, lo_open=True)
        _in_range("power_t", self.power_t, 0, np.inf)
        _in_range("tol", self.tol, 0, np.inf)
        _in_range("momentum", self.momentum, 0, 1, hi_open=False)
        _in_range("validation_fraction", self.validation_fraction, 0, 1, lo_open=True)
        _in_range("beta_1", self.beta_1, 0, 1)
        _in_range("beta_2", self.beta_2, 0, 1)
        _in_range("epsilon", self.epsilon, 0, np.inf, lo_open=True)
        _in_range("dropout", self.dropout, 0, 1)
        for flag in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise ValueError(f"{flag} must be a boolean, got {getattr(self, flag)!r}.")
        if self.n_threads is not None:
            _positive_int("n_threads", self.n_threads)
        if self.device != "cpu":
            raise ValueError(f"device must be 'cpu' in this build, got {self.device!r}.")

    def _rule(self):
        """The optimizer's name for the core."""
        if self.optimizer is not None:
            return self.optimizer
        if self.solver == "adam":
            return "adam"
        if self.momentum == 0:
            return "sgd"
        return "nesterov" if self.nesterovs_momentum else "momentum"

    # ----- data -------------------------------------------------------------------------------

    def _validate_X_y(self, X, y, reset, y_numeric):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=y_numeric, dtype=(np.float64, np.float32), reset=reset)
        if sp.issparse(X):
            X = X.toarray()
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return np.ascontiguousarray(X), y

    def _validate_X_predict(self, X):
        net = getattr(self, "_net", None)
        if net is None:
            check_is_fitted(self, "_net")
        if getattr(self, "_pre_json", None) is not None:
            return self._encode_raw(X)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32),
                          reset=False)
        if sp.issparse(X):
            X = X.toarray()
        return np.ascontiguousarray(X, dtype=self._net.dtype)

    def _ready(self, X, net):
        """Whether `X` is already what the network takes (a C-contiguous array of its dtype and
        width, and no feature names to check), so that scikit-learn's validation, which costs more
        than predicting a few rows, can be skipped. The network then checks that every value is
        finite as it takes the rows in; anything else goes through scikit-learn's validation."""
        return (type(X) is np.ndarray and X.ndim == 2 and X.shape[0] > 0
                and X.shape[1] == self.n_features_in_ and X.dtype is _DTYPES.get(net.dtype)
                and X.flags.c_contiguous and not hasattr(self, "feature_names_in_")
                and getattr(self, "_pre_json", None) is None)

    def _outputs(self, X):
        """The network's outputs for `X`: straight from the network when `X` is ready for it and
        finite, otherwise once scikit-learn's validation has accepted it (or explained why not)."""
        net = getattr(self, "_net", None)
        if net is not None and self._ready(X, net):
            P = net.predict(X, True)
            if P is not None:
                return P
        X = self._validate_X_predict(X)
        return self._net.predict(X)

    def _encode_raw(self, X):
        """Raw columns through a model file's stored preprocessing, as `neuron predict` does."""
        names = [c["name"] for c in json.loads(self._pre_json)["columns"]]
        if hasattr(X, "columns"):
            headers = [str(c) for c in X.columns]
            rows = [[_text(v) for v in row] for row in X.itertuples(index=False)]
        else:
            A = np.asarray(X, dtype=object)
            if A.ndim != 2 or A.shape[1] != len(names):
                raise ValueError(f"X must have {len(names)} columns ({', '.join(names)}), "
                                 f"got shape {A.shape}.")
            headers, rows = names, [[_text(v) for v in row] for row in A]
        x, unseen = _core.encode(self._pre_json, headers, rows)
        for column, cells in unseen:
            warnings.warn(f"column {column!r}: {cells} cell(s) with categories not seen in training "
                          "were encoded as all zeros")
        return np.ascontiguousarray(x, dtype=self._net.dtype)

    def _weights(self, sample_weight, X):
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)

    # ----- the network ------------------------------------------------------------------------

    def _seed(self, offset=0):
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2**31 - 1)) + offset
        if rs is None:
            return int(np.random.randint(0, 2**31 - 1)) + offset
        return int(rs) + offset

    def _build(self, n_in, n_out, dtype):
        hidden = self._hidden()
        self._net = _core.Net(n_in, hidden, self._activations(len(hidden)), n_out, self._loss_name,
                              self._seed(), self.n_threads or 0, np.dtype(dtype).name,
                              float(self.dropout), float(getattr(self, "label_smoothing", 0.0)))
        self._net.set_params(self._initial_params(n_in, hidden, n_out, dtype))
        self._shuffle_seed = self._seed(1)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self._lr = float(self.learning_rate_init)
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _initial_params(self, n_in, hidden, n_out, dtype):
        """scikit-learn's initialisation, draw for draw: for each layer, weights then biases from
        U(-b, b) with b = sqrt(f / (fan_in + fan_out)), f = 2 after a logistic activation and 6
        otherwise, from `random_state`. The same random_state starts from the same weights as
        scikit-learn's MLP."""
        rs = check_random_state(self.random_state)
        acts = [self.activation] * (len(hidden) + 1) if isinstance(self.activation, str) \
            else list(self.activation) + [None]
        sizes = [n_in] + hidden + [n_out]
        params = []
        for fan_in, fan_out, act in zip(sizes[:-1], sizes[1:], acts):
            bound = np.sqrt((2.0 if act == "logistic" else 6.0) / (fan_in + fan_out))
            W = rs.uniform(-bound, bound, (fan_in, fan_out))
            b = rs.uniform(-bound, bound, fan_out)
            params += [np.ascontiguousarray(W.T, dtype=dtype), b.astype(dtype)]
        return params

    def _scales(self, n_out, batch):
        """Learning rate and weight decay for the core from scikit-learn's. Its gradient of the mean
        squared error is (p - y)/n and of the binary log-loss (p - y)/n; neuron's are 2(p - y)/(n c)
        and (p - y)/(n c), a factor f smaller or larger. alpha/n is added to scikit-learn's weight
        gradient, so f·alpha/n to neuron's; the plain and momentum SGD rules, whose steps scale with
        the gradient, take the learning rate divided by f (Adam and RMSprop normalise it away)."""
        factor = {"mse": 2.0 / n_out, "bce": 1.0 / n_out}.get(self._loss_name, 1.0)
        lr = self._lr / factor if self._rule() in ("sgd", "momentum", "nesterov") else self._lr
        return lr, factor * self.alpha / batch

    def _set_optimizer(self, n_out, batch):
        lr, wd = self._scales(n_out, batch)
        self._net.set_optimizer(self._rule(), lr, wd, self.momentum, self.beta_1, self.beta_2,
                                self.epsilon, None)

    # ----- the loop ---------------------------------------------------------------------------

    def _fit_epochs(self, X, Y, w, epochs, incremental):
        """Trains up to `epochs` epochs with scikit-learn's stopping rules; Ctrl-C keeps the weights
        so far and raises KeyboardInterrupt."""
        n = X.shape[0]
        val = None
        if self.early_stopping and not incremental:
            X, Y, w, val = self._split_validation(X, Y, w)
            n = X.shape[0]
        batch = self._batch_size(n)
        # Sample weights count as repeated rows: the penalty is alpha / (weight of a batch).
        weight = float(w.sum()) if w is not None else float(n)
        for _ in range(epochs):
            self._set_optimizer(Y.shape[1], batch * weight / n)
            loss, interrupted = self._net.fit_epoch(X, Y, w, batch, bool(self.shuffle),
                                                    self._shuffle_seed)
            if interrupted:
                self._update_attributes()
                raise KeyboardInterrupt("training interrupted; the estimator keeps the weights so far")
            self.n_iter_ += 1
            self.t_ += n
            self.loss_curve_.append(self._sklearn_loss(loss, weight, np.ceil(n / batch), Y.shape[1]))
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_curve_[-1]:.8f}")
            self._track_improvement(val)
            if self.learning_rate == "invscaling" and self.solver == "sgd":
                self._lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t
            if incremental or not self._keep_going():
                break
        else:
            if not incremental and self.n_iter_ >= self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                              "the optimization hasn't converged yet.", ConvergenceWarning)
        if self.early_stopping and getattr(self, "_best_params", None) is not None:
            self._net.set_params(self._best_params)
        self._update_attributes()

    def _keep_going(self):
        if self._no_improvement_count <= self.n_iter_no_change:
            return True
        if self.learning_rate == "adaptive" and self.solver == "sgd" and self._lr > 1e-6:
            self._lr /= 5.0
            self._no_improvement_count = 0
            if self.verbose:
                print(f"Setting learning rate to {self._lr:f}")
            return True
        if self.verbose:
            what = "Validation score" if self.early_stopping else "Training loss"
            print(f"{what} did not improve more than tol={self.tol} for {self.n_iter_no_change} "
                  "consecutive epochs. Stopping.")
        return False

    def _track_improvement(self, val):
        if self.early_stopping and val is not None:
            score = self._validation_score(*val)
            self.validation_scores_.append(score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._net.params()
            return
        last = self.loss_curve_[-1]
        if self.best_loss_ is None:
            self.best_loss_ = np.inf
        if last > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if last < self.best_loss_:
            self.best_loss_ = last

    def _split_validation(self, X, Y, w):
        stratify = self._stratify(Y)
        parts = train_test_split(X, Y, *([w] if w is not None else []),
                                 random_state=self._seed(2), test_size=self.validation_fraction,
                                 stratify=stratify)
        if w is None:
            X_tr, X_val, Y_tr, Y_val = parts
            w_tr = w_val = None
        else:
            X_tr, X_val, Y_tr, Y_val, w_tr, w_val = parts
        if X_val.shape[0] < 2:
            raise ValueError(f"The validation set is too small: {X_val.shape[0]} samples with "
                             f"validation_fraction={self.validation_fraction}.")
        return (np.ascontiguousarray(X_tr), np.ascontiguousarray(Y_tr),
                None if w_tr is None else np.ascontiguousarray(w_tr), (X_val, Y_val, w_val))

    def _batch_size(self, n):
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size < 1 or self.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to "
                          "be clipped")
        return int(np.clip(self.batch_size, 1, n))

    def _sklearn_loss(self, loss, weight, batches, c):
        """The epoch's loss as scikit-learn reports it: its convention for the data term, plus the
        L2 penalty 0.5·alpha·‖W‖² of each batch over the batch's weight, averaged over the epoch
        (of total weight `weight`)."""
        data = {"mse": loss / 2.0, "bce": loss * c}.get(self._loss_name, loss)
        weights = self._net.params()[0::2]
        penalty = 0.5 * self.alpha * sum(float(np.dot(W.ravel(), W.ravel())) for W in weights)
        return float(data + penalty * batches / weight)

    def _update_attributes(self):
        params = self._net.params()
        self.coefs_ = [np.ascontiguousarray(W.T) for W in params[0::2]]
        self.intercepts_ = list(params[1::2])
        self.n_layers_ = len(self.coefs_) + 1
        self.n_outputs_ = self.coefs_[-1].shape[1]
        self.out_activation_ = {"cross_entropy": "softmax", "bce": "logistic",
                                "mse": "identity"}[self._loss_name]
        if self.loss_curve_:
            self.loss_ = self.loss_curve_[-1]

    # ----- pickling and files -----------------------------------------------------------------

    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        state = dict(state)
        net = state.pop("_net", None)
        if net is not None:
            state["_net_state"] = {"params": net.params(), "dtype": net.dtype}
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop("_net_state", None)
        if hasattr(super(), "__setstate__"):
            super().__setstate__(state)
        else:
            self.__dict__.update(state)
        if saved is not None:
            self._net = self._rebuild_net(saved["dtype"])
            self._net.set_params(saved["params"])

    def _rebuild_net(self, dtype):
        hidden = self._hidden()
        return _core.Net(self.n_features_in_, hidden, self._activations(len(hidden)),
                         self.n_outputs_, self._loss_name, 0, self.n_threads or 0, dtype,
                         float(self.dropout), float(getattr(self, "label_smoothing", 0.0)))

    def save(self, path):
        """Writes the model file `neuron predict`, `eval` and `summary` read (safetensors)."""
        check_is_fitted(self, "_net")
        provenance = {"python": type(self).__name__, "params": _jsonable(self.get_params()),
                      "epochs_run": self.n_iter_}
        if hasattr(self, "classes_"):
            # The labels with their Python type (the file's own labels are strings).
            provenance["classes"] = self.classes_.tolist()
        _core.save(self._net, str(path), json.dumps(self._preprocessing()), json.dumps(provenance))


def _text(v):
    """A cell as the CSV reader would have seen it."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return str(v)


def _jsonable(params):
    out = {}
    for k, v in params.items():
        try:
            json.dumps(v)
            out[k] = v
        except TypeError:
            out[k] = repr(v)
    return out
