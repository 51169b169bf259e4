"""Softmax temperature: fitted on the validation split, applied at prediction.

Scores of models calibrated this way are comparable, which is what fusing them needs.
"""

from __future__ import annotations

import numpy as np


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of log(p) / T: T > 1 softens over-confident probabilities, T = 1 is identity."""
    if not temperature or abs(temperature - 1.0) < 1e-6:
        return probs
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature minimising validation negative log-likelihood (grid + refine)."""
    logits = np.log(np.clip(probs, 1e-12, 1.0))

    def nll(t):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -float(log_p[np.arange(len(y)), y].mean())

    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 91))
    best = min(grid, key=nll)
    fine = np.linspace(best / 1.06, best * 1.06, 13)
    return float(min(fine, key=nll))
