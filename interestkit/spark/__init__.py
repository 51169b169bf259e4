"""Ranking users' interests on Apache Spark: the pipeline of ``interestkit rank`` over a DataFrame.

``rank_users(posts, text_model=..., image_model=..., fusion=..., **options)`` takes a
DataFrame of posts (``user_id``, ``post_id``, ``text``, ``image`` or ``image_bytes``,
``created_at``) and returns, lazily, a DataFrame with one row per user and top interest:
``user_id, rank, interest, score, n_posts, posts``. The options are ``rank``'s (``mode``,
``top_k``, ``last``, ``aggregation``, ``half_life_days``, ``calibrate``,
``posts_per_interest``), validated by the same rules.

Posts are scored by one ``mlflow.pyfunc.spark_udf`` per model (``spark.scoring``); the
window, weights, aggregation, fusion and top-k are DataFrame operations
(``spark.posts``, ``spark.users``). pyspark is the extra ``interestkit[spark]``.
"""

from __future__ import annotations

import tempfile

from ..app.ranking import IMAGE_URI, TEXT_URI, fusion_spec, needed_modalities
from ..errors import ConfigError, ModelError
from ..ranking.pipeline import RankingOptions
from . import posts as posts_table
from . import scoring, users
from .session import require_pyspark, session, spark_errors

__all__ = ["rank_users", "session", "prepared_posts", "rank_prepared"]


def prepared_posts(df, options: RankingOptions, source: str = "posts", check: bool = True):
    """Posts typed and validated (``check``: one pass; ``DataError`` naming the post), then
    windowed and weighted: what ``score`` takes."""
    normalized = posts_table.normalized(df, source)
    counts = None
    if check:
        with spark_errors(f"reading {source}"):
            counts = posts_table.check(normalized, source)
    return posts_table.windowed(normalized, options.last, options.half_life_days), counts


def model_refs(text_model, image_model, mode: str, workdir) -> dict:
    """``{modality: ModelRef}`` for the models the mode needs (an empty URI leaves one out)."""
    uris = {"text": text_model, "image": image_model}
    refs = {m: scoring.model_ref(uris[m], workdir, m) for m in needed_modalities(mode) if uris.get(m)}
    if not refs:
        raise ModelError(f"no model to rank with: give text_model or image_model (mode {mode!r})")
    return refs


def rank_prepared(spark, window, refs: dict, options: RankingOptions, fusion, media_root=None, scored=None):
    """The ranking of windowed posts (``scored``: their scores, when already computed)."""
    if scored is None:
        scored = scoring.score(spark, window, scoring.udfs(spark, refs, options.calibrate, media_root))
    long = users.long_scores(scored, {m: ref.labels for m, ref in refs.items()})
    scores = users.aggregated(long, options.aggregation)
    fused = users.combined(scores, options.mode, fusion.name, dict(fusion.params))
    top = users.top_interests(fused, options.top_k)
    return users.ranked(long, top, options.posts_per_interest)


def rank_users(posts, text_model: str | None = TEXT_URI, image_model: str | None = IMAGE_URI,
               fusion: str | None = "score_sum", fusion_weights: str | None = None, media_root=None,
               check: bool = True, **options):
    """Each user's top interests from a DataFrame of posts (lazy; see the module's docstring).

    ``fusion_weights`` is a ``fusion fit`` result (``runs:/...`` or a file), as for ``rank``;
    ``media_root`` is the folder that photo paths are relative to, on every executor;
    ``check`` validates the posts first (a Spark job) so bad rows fail with the post named.
    """
    require_pyspark()
    unknown = set(options) - set(RankingOptions.__dataclass_fields__) - {"top_n_ads"}
    if unknown:
        raise ConfigError(f"rank_users: unknown option {sorted(unknown)[0]!r}; the options are "
                          f"{', '.join(RankingOptions.__dataclass_fields__)}")
    ranking = RankingOptions.from_dict(options, "rank_users options")
    spec = fusion_spec(fusion, fusion_weights)
    spark = posts.sparkSession
    window, _ = prepared_posts(posts, ranking, check=check)
    with tempfile.TemporaryDirectory(prefix="interestkit-spark-models-") as workdir:
        refs = model_refs(text_model, image_model, ranking.mode, workdir)
        model_udfs = scoring.udfs(spark, refs, ranking.calibrate, media_root)
    # the user level reads the scores three times (aggregation, contributing posts, counts): computed once
    scored = scoring.score(spark, window, model_udfs).cache()
    return rank_prepared(spark, window, refs, ranking, spec, media_root, scored)
