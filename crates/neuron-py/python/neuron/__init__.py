"""neuron: feed-forward neural networks on a Rust engine.

- ``neuron.sklearn.MLPClassifier`` / ``MLPRegressor``: drop-in replacements for scikit-learn's.
- ``neuron.load(path)``: a model file written by ``neuron train`` or by ``est.save(path)``, as a
  fitted estimator.
"""

from . import _core
from ._load import load

__version__ = _core.__version__
__all__ = ["load", "__version__"]
