"""Splits and samples that keep every label on both sides; group splits that hold whole sources out."""

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


def group_split(labels, groups, val_fraction: float, seed: int):
    """``(train_indices, val_indices, held_out)``: whole groups (e.g. sources) go to validation.

    Each group belongs to the label most of its rows have (ties: the first by name). For a
    label with two groups or more, whole groups are drawn (in an order shuffled by
    ``seed``) until they hold at least ``val_fraction`` of the label's rows, at least one
    group and never all of them, so every label keeps training rows and each label is
    validated on sources it never saw. A label with a single group cannot hold a source
    out: its rows are split like ``stratified_split``. ``held_out`` lists the validation
    groups, sorted. Raises ``ValueError`` with fewer than two distinct groups.
    """
    labels, groups = list(labels), list(groups)
    if len(labels) != len(groups):
        raise ValueError("labels and groups differ in length")
    if len(set(groups)) < 2:
        raise ValueError(f"a group split needs at least 2 groups, found {len(set(groups))}")
    rng = np.random.default_rng(seed)
    rows_of_group: dict = {}
    for index, group in enumerate(groups):
        rows_of_group.setdefault(group, []).append(index)
    groups_of_label: dict = {}
    for group in sorted(rows_of_group):
        counts: dict = {}
        for index in rows_of_group[group]:
            counts[labels[index]] = counts.get(labels[index], 0) + 1
        owner = sorted(counts, key=lambda label: (-counts[label], label))[0]
        groups_of_label.setdefault(owner, []).append(group)
    held_out, single = [], []
    for label in sorted(groups_of_label):
        own = groups_of_label[label]
        if len(own) < 2:
            single.append(label)
            continue
        order = [own[i] for i in rng.permutation(len(own))]
        total = sum(len(rows_of_group[g]) for g in own)
        taken = 0
        for group in order[:-1]:
            held_out.append(group)
            taken += len(rows_of_group[group])
            if taken >= val_fraction * total:
                break
    held = set(held_out)
    val = [i for i, group in enumerate(groups) if group in held]
    rest = [i for i, group in enumerate(groups) if group not in held]
    single_set = set(single)
    by_rows = [i for i in rest if labels[i] in single_set]
    if by_rows:
        _, sub_val = stratified_split([labels[i] for i in by_rows], val_fraction, seed)
        val.extend(by_rows[j] for j in sub_val)
    train = sorted(set(rest) - set(val))
    return train, sorted(val), sorted(held_out)
