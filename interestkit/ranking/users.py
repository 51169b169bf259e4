"""The user level, once: one user's scored posts -> that user's ranked interests, posts and ads.

Every engine calls ``rank_user``: the local ``RankingPipeline``, ``serve`` (from the rows it
stores), Spark (inside a grouped map over windowed, scored posts) and the streaming
ranker. It is pure, with plain data in and out::

    [ScoredPost, ...] --window (last N)--> recency weights --> aggregation --> fusion
        --> order, top-k, contributing posts --> OUTPUTS (ads, ...) --> UserRanking

A ``ScoredPost`` is a post's id, time and input order with its probabilities per modality
(``{modality: {interest: p}}``; a post that could not be scored has none). Windowing is
idempotent, so an engine may window first (Spark does, with a SQL window function).

A new per-user output is one function in ``OUTPUTS`` (``(UserRanking, UserLevel) ->
value``) and the ``UserRanking`` field it fills; ``TABLE_COLUMNS`` and ``table_rows`` are
the one tabular form of the answers (``interestkit batch``, Spark).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Mapping, Sequence

from ..data.posts import recency_key
from ..errors import ConfigError
from ..recommend import recommend
from .aggregation import aggregate
from .options import FusionSpec, RankingOptions
from .order import RankedInterest, UserRanking, combine, order
from .scoring import ScoredPosts, Scores

WHAT = {"text": "captions", "image": "photos"}


@dataclass(frozen=True)
class ScoredPost:
    """One post as the user level sees it: no caption or photo, only what ranking needs.

    ``line`` orders posts of equal times (a later line is more recent); ``scores`` maps a
    modality to the post's ``{interest: probability}``; ``skipped`` says why its photo
    could not be read (None: it could, or there was none).
    """

    post_id: str
    created_at: dt.datetime | None
    line: int
    scores: Mapping[str, Scores] = field(default_factory=dict)
    skipped: str | None = None


def window(posts: Sequence[ScoredPost], last: int) -> tuple[list[ScoredPost], str | None]:
    """(the ``last`` most recent posts, oldest first; a warning when there are fewer). ``last <= 0``: all."""
    ordered = sorted(posts, key=recency_key)
    if last > 0 and len(ordered) < last:
        return ordered, f"only {len(ordered)} posts (fewer than the last {last} asked for); all were used"
    return (ordered[-last:] if last > 0 else ordered), None


def recency_weights(posts: Sequence[ScoredPost], half_life_days: float | None) -> dict[str, float]:
    """``{post_id: weight}``: 1 each, or ``0.5 ** (age / half-life)`` with the age in days from
    the user's newest dated post; undated posts weigh as much as the oldest dated one."""
    if half_life_days is None:
        return {post.post_id: 1.0 for post in posts}
    if not half_life_days > 0:
        raise ConfigError(f"half-life must be a positive number of days, got {half_life_days!r}")
    dated = [post for post in posts if post.created_at is not None]
    newest = max((post.created_at for post in dated), default=None)
    weights = {post.post_id: 0.5 ** ((newest - post.created_at).total_seconds() / 86400.0 / half_life_days)
               for post in dated}
    oldest = min(weights.values(), default=1.0)
    return {post.post_id: weights.get(post.post_id, oldest) for post in posts}


def modality_scores(posts: Sequence[ScoredPost], weights: Mapping[str, float], method: str,
                    modalities: Sequence[str]) -> dict[str, Scores]:
    """``{modality: {interest: score}}``; a modality none of the posts has is absent."""
    result = {}
    for modality in modalities:
        present = [post for post in posts if modality in post.scores]
        if present:
            result[modality] = aggregate([post.scores[modality] for post in present],
                                         [weights.get(post.post_id, 1.0) for post in present], method)
    return result


def contributing_posts(interest: str, posts: Sequence[ScoredPost], weights: Mapping[str, float], modalities,
                       limit: int = 3) -> list[str]:
    """The ``limit`` posts with the largest weighted probability of ``interest`` (summed over
    ``modalities``; ties: the more recent post); posts contributing nothing are left out."""
    contributions = []
    for post in posts:
        value = sum(post.scores.get(m, {}).get(interest, 0.0) for m in modalities) * weights.get(post.post_id, 1.0)
        if value > 0:
            contributions.append((value, recency_key(post), post.post_id))
    contributions.sort(reverse=True)
    return [post_id for _, _, post_id in contributions[:limit]]


