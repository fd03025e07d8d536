"""Gunshot classifiers: features of one impulse -> probability that it is gunfire.

Inference is plain numpy.  The shipped model's weights live in ``dsp/classifier_weights.json``, written by
``python training/train_classifier.py`` (one command, seeded).  Classifiers sit behind :data:`CLASSIFIERS`:

- ``logistic``: the shipped model (logistic regression, or a one-hidden-layer MLP, on transformed features);
  when the weights file is absent it returns NaN, meaning "unknown".
- ``none``: always NaN (no classification).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from dsp.features import FEATURE_NAMES, Features
from salvo.errors import ConfigError

WEIGHTS_PATH = Path(__file__).with_name("classifier_weights.json")

#: Features whose logarithm the model sees (times and a ratio that span decades).
LOG_FEATURES = ("rise_s", "pulse_s", "width_s", "duration_s", "centroid_hz", "bandwidth_hz", "gap_s")
#: Features the model leaves out: absolute level says how far the source was, not what it was.
EXCLUDED = ("peak_dbfs", "clipped_frac", "snr_db")


#: Columns of the raw feature rows that the model sees, in order, and which of those it sees as log10.
_INPUT_COLS = np.array([i for i, n in enumerate(FEATURE_NAMES) if n not in EXCLUDED])
_LOG_MASK = np.array([FEATURE_NAMES[i] in LOG_FEATURES for i in _INPUT_COLS])


def model_inputs(x: np.ndarray) -> np.ndarray:
    """Map raw feature rows (..., len(FEATURE_NAMES)) to the model's inputs (..., n_inputs)."""
    z = np.asarray(x, dtype=np.float64)[..., _INPUT_COLS]
    return np.where(_LOG_MASK, np.log10(np.maximum(z, 1e-6)), z)


#: Names of the model inputs, in order.
INPUT_NAMES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n not in EXCLUDED)


class Classifier(Protocol):
    """What a classifier provides."""

    def predict(self, features: Features) -> float:
        """Probability (0..1) that the impulse is gunfire, or NaN when unknown."""
        ...


@dataclass(frozen=True, slots=True)
class NoClassifier:
    """Always NaN: classification unknown."""

    def predict(self, features: Features) -> float:
        return float("nan")


@dataclass(frozen=True, slots=True)
class NeuralModel:
    """Standardisation followed by dense layers (tanh hidden, logistic output); no hidden layer = logistic regression.

    Attributes
    ----------
    mean, scale : ndarray, shape (n_inputs,)
        Standardisation of the model inputs.
    layers : tuple of (W, b)
        Dense layers; ``W`` has shape (n_in, n_out).
    """

    mean: np.ndarray
    scale: np.ndarray
    layers: tuple

    def predict_many(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for raw feature rows, shape (n, len(FEATURE_NAMES)) -> (n,)."""
        h = (model_inputs(x) - self.mean) / self.scale
        h = np.nan_to_num(h, nan=0.0, posinf=10.0, neginf=-10.0)
        for k, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if k < len(self.layers) - 1:
                h = np.tanh(h)
        z = np.clip(h[..., 0], -50, 50)
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, features: Features) -> float:
        return float(self.predict_many(features.as_array()[None, :])[0])

    def to_json(self) -> dict:
        """The JSON form written by the training script."""
        return {"inputs": list(INPUT_NAMES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "layers": [{"W": w.tolist(), "b": b.tolist()} for w, b in self.layers]}

    @classmethod
    def from_json(cls, doc: dict, path: object = "<json>") -> "NeuralModel":
        """Build from :meth:`to_json`'s form; ConfigError naming ``path`` when it does not fit."""
        try:
            if list(doc["inputs"]) != list(INPUT_NAMES):
                raise ConfigError(f"{path}: inputs: trained on {doc['inputs']}, this code has {list(INPUT_NAMES)}")
            layers = tuple((np.asarray(l["W"], float), np.asarray(l["b"], float)) for l in doc["layers"])
            return cls(np.asarray(doc["mean"], float), np.asarray(doc["scale"], float), layers)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: malformed classifier weights ({exc})") from exc


@lru_cache(maxsize=4)
def _load(path: str) -> Classifier:
    p = Path(path)
    if not p.is_file():
        return NoClassifier()
    try:
        doc = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read classifier weights ({exc})") from exc
    return NeuralModel.from_json(doc["model"] if "model" in doc else doc, p)


def shipped() -> Classifier:
    """The model in ``dsp/classifier_weights.json`` (NoClassifier when absent)."""
    return _load(str(WEIGHTS_PATH))


#: Registry: name -> factory of a classifier.
CLASSIFIERS: dict[str, Callable[[], Classifier]] = {"logistic": shipped, "none": NoClassifier}


def get_classifier(name: str) -> Classifier:
    """The classifier registered as ``name``; ConfigError naming the field when unknown."""
    try:
        return CLASSIFIERS[name]()
    except KeyError:
        raise ConfigError(f"DetectorConfig: classifier: unknown {name!r}; known: {sorted(CLASSIFIERS)}") from None

