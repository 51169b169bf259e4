"""Prototype heads without training: zero-shot from interest texts, few-shot from a few examples.

- Zero-shot: an interest's prototype is the mean of its embedded texts (``"Name: description"``,
  then the name and each keyword, which together weigh as much as the description),
  made unit length.
- Few-shot: an interest's prototype is the centroid of its examples' unit features, with
  the zero-shot prototype counted as one more example (an interest without examples keeps
  its zero-shot prototype). Refitting is a mean per interest: milliseconds once the
  features are there.
- Calibration: the softmax temperature that minimises the negative log-likelihood of the
  examples' labels (``calibration.fit_temperature``). For few-shot heads it is fitted on
  leave-one-out probabilities (each example scored by prototypes built without it), and
  the reported metrics are leave-one-out too, so they are not measured on what was fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calibration import apply_temperature, fit_temperature
from .metrics import top_k_accuracy
from .prototypes import DEFAULT_SCALE, softmax, unit_rows


def prompt_texts(interest) -> tuple[list[str], list[float]]:
    """The texts embedded for one interest and their weights (summing to 1)."""
    rest = [interest.name, *interest.keywords]
    return [f"{interest.name}: {interest.description}", *rest], [0.5] + [0.5 / len(rest)] * len(rest)


def zero_shot_prototypes(embed, interests) -> np.ndarray:
    """``(interests, dim)`` unit prototypes; ``embed(texts) -> (n, dim)`` is the frozen text encoder."""
    texts, owners, weights = [], [], []
    for index, interest in enumerate(interests):
        found, share = prompt_texts(interest)
        texts.extend(found)
        owners.extend([index] * len(found))
        weights.extend(share)
    vectors = unit_rows(embed(texts)) * np.asarray(weights, np.float32)[:, None]
    out = np.zeros((len(interests), vectors.shape[1]), np.float32)
    np.add.at(out, np.asarray(owners), vectors)
    return unit_rows(out)


def centroids(features, y, n_labels: int, prior=None) -> np.ndarray:
    """Unit centroid per label of unit ``features``; ``prior`` rows count as one more example each."""
    features = unit_rows(features)
    sums = np.zeros((n_labels, features.shape[1]), np.float64)
    np.add.at(sums, np.asarray(y, int), features)
    if prior is not None:
        sums += unit_rows(prior)
    return unit_rows(sums)


def leave_one_out_probs(features, y, n_labels: int, prior=None, scale: float = DEFAULT_SCALE) -> np.ndarray:
    """Each example's probabilities under prototypes built without it (uncalibrated)."""
    features = unit_rows(features)
    y = np.asarray(y, int)
    sums = np.zeros((n_labels, features.shape[1]), np.float64)
    np.add.at(sums, y, features)
    if prior is not None:
        sums += unit_rows(prior)
    protos = unit_rows(sums)
    logits = features @ protos.T
    for i, label in enumerate(y):
        own = sums[label] - features[i]
        norm = np.linalg.norm(own)
        logits[i, label] = float(features[i] @ own / norm) if norm > 1e-9 else -1.0  # nothing left: no evidence
    return softmax(logits / scale)


@dataclass
class Fitted:
    """A head's prototypes, temperature and, when examples were given, what they measure."""

    prototypes: np.ndarray
    temperature: float
    kind: str  # zero-shot or few-shot
    metrics: dict
    examples: int

    def describe(self) -> str:
        if not self.metrics:
            return f"{self.kind}, no examples (temperature 1)"
        how = "leave-one-out on" if self.kind == "few-shot" else "on"
        return (f"{self.kind}; {how} {self.examples} examples: top-1 {self.metrics['examples_top1']:.3f}, "
                f"top-5 {self.metrics['examples_top5']:.3f}, NLL {self.metrics['examples_nll']:.3f} "
                f"(temperature {self.temperature:.3g})")


def _metrics(probs, y, temperature) -> dict:
    calibrated = apply_temperature(probs, temperature)
    nll = -float(np.mean(np.log(np.clip(calibrated[np.arange(len(y)), y], 1e-12, 1.0))))
    return {"examples_top1": top_k_accuracy(calibrated, y, 1), "examples_top5": top_k_accuracy(calibrated, y, 5),
            "examples_nll": nll, "examples": float(len(y)), "temperature": float(temperature)}


def fit_head(prior, features=None, y=None, few_shot: bool = True, scale: float = DEFAULT_SCALE) -> Fitted:
    """Prototypes and temperature from a zero-shot ``prior`` and optional labelled ``features``.

    Without examples: the prior, temperature 1. With examples and ``few_shot``: centroids
    (leave-one-out calibration and metrics). With examples and not ``few_shot``: the prior,
    calibrated on the examples.
    """
    prior = unit_rows(prior)
    if features is None or not len(features):
        return Fitted(prior, 1.0, "zero-shot", {}, 0)
    y = np.asarray(y, int)
    if few_shot:
        probs = leave_one_out_probs(features, y, len(prior), prior, scale)
        protos, kind = centroids(features, y, len(prior), prior), "few-shot"
    else:
        probs = softmax(unit_rows(features) @ prior.T / scale)
        protos, kind = prior, "zero-shot"
    temperature = fit_temperature(probs, y)
    return Fitted(protos, temperature, kind, _metrics(probs, y, temperature), len(y))


def calibrate(probs, y) -> tuple[float, dict]:
    """Temperature fitted on examples' probabilities (a fixed head's), and what it measures there."""
    y = np.asarray(y, int)
    temperature = fit_temperature(probs, y)
    return temperature, _metrics(probs, y, temperature)
