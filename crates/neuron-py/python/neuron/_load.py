"""Reading model files (from the command line or ``est.save``) as fitted estimators."""

import json

import numpy as np
from sklearn.preprocessing import LabelBinarizer

from . import _core
from .sklearn import MLPClassifier, MLPRegressor

_ACTIVATIONS = {"identity": "identity", "sigmoid": "logistic", "tanh": "tanh", "relu": "relu",
                "leaky_relu": "leaky_relu", "gelu": "gelu"}


def _architecture(layers):
    """Hidden widths, activations and dropout of an MLP-shaped layer list."""
    hidden, acts, dropout = [], [], 0.0
    dense = [layer for layer in layers if layer["type"] == "dense"]
    for i, layer in enumerate(layers):
        if layer["type"] == "dense" and layer is not dense[-1]:
            hidden.append(layer["outputs"])
            nxt = layers[i + 1] if i + 1 < len(layers) else {}
            act = nxt.get("activation", {}).get("kind", "identity") if nxt.get("type") == "activation" \
                else "identity"
            acts.append(_ACTIVATIONS.get(act.replace("-", "_"), act))
        elif layer["type"] == "dropout":
            dropout = layer["p"]
        elif layer["type"] == "softmax":
            raise ValueError("models with a softmax layer are not supported from Python yet")
    return hidden, acts, dropout


def load(path, n_threads=None):
    """A fitted ``MLPClassifier`` or ``MLPRegressor`` from a model file.

    A model trained by ``neuron train`` on a CSV keeps its preprocessing: ``predict`` then takes the
    raw columns (a pandas DataFrame with the training column names, or an array in that order), as
    ``neuron predict`` does.
    """
    net, meta = _core.load(str(path), n_threads or 0)
    meta = json.loads(meta)
    hidden, acts, dropout = _architecture(meta["layers"])
    loss = {"binary_cross_entropy": "bce"}.get(meta["loss"]["kind"], meta["loss"]["kind"])
    pre = meta.get("preprocessing")
    cls = MLPRegressor if loss == "mse" else MLPClassifier
    est = cls(hidden_layer_sizes=tuple(hidden), activation=acts, dropout=dropout)
    est._net = net
    est._loss_name = loss
    est.n_features_in_ = len(pre["columns"]) if pre else meta["input_dim"]
    est.n_iter_ = int((meta.get("provenance") or {}).get("epochs_run") or 0) \
        if isinstance(meta.get("provenance"), dict) else 0
    est.loss_curve_ = []
    provenance = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    if loss != "mse":
        labels = pre["target"]["labels"] if pre and pre["target"]["kind"] == "classes" \
            else list(range(max(2, net.params()[-1].shape[0])))
        if "classes" in provenance and len(provenance["classes"]) == len(labels):
            labels = provenance["classes"]
        est._label_binarizer = LabelBinarizer().fit(np.asarray(labels))
        est.classes_ = est._label_binarizer.classes_
    if pre is not None and not _plain(pre):
        est._pre_json = json.dumps(pre)
    if pre is not None and pre["target"]["kind"] == "value":
        est._target_scale = (pre["target"]["mean"], pre["target"]["std"])
    est._update_attributes()
    return est


def _plain(pre):
    """Whether the preprocessing leaves numeric inputs as they are."""
    return all(c["kind"] == "numeric" and c["mean"] == 0.0 and c["std"] == 1.0 and not c.get("clip")
               for c in pre["columns"]) and not pre.get("image")
