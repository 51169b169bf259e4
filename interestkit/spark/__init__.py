"""Ranking users' interests on Apache Spark: the pipeline of ``interestkit rank`` over a DataFrame.

``rank_users(posts, options, text_model=..., image_model=..., fusion=..., ads=...)`` takes a
DataFrame of posts (``user_id``, ``post_id``, ``text``, ``image`` or ``image_bytes``,
``created_at``) and ``RankingOptions`` (or ``rank``'s options as keywords, checked by the
same rules) and returns, lazily, a DataFrame with one row per user and top interest:
``user_id, rank, interest, score, n_posts, posts``, and ``ads`` (the user's ads) when a
catalogue is given.

Spark does what it is good at: reading and validating the posts (``spark.posts``), each
user's window as a SQL window function, and per-post scoring by one
``mlflow.pyfunc.spark_udf`` per model (``spark.scoring``). Each user's windowed, scored
posts then go through the one user-level function (``ranking.users``) in a grouped map
(``spark.users``). pyspark is the extra ``interestkit[spark]``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..app.ranking import IMAGE_URI, TEXT_URI, fusion_spec, needed_modalities
from ..data.paths import MediaPolicy
from ..data.posts import RecordLimits
from ..errors import ModelError
from ..ranking.options import DEFAULT_FUSION, RankingOptions
from ..ranking.users import UserLevel
from ..recommend import check_interests, load_ads
from ..taxonomy import INTERESTS
from . import posts as posts_table
from . import scoring, users
from .session import require_pyspark, session, spark_errors

__all__ = ["rank_users", "session", "prepared_posts", "rank_prepared", "model_refs", "ranking_options"]


def ranking_options(options: RankingOptions | None = None, **changes) -> RankingOptions:
    """``options`` (default: the defaults) with ``changes``, each checked by the options' rules."""
    base = (options or RankingOptions()).as_dict()
    return RankingOptions.from_dict({**base, **changes}, "rank_users options")


def prepared_posts(df, options: RankingOptions, source: str = "posts", check: bool = True,
                   policy: MediaPolicy | None = None, limits: RecordLimits | None = None):
    """Posts typed and validated (``check``: by the rules of ``data.posts``, image paths by
    ``policy``; ``DataError`` naming the row), then each user's window: what ``scoring.score`` takes."""
    normalized = posts_table.normalized(df, source)
    counts = None
    if check:
        with spark_errors(f"reading {source}"):
            normalized, counts = posts_table.checked(normalized, source, policy, limits)
    else:
        normalized = normalized.drop("_file", "_raw")
    return posts_table.windowed(normalized, options.last), counts


def media_policy(media_root) -> MediaPolicy:
    """The image paths the executors' image model accepts: under ``media_root``, or none."""
    if media_root is not None:
        return MediaPolicy(Path(media_root))
    return MediaPolicy(None, hint="rank_users(..., media_root=DIR) accepts paths under DIR", inline="image_bytes")


def model_refs(text_model, image_model, mode: str, workdir) -> dict:
    """``{modality: ModelRef}`` for the models the mode needs (an empty URI leaves one out)."""
    uris = {"text": text_model, "image": image_model}
    refs = {m: scoring.model_ref(uris[m], workdir, m) for m in needed_modalities(mode) if uris.get(m)}
    if not refs:
        raise ModelError(f"no model to rank with: give text_model or image_model (mode {mode!r})")
    return refs


def user_level(refs: dict, options: RankingOptions, fusion, ads=()) -> UserLevel:
    """The user level every engine ranks with, for these models (ads checked against their labels)."""
    ads = tuple(ads)
    if ads:
        check_interests(ads, {label for ref in refs.values() for label in ref.labels} | set(INTERESTS))
    return UserLevel(options, fusion, ads, tuple(refs))


def rank_prepared(window, scored, refs: dict, level: UserLevel):
    """The output table of windowed posts and their scores (``scoring.score``'s rows)."""
    return users.ranked(window, scored, {m: ref.labels for m, ref in refs.items()}, level)


def rank_users(posts, options: RankingOptions | None = None, *, text_model: str | None = TEXT_URI,
               image_model: str | None = IMAGE_URI, fusion: str | None = DEFAULT_FUSION,
               fusion_weights: str | None = None, ads=None, media_root=None, check: bool = True, **changes):
    """Each user's top interests (and ads) from a DataFrame of posts (lazy; see the module's docstring).

    ``options``: ``RankingOptions``; keywords (``top_k=3``) change single options;
    ``fusion_weights`` is a ``fusion fit`` result (``runs:/...`` or a file), as for ``rank``;
    ``ads`` is an ad catalogue (a path, or ``Ad`` objects); ``media_root`` is the folder that
    photo paths are relative to, on every executor; ``check`` validates the posts first (a
    Spark job) so bad rows fail with the post named.
    """
    require_pyspark()
    ranking = ranking_options(options, **changes)
    spec = fusion_spec(fusion, fusion_weights)
    catalogue = load_ads(ads) if isinstance(ads, (str, bytes)) or hasattr(ads, "__fspath__") else tuple(ads or ())
    spark = posts.sparkSession
    window, _ = prepared_posts(posts, ranking, check=check, policy=media_policy(media_root))
    with tempfile.TemporaryDirectory(prefix="interestkit-spark-models-") as workdir:
        refs = model_refs(text_model, image_model, ranking.mode, workdir)
        level = user_level(refs, ranking, spec, catalogue)
        model_udfs = scoring.udfs(spark, refs, ranking.calibrate, media_root)
    return rank_prepared(window, scoring.score(spark, window, model_udfs), refs, level)
