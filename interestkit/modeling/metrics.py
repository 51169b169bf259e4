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


def per_label(y_true, y_pred, labels) -> dict:
    """``{label: {precision, recall, f1, support}}``; precision is None for a label never
    predicted, recall None for a label with no example."""
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    out = {}
    for index, label in enumerate(labels):
        predicted, actual = y_pred == index, y_true == index
        hits = int((predicted & actual).sum())
        precision = hits / int(predicted.sum()) if predicted.any() else None
        recall = hits / int(actual.sum()) if actual.any() else None
        f1 = (2 * precision * recall / (precision + recall) if precision and recall else 0.0) \
            if precision is not None and recall is not None else None
        out[label] = {"precision": precision, "recall": recall, "f1": f1, "support": int(actual.sum())}
    return out


def macro_f1(table: dict) -> float | None:
    """Mean F1 over the labels that have examples (a label with examples never predicted counts 0)."""
    scores = [row["f1"] if row["f1"] is not None else 0.0 for row in table.values() if row["support"] > 0]
    return float(np.mean(scores)) if scores else None


def calibration_bins(probs, y, bins: int = 15) -> list[dict]:
    """Equal-width bins of the top probability: ``{low, high, count, confidence, accuracy}``."""
    probs, y = np.asarray(probs, dtype=np.float64), np.asarray(y).astype(int)
    confidence = probs.max(axis=1) if len(probs) else np.zeros(0)
    correct = (probs.argmax(axis=1) == y) if len(probs) else np.zeros(0, bool)
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high) if low > 0 else (confidence <= high)
        n = int(inside.sum())
        out.append({"low": float(low), "high": float(high), "count": n,
                    "confidence": float(confidence[inside].mean()) if n else None,
                    "accuracy": float(correct[inside].mean()) if n else None})
    return out


def expected_calibration_error(probs, y, bins: int = 15) -> float | None:
    """ECE: the count-weighted mean gap between confidence and accuracy over ``calibration_bins``."""
    table = calibration_bins(probs, y, bins)
    total = sum(b["count"] for b in table)
    if not total:
        return None
    return float(sum(b["count"] * abs(b["confidence"] - b["accuracy"]) for b in table if b["count"]) / total)
