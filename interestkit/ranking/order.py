"""Ranked interests: one score per interest for a user (a modality's, or fused), best first, top-k.

Interests are ordered by score, ties by name: ``order`` is the one ordering every mode,
fusion and entry point uses. A user with posts of only one modality is ranked, in fused
mode, by that modality alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..data.posts import by_user, recency_key
from ..errors import ConfigError
from .aggregation import post_weights, user_scores
from .scoring import ScoredPosts, Scores

MODES = ("text", "image", "fused")


def order(combined: Scores) -> list[str]:
    """Interests by descending score; equal scores are ordered by interest name."""
    return sorted(combined, key=lambda interest: (-combined[interest], interest))


def combine(scores: dict[str, Scores], mode: str, fusion=None) -> Scores:
    """One ``{interest: score}`` for a user: one modality's scores, or fused ones."""
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose from: {', '.join(MODES)}")
    if mode != "fused":
        return dict(scores.get(mode, {}))
    if fusion is None:
        raise ConfigError("mode 'fused' needs a fusion")
    present = {modality: s for modality, s in scores.items() if s}
    return fusion.fuse(present) if present else {}


def rankings(scores_by_user: dict[str, dict[str, Scores]], mode: str, fusion=None) -> dict[str, list[str]]:
    """``{user_id: [interest, ...]}`` best first, for evaluation (full rankings)."""
    return {user_id: order(combine(scores, mode, fusion)) for user_id, scores in scores_by_user.items()}


@dataclass
class RankedInterest:
    """One of a user's top interests: ``rank`` counts from 1; ``posts`` contributed most."""

    interest: str
    score: float
    rank: int
    posts: list[str]


@dataclass
class UserRanking:
    """A user's top-k interests and the full order; the posts used (``window``, most recent
    first), how many of them could be scored, the photos that could not be read
    (``skipped``: ``{post_id, reason}``), warnings, and the ads these interests earn."""

    user_id: str
    interests: list[RankedInterest]
    order: list[str]
    posts_used: int
    warnings: list[str]
    skipped: list[dict]
    window: list[str]
    ads: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The answer every entry point gives for a user (JSON data)."""
        return {"user_id": self.user_id, "interests": [asdict(i) for i in self.interests], "ads": list(self.ads),
                "posts_used": self.posts_used, "window": list(self.window), "skipped": [dict(s) for s in self.skipped],
                "warnings": list(self.warnings)}


def contributing_posts(interest: str, user_posts, scored: ScoredPosts, weights: dict[str, float],
                       modalities, limit: int = 3) -> list[str]:
    """The ``limit`` posts with the largest weighted probability of ``interest``.

    A post's contribution is the sum, over ``modalities``, of its weight times the
    probability its caption or photo gives ``interest``; ties go to the more recent post.
    Posts contributing nothing are left out.
    """
    contributions = []
    for post in user_posts:
        value = sum(scored.scores.get(m, {}).get(post.post_id, {}).get(interest, 0.0) for m in modalities)
        value *= weights.get(post.post_id, 1.0)
        if value > 0:
            contributions.append((value, recency_key(post), post.post_id))
    contributions.sort(reverse=True)
    return [post_id for _, _, post_id in contributions[:limit]]


def rank_users(posts, scored: ScoredPosts, mode: str = "fused", fusion=None, top_k: int = 5,
               aggregation: str = "mean", half_life_days: float | None = None,
               warnings: dict[str, str] | None = None, posts_per_interest: int = 3) -> list[UserRanking]:
    """Every user's top ``top_k`` interests in ``mode``, users in order of first post."""
    if top_k < 1:
        raise ConfigError(f"top-k must be at least 1, got {top_k}")
    weights = post_weights(posts, half_life_days)
    modalities = [m for m in scored.scores if mode in ("fused", m)]
    result = []
    for user_id, user_posts in by_user(posts).items():
        scores = user_scores(user_posts, scored, weights, aggregation)
        combined = combine(scores, mode, fusion)
        ordered = order(combined)
        top = [RankedInterest(interest, combined[interest], rank,
                              contributing_posts(interest, user_posts, scored, weights, modalities, posts_per_interest))
               for rank, interest in enumerate(ordered[:top_k], 1)]
        used = sum(1 for post in user_posts if any(post.post_id in scored.scores[m] for m in modalities))
        notes = _user_warnings(scored, scores, mode, (warnings or {}).get(user_id))
        newest_first = sorted(user_posts, key=recency_key, reverse=True)
        skipped = [{"post_id": p.post_id, "reason": scored.failures[p.post_id]} for p in newest_first
                   if p.post_id in scored.failures]
        result.append(UserRanking(user_id, top, ordered, used, notes, skipped, [p.post_id for p in newest_first]))
    return result


def _user_warnings(scored: ScoredPosts, scores, mode, extra) -> list[str]:
    notes = [extra] if extra else []
    missing = [m for m in scored.scores if m not in scores and mode in ("fused", m)]
    what = {"text": "captions", "image": "photos"}
    if mode != "fused" and missing:
        notes.append(f"no {what[mode]} to score: not ranked in {mode} mode")
    elif missing and len(missing) < len(scored.scores):
        present = next(m for m in scored.scores if m in scores)
        notes.append(f"no {what[missing[0]]} to score: ranked by {present} only")
    elif missing:
        notes.append("no post could be scored: not ranked")
    return notes
