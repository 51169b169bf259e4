"""Ranking metrics over users (pure Python and numpy): hit@k, MRR, nDCG, recall, bootstrap intervals.

A *ranking* is a list of interests, best first. Ranks are 0-based: the first interest
has rank 0. Each user has one *primary* interest and, optionally, a set of *other*
interests.
"""

from __future__ import annotations

import math

import numpy as np


# --- one ranking -------------------------------------------------------------


def hit_at_k(ranking, truth, k: int) -> float:
    """1.0 when ``truth`` is among the first ``k`` interests of ``ranking``, else 0.0."""
    return 1.0 if truth in list(ranking)[:k] else 0.0


def reciprocal_rank(ranking, truth) -> float:
    """``1 / (rank + 1)`` of ``truth`` in ``ranking``; 0.0 when it is absent."""
    ranking = list(ranking)
    return 1.0 / (ranking.index(truth) + 1) if truth in ranking else 0.0


def ndcg_at_k(ranking, truth, k: int) -> float:
    """nDCG@k with the single relevant item ``truth``: ``1 / log2(rank + 2)`` when its
    rank is below ``k``, else 0.0 (the ideal DCG is 1)."""
    ranking = list(ranking)[:k]
    return 1.0 / math.log2(ranking.index(truth) + 2) if truth in ranking else 0.0


def recall_at_k(ranking, truths, k: int) -> float | None:
    """Fraction of ``truths`` (a set of interests) in the first ``k`` of ``ranking``;
    None when ``truths`` is empty."""
    truths = set(truths)
    if not truths:
        return None
    return len(truths & set(list(ranking)[:k])) / len(truths)


# --- many users --------------------------------------------------------------


def evaluate_rankings(rankings, primary, others=None, k: int = 5, bootstrap: int = 1000, seed: int = 0) -> dict:
    """Mean ranking metrics over the users of ``primary`` (``{user: true interest}``).

    ``rankings`` is ``{user: [interest, ...]}``. A user of ``primary`` missing from
    ``rankings`` is evaluated with an empty ranking, i.e. counts as a miss everywhere
    (``missing`` says how many); users of ``rankings`` without a primary interest are
    ignored.

    Returns ``users`` (how many were evaluated), ``missing``, ``hit_at_1``, ``hit_at_3``,
    ``hit_at_{k}``, ``mrr``, ``ndcg_at_{k}`` (primary interest only) and ``recall_at_{k}``:
    the mean over users of recall@k of ``{primary} | others[user]`` (a user absent from
    ``others`` has only the primary interest), or None when ``others`` gives no user any
    interest. ``hit_at_1_ci`` and ``hit_at_{k}_ci`` are 95% percentile bootstrap
    intervals ``(low, high)``: users are resampled with replacement ``bootstrap`` times
    with ``numpy.random.default_rng(seed)``; None when ``bootstrap`` is 0 or there are no
    users. With no users every metric is None. Users are taken in sorted order (by
    ``str``), so the result does not depend on dict order.
    """
    users = sorted(primary, key=str)
    others = others or {}
    hit_ks = sorted({1, 3, k})
    n = len(users)
    result: dict = {"users": n, "missing": sum(1 for u in users if u not in rankings)}
    if n == 0:
        result.update({f"hit_at_{j}": None for j in hit_ks})
        result.update({"mrr": None, f"ndcg_at_{k}": None, f"recall_at_{k}": None})
        result.update({"hit_at_1_ci": None, f"hit_at_{k}_ci": None})
        return result

    lists = [list(rankings.get(u, [])) for u in users]
    truths = [primary[u] for u in users]
    hits = {j: np.array([hit_at_k(r, t, j) for r, t in zip(lists, truths)]) for j in hit_ks}
    for j in hit_ks:
        result[f"hit_at_{j}"] = float(hits[j].mean())
    result["mrr"] = float(np.mean([reciprocal_rank(r, t) for r, t in zip(lists, truths)]))
    result[f"ndcg_at_{k}"] = float(np.mean([ndcg_at_k(r, t, k) for r, t in zip(lists, truths)]))
    if any(others.get(u) for u in users):
        recalls = [recall_at_k(r, {t} | set(others.get(u, ())), k) for u, r, t in zip(users, lists, truths)]
        result[f"recall_at_{k}"] = float(np.mean(recalls))
    else:
        result[f"recall_at_{k}"] = None

    rng = np.random.default_rng(seed)
    samples = rng.integers(0, n, size=(bootstrap, n)) if bootstrap > 0 else None
    for j in (1, k):
        result[f"hit_at_{j}_ci"] = _percentile_ci(hits[j], samples)
    return result


def _percentile_ci(values: np.ndarray, samples) -> tuple[float, float] | None:
    if samples is None:
        return None
    means = values[samples].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return (float(low), float(high))
