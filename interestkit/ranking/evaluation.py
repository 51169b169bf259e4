"""Evaluating rankings against labelled users, and fitting a fusion's parameters on them."""

from __future__ import annotations

from ..errors import DataError
from .metrics import evaluate_rankings
from .scoring import Scores

METRIC_KEYS = ("users", "hit_at_1", "hit_at_3", "hit_at_5", "mrr", "ndcg_at_5", "recall_at_5",
               "hit_at_1_ci", "hit_at_5_ci")


def evaluate(rankings_by_user: dict[str, list[str]], labels, bootstrap: int = 1000, seed: int = 0) -> dict:
    """Ranking metrics of one mode over the labelled users (``{user_id: UserLabel}``).

    Returns the ``METRIC_KEYS``: fractions in [0, 1], ``recall_at_5`` None when no user
    has other interests, and 95% bootstrap intervals ``[low, high]`` for hit@1 and hit@5.
    A labelled user with no ranking in this mode (e.g. no captions in text mode) counts
    as a miss, as in the paper.
    """
    primary = {user_id: label.interest for user_id, label in labels.items()}
    others = {user_id: set(label.others) for user_id, label in labels.items()}
    rankings_by_user = {user_id: r for user_id, r in rankings_by_user.items() if r}
    result = evaluate_rankings(rankings_by_user, primary, others, k=5, bootstrap=bootstrap, seed=seed)
    table = {key: result.get(key) for key in METRIC_KEYS}
    for key in ("hit_at_1_ci", "hit_at_5_ci"):
        table[key] = list(table[key]) if table[key] is not None else None
    return table


def fit_fusion(fusion, scores_by_user: dict[str, dict[str, Scores]], labels) -> tuple[dict, int]:
    """Fit ``fusion`` on the labelled users that have scores; ``(fit metrics, users used)``."""
    examples = [(scores_by_user[user_id], label.interest) for user_id, label in labels.items()
                if scores_by_user.get(user_id)]
    if not examples:
        raise DataError("no labelled user has a scored post: nothing to fit the fusion on")
    report = fusion.fit(examples) or {}
    return dict(report), len(examples)
