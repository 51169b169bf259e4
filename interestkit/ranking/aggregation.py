"""Per-user scores: a user's posts of one modality -> ``{interest: score}``.

Post weights (``ranking.users.recency_weights``): 1 for every post, or recency weights (``half_life_days``): a post ``d`` days
older than the user's most recent dated post weighs ``0.5 ** (d / half_life_days)``;
posts without ``created_at`` weigh as much as the user's oldest dated post (as in
``last_n``, undated counts as oldest), and a user with no dated post has every weight 1.
Measuring age from the user's own newest post keeps the weights independent of when the
ranking is run.

Aggregations:

* ``mean`` (default): weighted mean probability;
* ``mean_log``: softmax of the weighted mean log-probability, i.e. the normalised
  geometric mean of the probabilities. It ranks like the mean log-probability (one
  confident post counts less, consistent evidence more) while its scores stay
  non-negative and sum to 1 like probabilities, so the fusions' convention that an
  unknown interest contributes 0 keeps meaning "no evidence";
* ``votes``: weighted share of posts whose most probable interest it is (ties in a
  post's top probability go to the interest first by name).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .scoring import Scores

AGGREGATIONS = ("mean", "mean_log", "votes")


def aggregate(post_scores: list[Scores], weights: list[float], method: str = "mean") -> Scores:
    """One modality's scores for one user from its posts' scores.

    Every interest of ``post_scores`` gets a score; no posts give ``{}``.
    """
    if method not in AGGREGATIONS:
        raise ConfigError(f"unknown aggregation {method!r}; choose from: {', '.join(AGGREGATIONS)}")
    if not post_scores:
        return {}
    interests = sorted({interest for scores in post_scores for interest in scores})
    matrix = np.array([[scores.get(i, 0.0) for i in interests] for scores in post_scores], dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
    if method == "mean":
        values = w @ matrix
    elif method == "mean_log":
        logs = w @ np.log(np.clip(matrix, 1e-12, 1.0))
        exp = np.exp(logs - logs.max())
        values = exp / exp.sum()
    else:
        values = w @ _top1_indicator(matrix)
    return {interest: float(value) for interest, value in zip(interests, values)}


def _top1_indicator(matrix: np.ndarray) -> np.ndarray:
    """1 at each row's most probable column (ties: the first column; columns are sorted by name)."""
    onehot = np.zeros_like(matrix)
    onehot[np.arange(len(matrix)), np.argmax(matrix, axis=1)] = 1.0
    return onehot