@dataclass(frozen=True)
class UserLevel:
    """Everything but the posts: options, fusion, ads and the modalities that were scored.

    ``modalities`` are those the engine scored (a mode's models); ``today`` dates the ads
    (None: the day of the call). Immutable and picklable: Spark ships it to its workers.
    """

    options: RankingOptions = field(default_factory=RankingOptions)
    fusion: FusionSpec | Any = field(default_factory=FusionSpec)  # a spec, or a built fusion (``fuse``)
    ads: tuple = ()
    modalities: tuple = ("text", "image")
    today: dt.date | None = None

    def __post_init__(self):
        object.__setattr__(self, "ads", tuple(self.ads))
        mode = self.options.mode
        object.__setattr__(self, "modalities", tuple(m for m in self.modalities if mode in ("fused", m)))

    @cached_property
    def fuser(self):
        """The fusion's instance (built once per process), or None outside fused mode."""
        if self.options.mode != "fused":
            return None
        return self.fusion.build() if isinstance(self.fusion, FusionSpec) else self.fusion

    def __getstate__(self):  # the built fusion stays behind: a worker builds its own
        return {k: v for k, v in self.__dict__.items() if k != "fuser"}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def scores(self, posts: Sequence[ScoredPost]) -> dict[str, Scores]:
        """One user's ``{modality: {interest: score}}`` over the window (for evaluation)."""
        kept, _ = window(posts, self.options.last)
        weights = recency_weights(kept, self.options.half_life_days)
        return modality_scores(kept, weights, self.options.aggregation, self.modalities)

    def rank(self, user_id: str, posts: Sequence[ScoredPost]) -> UserRanking:
        """The user's ranked interests, contributing posts and every output of ``OUTPUTS``."""
        o = self.options
        kept, note = window(posts, o.last)
        weights = recency_weights(kept, o.half_life_days)
        scores = modality_scores(kept, weights, o.aggregation, self.modalities)
        combined = combine(scores, o.mode, self.fuser)
        ordered = order(combined)
        top = [RankedInterest(interest, combined[interest], rank,
                              contributing_posts(interest, kept, weights, self.modalities, o.posts_per_interest))
               for rank, interest in enumerate(ordered[:o.top_k], 1)]
        used = sum(1 for post in kept if any(m in post.scores for m in self.modalities))
        newest_first = kept[::-1]
        skipped = [{"post_id": p.post_id, "reason": p.skipped} for p in newest_first if p.skipped]
        user = UserRanking(user_id, top, ordered, used, _warnings(self.modalities, scores, o.mode, note), skipped,
                           [p.post_id for p in newest_first])
        return dataclasses.replace(user, **{name: output(user, self) for name, output in OUTPUTS.items()})


def rank_user(user_id: str, posts: Sequence[ScoredPost], options: RankingOptions, fusion=None, ads=(),
              modalities=("text", "image"), today: dt.date | None = None) -> UserRanking:
    """``UserLevel(options, fusion, ads, modalities, today).rank(user_id, posts)``."""
    return UserLevel(options, fusion if fusion is not None else FusionSpec(), ads, modalities, today).rank(user_id,
                                                                                                          posts)


def _warnings(modalities, scores, mode, note) -> list[str]:
    notes = [note] if note else []
    missing = [m for m in modalities if m not in scores]
    if mode != "fused" and missing:
        notes.append(f"no {WHAT[mode]} to score: not ranked in {mode} mode")
    elif missing and len(missing) < len(modalities):
        present = next(m for m in modalities if m in scores)
        notes.append(f"no {WHAT[missing[0]]} to score: ranked by {present} only")
    elif missing:
        notes.append("no post could be scored: not ranked")
    return notes


def from_scored(posts, scored: ScoredPosts) -> dict[str, list[ScoredPost]]:
    """``{user_id: [ScoredPost, ...]}`` from posts and their ``ScoredPosts`` (users in order of first post)."""
    users: dict[str, list[ScoredPost]] = {}
    for post in posts:
        scores = {m: by_post[post.post_id] for m, by_post in scored.scores.items() if post.post_id in by_post}
        users.setdefault(post.user_id, []).append(
            ScoredPost(post.post_id, post.created_at, post.line, scores, scored.failures.get(post.post_id)))
    return users


# --- outputs: each fills one field of UserRanking from the ranked interests ----------------


def ads_of(user: UserRanking, level: UserLevel) -> list[dict]:
    """The ads the user's top interests earn (``recommend``); none without a catalogue."""
    if not level.ads:
        return []
    interests = [{"interest": i.interest, "score": i.score, "rank": i.rank} for i in user.interests]
    return recommend(interests, level.ads, level.options.top_n_ads, level.today)


OUTPUTS: dict[str, Callable[[UserRanking, UserLevel], Any]] = {"ads": ads_of}


# --- the tabular form: one row per user and top interest ----------------------------------

TABLE_COLUMNS = ("user_id", "rank", "interest", "score", "n_posts", "posts")
ADS_COLUMN = "ads"
AD_FIELDS = ("ad_id", "title", "score", "interest", "interest_rank", "weight")


def table_rows(user: UserRanking, with_ads: bool = False) -> list[tuple]:
    """The user's rows of ``TABLE_COLUMNS`` (and, ``with_ads``, the user's ads on each row)."""
    ads = [{k: ad[k] for k in AD_FIELDS} for ad in user.ads] if with_ads else None
    return [(user.user_id, i.rank, i.interest, float(i.score), user.posts_used, list(i.posts))
            + ((ads,) if with_ads else ()) for i in user.interests]
