"""RankingPipeline: posts in, ranked interests and ads out. The one orchestration.

``rank``, ``recommend``, ``evaluate``, ``fusion fit``, the hybrid MLflow model, ``serve``
and the batch paths all build a ``RankingPipeline`` from their options and call it, so
the same posts with the same options give the same answer everywhere.

The steps, each a small function with plain data between them::

    posts --window (last N per user)--> score (text and image models, feature cache)
          --> per-user scores (aggregation, recency half-life) --> fusion --> top-k --> ads

The pipeline is immutable: ``replace`` gives a changed copy (another fusion, another
media policy), never a changed original.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ..data.paths import MediaPolicy
from ..data.posts import RecordLimits, last_n, posts_from_records, read_posts
from ..errors import ConfigError
from ..recommend import Ad
from .options import DEFAULT_FUSION, MODES, OPTION_RULES, FusionSpec, RankingOptions  # noqa: F401 (re-exported)
from .order import UserRanking, combine, order
from .scoring import ScoredPosts, score_posts
from .users import UserLevel, from_scored

__all__ = ["DEFAULT_FUSION", "MODES", "OPTION_RULES", "FusionSpec", "RankingOptions", "RankingPipeline"]

@dataclass(frozen=True)
class RankingPipeline:
    """Models, fusion, options, ads, feature cache and path policy: one typed, immutable unit.

    ``models`` maps ``"text"`` and/or ``"image"`` to a model (either may be absent);
    ``provenance`` says where each came from (``{modality: {uri, name, version}}``).
    """

    models: Mapping[str, Any]
    fusion: FusionSpec = field(default_factory=FusionSpec)
    options: RankingOptions = field(default_factory=RankingOptions)
    ads: tuple[Ad, ...] = ()
    cache: Any = None
    media: MediaPolicy = field(default_factory=MediaPolicy)
    provenance: Mapping[str, dict] = field(default_factory=dict)

    def __post_init__(self):
        models = dict(self.models)
        for modality, model in models.items():
            if modality not in ("text", "image"):
                raise ConfigError(f"a pipeline's models are 'text' and 'image', got {modality!r}")
            if model.modality != modality:
                raise ConfigError(f"the {modality} model is a model of {model.modality}")
        needed = [m for m in ("text", "image") if self.options.mode in (m,)]
        if not models or any(m not in models for m in needed):
            raise ConfigError(f"mode {self.options.mode!r} needs "
                              f"{' and '.join(needed) or 'a text or an image'} model; got "
                              f"{', '.join(sorted(models)) or 'none'}")
        object.__setattr__(self, "models", MappingProxyType(models))
        object.__setattr__(self, "ads", tuple(self.ads))
        object.__setattr__(self, "provenance", MappingProxyType({k: dict(v) for k, v in self.provenance.items()}))
        object.__setattr__(self, "_fuser", self.fusion.build())

    # --- derived ------------------------------------------------------------------------

    @property
    def labels(self) -> list[str]:
        """The union of the models' labels: every interest a ranking can hold."""
        return sorted({label for model in self.models.values() for label in model.labels})

    def user_level(self, today=None) -> UserLevel:
        """The user level this pipeline ranks each user with (``ranking.users``)."""
        return UserLevel(self.options, self._fuser, self.ads, tuple(self.scoring_models), today)

    @property
    def scoring_models(self) -> dict:
        """The models the mode uses."""
        mode = self.options.mode
        return {m: model for m, model in self.models.items() if mode in ("fused", m)}

    def replace(self, **changes) -> "RankingPipeline":
        """A copy with some fields changed (``options`` may be a dict of changed options)."""
        if isinstance(changes.get("options"), dict):
            changes["options"] = self.options.replace(**changes["options"])
        return dataclasses.replace(self, **changes)

    def describe(self) -> dict:
        """Every option the pipeline runs with: what a hybrid records and ``/health`` reports."""
        return {"options": self.options.as_dict(), "fusion": self.fusion.as_dict(),
                "models": {m: dict(self.provenance.get(m, {}), labels=len(model.labels),
                               temperature=model.temperature, runtime=getattr(model, "runtime", None))
                           for m, model in self.models.items()},
                "labels": len(self.labels), "ads": len(self.ads), "media": self.media.describe(),
                "cache": str(self.cache.root) if self.cache is not None and self.cache.enabled else None}

    # --- posts in ------------------------------------------------------------------------

    def read_posts(self, path) -> list:
        """A posts table's posts (JSONL, Parquet or CSV), image paths resolved by the pipeline's media policy."""
        return read_posts(path, self.media)

    def parse_records(self, records, source: str = "input", default_user: str | None = None,
                      limits: RecordLimits | None = None) -> list:
        """Posts from a request's records, under the same policy."""
        return posts_from_records(records, source, self.media, default_user, limits)

    def window(self, posts):
        """(each user's last ``options.last`` posts, {user_id: warning} for users with fewer)."""
        return last_n(posts, self.options.last)

    # --- the steps -----------------------------------------------------------------------

    def score(self, posts, log=None) -> ScoredPosts:
        """Per-post probabilities of the models the mode uses (batched, cached)."""
        return score_posts(posts, self.scoring_models, self.cache, self.options.calibrate, log)

    def user_scores(self, posts, scored: ScoredPosts) -> dict:
        """``{user_id: {modality: {interest: score}}}`` for every user of ``posts``."""
        level = self.user_level()
        return {user: level.scores(user_posts) for user, user_posts in from_scored(posts, scored).items()}

    def rankings(self, scores_by_user: dict, mode: str | None = None) -> dict[str, list[str]]:
        """``{user_id: [interest, ...]}`` best first (full orders), in ``mode`` (default: the pipeline's)."""
        mode = mode or self.options.mode
        fuser = self._fuser if mode == "fused" else None
        return {user: order(combine(scores, mode, fuser)) for user, scores in scores_by_user.items()}

    def rank_scored(self, posts, scored: ScoredPosts, today=None) -> list[UserRanking]:
        """Ranked interests and ads per user (``ranking.users``), from posts and their scores."""
        level = self.user_level(today)
        return [level.rank(user, user_posts) for user, user_posts in from_scored(posts, scored).items()]

    def rank(self, posts, today=None, log=None) -> list[UserRanking]:
        """Posts of any users -> each user's window -> scores -> ranked interests and ads."""
        selected, _ = self.window(posts)
        return self.rank_scored(selected, self.score(selected, log), today)
