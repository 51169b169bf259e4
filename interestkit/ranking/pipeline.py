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

from .. import hooks
from ..data.paths import MediaPolicy
from ..data.posts import RecordLimits, last_n, load_posts, posts_from_records
from ..errors import ConfigError
from ..options import Option, validate_options
from ..recommend import Ad, recommend
from .aggregation import AGGREGATIONS, all_user_scores
from .fusing import guarded_fusion
from .order import MODES, UserRanking, combine, order, rank_users
from .scoring import ScoredPosts, score_posts

DEFAULT_FUSION = "score_sum"

OPTION_RULES = {
    "mode": Option("fused", choices=MODES, help="rank by captions, photos, or both fused"),
    "top_k": Option(5, min=1, help="interests per user"),
    "last": Option(20, min=0, help="each user's N most recent posts (0: all)"),
    "aggregation": Option("mean", choices=AGGREGATIONS, help="how a user's post scores combine"),
    "half_life_days": Option(None, type=float, gt=0, nullable=True, help="recency weighting (None: off)"),
    "calibrate": Option(True, help="apply the models' fitted softmax temperature"),
    "top_n_ads": Option(10, min=1, help="ads per user"),
    "posts_per_interest": Option(3, min=0, help="contributing posts shown per interest"),
}


@dataclass(frozen=True)
class RankingOptions:
    """How posts become ranked interests; validated on construction (``ConfigError``)."""

    mode: str = "fused"
    top_k: int = 5
    last: int = 20
    aggregation: str = "mean"
    half_life_days: float | None = None
    calibrate: bool = True
    top_n_ads: int = 10
    posts_per_interest: int = 3

    def __post_init__(self):
        checked = validate_options(OPTION_RULES, dataclasses.asdict(self), "ranking options")
        for key, value in checked.items():
            object.__setattr__(self, key, value)

    @classmethod
    def from_dict(cls, values: dict | None, where: str = "ranking options") -> "RankingOptions":
        return cls(**validate_options(OPTION_RULES, values or {}, where))

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FusionSpec:
    """A fusion plugin by name, with the parameters it is built with and where they came from."""

    name: str = DEFAULT_FUSION
    params: Mapping[str, Any] = field(default_factory=dict)
    source: str = "defaults"
    fitted_on: str = ""  # SHA-256 of the posts and labels the parameters were fitted on, if known

    def as_dict(self) -> dict:
        """Name, parameters, where they came from, and the distribution that provides the fusion."""
        info = hooks.get("fusion", self.name)
        return {"name": self.name, "params": _plain(self.params), "source": self.source,
                "package": info.package, "package_version": info.version}


def _plain(value):
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


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
        fuser = guarded_fusion(hooks.get("fusion", self.fusion.name), dict(self.fusion.params), self.fusion.source)
        object.__setattr__(self, "_fuser", fuser)

    # --- derived ------------------------------------------------------------------------

    @property
    def labels(self) -> list[str]:
        """The union of the models' labels: every interest a ranking can hold."""
        return sorted({label for model in self.models.values() for label in model.labels})

    @property
    def scoring_models(self) -> dict:
        """The models the mode uses."""
        mode = self.options.mode
        return {m: model for m, model in self.models.items() if mode in ("fused", m)}

    def replace(self, **changes) -> "RankingPipeline":
        """A copy with some fields changed (``options`` may be a dict of changed options)."""
        if isinstance(changes.get("options"), dict):
            changes["options"] = dataclasses.replace(self.options, **changes["options"])
        return dataclasses.replace(self, **changes)

    def describe(self) -> dict:
        """Every option the pipeline runs with: what a hybrid records and ``/health`` reports."""
        return {"options": self.options.as_dict(), "fusion": self.fusion.as_dict(),
                "models": {m: dict(self.provenance.get(m, {}), labels=len(model.labels),
                               temperature=model.temperature) for m, model in self.models.items()},
                "labels": len(self.labels), "ads": len(self.ads), "media": self.media.describe(),
                "cache": str(self.cache.root) if self.cache is not None and self.cache.enabled else None}

    # --- posts in ------------------------------------------------------------------------

    def read_posts(self, path) -> list:
        """A posts file's posts, image paths resolved by the pipeline's media policy."""
        return load_posts(path, self.media)

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
        return all_user_scores(posts, scored, self.options.aggregation, self.options.half_life_days)

    def rankings(self, scores_by_user: dict, mode: str | None = None) -> dict[str, list[str]]:
        """``{user_id: [interest, ...]}`` best first (full orders), in ``mode`` (default: the pipeline's)."""
        mode = mode or self.options.mode
        fuser = self._fuser if mode == "fused" else None
        return {user: order(combine(scores, mode, fuser)) for user, scores in scores_by_user.items()}

    def rank_scored(self, posts, scored: ScoredPosts, warnings=None, today=None) -> list[UserRanking]:
        """Ranked interests and ads per user, from posts already windowed and scored."""
        o = self.options
        users = rank_users(posts, scored, o.mode, self._fuser if o.mode == "fused" else None, o.top_k,
                           o.aggregation, o.half_life_days, warnings, o.posts_per_interest)
        if not self.ads:
            return users
        return [dataclasses.replace(user, ads=recommend(_ad_input(user), self.ads, o.top_n_ads, today))
                for user in users]

    def rank(self, posts, today=None, log=None) -> list[UserRanking]:
        """Posts of any users -> each user's window -> scores -> ranked interests and ads."""
        selected, warnings = self.window(posts)
        return self.rank_scored(selected, self.score(selected, log), warnings, today)


def _ad_input(user: UserRanking) -> list[dict]:
    return [{"interest": i.interest, "score": i.score, "rank": i.rank} for i in user.interests]
