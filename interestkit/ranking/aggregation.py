"""Per-user scores: a user's posts of one modality -> ``{interest: score}``.

Post weights: 1 for every post, or recency weights (``half_life_days``): a post ``d`` days
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

from ..data.posts import by_user
from ..errors import ConfigError
from .scoring import ScoredPosts, Scores

AGGREGATIONS = ("mean", "mean_log", "votes")


def post_weights(posts, half_life_days: float | None = None) -> dict[str, float]:
    """``{post_id: weight}``: 1 each, or recency weights per user ."""
    if half_life_days is None:
        return {post.post_id: 1.0 for post in posts}
    if not half_life_days > 0:
        raise ConfigError(f"half-life must be a positive number of days, got {half_life_days!r}")
    weights: dict[str, float] = {}
    for user_posts in by_user(posts).values():
        dated = [post for post in user_posts if post.created_at is not None]
        newest = max((post.created_at for post in dated), default=None)
        for post in dated:
            age_days = (newest - post.created_at).total_seconds() / 86400.0
            weights[post.post_id] = 0.5 ** (age_days / half_life_days)
        oldest = min((weights[post.post_id] for post in dated), default=1.0)
        for post in user_posts:
            weights.setdefault(post.post_id, oldest)
    return weights


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


def user_scores(user_posts, scored: ScoredPosts, weights: dict[str, float], method: str = "mean") -> dict[str, Scores]:
    """``{modality: {interest: score}}`` for one user; a modality without posts is absent."""
    result = {}
    for modality, by_post in scored.scores.items():
        present = [post for post in user_posts if post.post_id in by_post]
        if present:
            result[modality] = aggregate([by_post[p.post_id] for p in present],
                                         [weights.get(p.post_id, 1.0) for p in present], method)
    return result


def all_user_scores(posts, scored: ScoredPosts, method: str = "mean",
                    half_life_days: float | None = None) -> dict[str, dict[str, Scores]]:
    """``{user_id: {modality: {interest: score}}}`` for every user of ``posts``."""
    weights = post_weights(posts, half_life_days)
    return {user_id: user_scores(user_posts, scored, weights, method)
            for user_id, user_posts in by_user(posts).items()}
