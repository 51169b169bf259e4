"""Ranked interests: one score per interest for a user (a modality's, or fused), best first, top-k.

Interests are ordered by score, ties by name: ``order`` is the one ordering every mode,
fusion and entry point uses (``ranking.users`` ranks each user with it). A user with posts of only one modality is ranked, in fused
mode, by that modality alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import ConfigError
from .options import MODES
from .scoring import Scores


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
