"""Classification metrics of a trained model (numpy only)."""

from __future__ import annotations

import numpy as np


def top_k_accuracy(probs: np.ndarray, y: np.ndarray, k: int) -> float | None:
    """Fraction of rows of ``probs`` (samples x labels) whose true label ``y`` is among
    the ``k`` highest probabilities; equal probabilities are ordered by label index
    (lower first). None when there are no samples."""
    probs = np.asarray(probs)
    y = np.asarray(y).astype(int)
    if probs.ndim != 2 or probs.shape[0] != y.shape[0]:
        raise ValueError(f"probs must be (samples, labels) matching y; got {probs.shape} and {y.shape}")
    if len(y) == 0:
        return None
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float((top == y[:, None]).any(axis=1).mean())


def confusion_matrix(y_true, y_pred, n_labels: int) -> np.ndarray:
    """``(n_labels, n_labels)`` int matrix: entry ``[t, p]`` counts samples of true label
    ``t`` predicted as ``p``."""
    y_true = np.asarray(y_true).astype(int).ravel()
    y_pred = np.asarray(y_pred).astype(int).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} and {len(y_pred)}")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels.size and (labels.min() < 0 or labels.max() >= n_labels):
            raise ValueError(f"{name} has labels outside 0..{n_labels - 1}")
    matrix = np.zeros((n_labels, n_labels), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix
