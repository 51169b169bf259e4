"""A user's ranking as IAB Audience Taxonomy segments: OpenRTB 2.6 ``User`` objects and segment rows.

Pure functions over one user's ranked interests, so every engine (``rank``, ``batch``,
``serve``) emits the same segments for the same ranking. A ranking is a ``UserRanking``,
its ``as_dict()``, or ``(user_id, [{"interest", "score", "rank"}, ...])`` as a rankings
dataset holds it. An interest's segments are the taxonomy's ``iab_audience`` ids
(``Taxonomy.segments``); an interest without one emits nothing.

The rules, in this order:

1. interests are taken in rank order; those scoring below ``min_score`` are left out;
2. each interest contributes its segment ids in the order the taxonomy lists them; a
   segment already emitted for a better-ranked interest is not repeated;
3. at most ``max_segments`` segments are kept.

Each segment's ``value`` is the interest's score as text with 4 decimals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from .iab import SEGTAX

PROVIDER = "interestkit"
MAX_SEGMENTS = 1_000


@dataclass(frozen=True)
class SegmentRules:
    """What is emitted: the ``Data`` object's provider ``name``, the lowest score, and how many segments."""

    provider: str = PROVIDER
    min_score: float = 0.0
    max_segments: int = 20

    def __post_init__(self):
        if not isinstance(self.provider, str) or not self.provider.strip() or len(self.provider) > 200:
            raise ConfigError(f"provider must be a non-empty name of at most 200 characters, got {self.provider!r}")
        if not isinstance(self.min_score, (int, float)) or not 0.0 <= float(self.min_score) < math.inf:
            raise ConfigError(f"min-score must be a finite number of at least 0, got {self.min_score!r}")
        if not isinstance(self.max_segments, int) or not 1 <= self.max_segments <= MAX_SEGMENTS:
            raise ConfigError(f"max-segments must be between 1 and {MAX_SEGMENTS}, got {self.max_segments!r}")


def score_text(score: float) -> str:
    """A score as OpenRTB carries it in ``segment.value``: text, 4 decimals."""
    return f"{float(score):.4f}"


def ranked_items(ranking) -> tuple[str, list[dict]]:
    """``(user_id, [{"interest", "score", "rank"}, ...])`` best first, from any form a ranking takes."""
    if isinstance(ranking, tuple):
        user_id, items = ranking
    elif isinstance(ranking, dict):
        user_id, items = ranking["user_id"], ranking["interests"]
    else:
        user_id = ranking.user_id
        items = [{"interest": i.interest, "score": i.score, "rank": i.rank} for i in ranking.interests]
    items = [{"interest": str(i["interest"]), "score": float(i["score"]), "rank": int(i["rank"])} for i in items]
    return str(user_id), sorted(items, key=lambda item: item["rank"])


def segment_rows(ranking, segments: dict, rules: SegmentRules = SegmentRules()) -> list[dict]:
    """One user's segments, best first: ``{user_id, segtax, segment_id, interest, score, rank}`` rows.

    ``rank`` is the interest's rank in the user's ranking; ``segments`` maps interest names
    to segment ids (``Taxonomy.segments``).
    """
    user_id, items = ranked_items(ranking)
    rows, seen = [], set()
    for item in items:
        if item["score"] < rules.min_score:
            continue
        for ident in segments.get(item["interest"], ()):
            if ident in seen:
                continue
            seen.add(ident)
            rows.append({"user_id": user_id, "segtax": SEGTAX, "segment_id": str(ident),
                         "interest": item["interest"], "score": item["score"], "rank": item["rank"]})
            if len(rows) == rules.max_segments:
                return rows
    return rows


def user_object(ranking, segments: dict, rules: SegmentRules = SegmentRules()) -> dict:
    """An OpenRTB 2.6 ``User`` object: ``id``, and one ``Data`` object of the user's segments (segtax 4).

    A user none of whose interests passes the rules gets no ``data``.
    """
    user_id, _ = ranked_items(ranking)
    rows = segment_rows(ranking, segments, rules)
    user = {"id": user_id}
    if rows:
        user["data"] = [{"name": rules.provider, "ext": {"segtax": SEGTAX},
                         "segment": [{"id": row["segment_id"], "value": score_text(row["score"])} for row in rows]}]
    return user


def unmapped(rankings, segments: dict) -> list[str]:
    """The ranked interests with no segment, sorted: they never reach OpenRTB or a segments table."""
    found = set()
    for ranking in rankings:
        found.update(item["interest"] for item in ranked_items(ranking)[1] if not segments.get(item["interest"]))
    return sorted(found)
