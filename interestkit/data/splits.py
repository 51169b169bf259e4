"""Splits and samples that keep every label on both sides."""

from __future__ import annotations

import numpy as np


def stratified_split(labels, val_fraction: float, seed: int):
    """(train_indices, val_indices): each label split separately, at least one of each side."""
    rng = np.random.default_rng(seed)
    by_label: dict = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    train, val = [], []
    for label in sorted(by_label):
        indices = np.array(by_label[label])
        rng.shuffle(indices)
        n_val = int(round(len(indices) * val_fraction))
        n_val = min(max(n_val, 1), len(indices) - 1)
        val.extend(indices[:n_val].tolist())
        train.extend(indices[n_val:].tolist())
    return sorted(train), sorted(val)


def stratified_sample(labels, size: int, seed: int):
    """Indices of a stratified sample of ``size`` rows (every label keeps at least 2)."""
    if size <= 0 or size >= len(labels):
        return list(range(len(labels)))
    fraction = size / len(labels)
    rng = np.random.default_rng(seed)
    by_label: dict = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    chosen = []
    for label in sorted(by_label):
        indices = np.array(by_label[label])
        rng.shuffle(indices)
        chosen.extend(indices[: max(2, int(round(len(indices) * fraction)))].tolist())
    return sorted(chosen)
