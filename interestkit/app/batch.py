"""``interestkit batch``: every user's top interests from a posts table, to a Parquet dataset.

Two engines run the same ranking:

* ``local``: the ``RankingPipeline`` in this process (what ``rank`` runs), over a JSONL,
  Parquet or CSV table read with pandas;
* ``spark``: ``interestkit.spark`` on a Spark session (``--master``), where posts are
  scored by ``mlflow.pyfunc.spark_udf`` and users ranked by DataFrame operations.

Both write the columns ``user_id, rank, interest, score, n_posts, posts`` (``posts``: the
contributing post ids), one row per user and top interest, sorted by user and rank.
The dataset appears whole or not at all: it is written next to its destination first.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

from .. import spark as engine
from ..adtech import consent
from ..atomic import atomic_folder
from ..data.posts import load_posts, posts_from_records
from ..errors import ConfigError, DataError
from ..ranking.pipeline import RankingOptions
from ..spark import posts as spark_posts
from ..spark.session import spark_errors
from . import ranking

ENGINES = ("local", "spark")
COLUMNS = ("user_id", "rank", "interest", "score", "n_posts", "posts")


def _quiet(message):
    pass


def is_uri(path: str) -> bool:
    """True for ``scheme://...`` other than ``file://`` (where only Spark can write)."""
    return "://" in str(path) and not str(path).startswith("file://")


def local_path(path: str) -> Path:
    return Path(str(path).removeprefix("file://"))


def check_out(out: str, overwrite: bool) -> None:
    """``--out``: a new dataset, or an existing one with ``overwrite``; never a plain file."""
    if is_uri(out):
        return
    path = local_path(out)
    if path.exists() and not path.is_dir():
        raise DataError(f"--out {out}: is a file; the output is a Parquet dataset (a folder)")
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise DataError(f"--out {out}: exists and is not empty; pass --overwrite to replace it")


# --- the local engine ------------------------------------------------------------------


def read_posts_table(path, media):
    """Posts of a local JSONL, Parquet or CSV table, validated by the one parser."""
    import pandas as pd

    path = local_path(path)
    if not path.exists():
        raise DataError(f"{path}: posts file not found")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return load_posts(path, media)
    if suffix not in (".parquet", ".csv", "") or (suffix == "" and not path.is_dir()):
        raise DataError(f"{path}: posts must be .jsonl, .parquet (a file or a dataset folder) or .csv")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False) if suffix == ".csv" else pd.read_parquet(path)
    except Exception as error:  # not Parquet, not UTF-8, a malformed CSV
        raise DataError(f"{path}: cannot read posts ({' '.join(str(error).split())[:200]})") from None
    frame = frame.astype(object).where(frame.notna(), None)
    records = [{k: (None if v == "" else v) for k, v in row.items()} for row in frame.to_dict("records")]
    return posts_from_records(records, str(path), media)


def frame_of(users):
    """The output table of ``RankingPipeline.rank``'s answers."""
    import pandas as pd

    rows = [(u.user_id, i.rank, i.interest, float(i.score), u.posts_used, list(i.posts))
            for u in users for i in u.interests]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.sort_values(["user_id", "rank"], kind="stable").reset_index(drop=True)


def write_frame(frame, out: str) -> None:
    """``frame`` as a one-file Parquet dataset at ``out``, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("user_id", pa.string()), ("rank", pa.int32()), ("interest", pa.string()),
                        ("score", pa.float64()), ("n_posts", pa.int32()), ("posts", pa.list_(pa.string()))])
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    with atomic_folder(local_path(out)) as staging:
        pq.write_table(table, staging / "part-00000.parquet")


def run_local(posts_path, out, uris, options: RankingOptions, fusion, media, log=_quiet, cache: bool = True) -> dict:
    started = time.perf_counter()
    posts = read_posts_table(posts_path, media)
    posts = consent.without_opted_out(posts, consent.opted_out_users(posts_path))  # never ranked
    log(f"{posts_path}: {len(posts)} posts of {len({p.user_id for p in posts})} users")
    pipeline = ranking.build_pipeline(uris, options, fusion, (), media, cache=cache, log=log)
    users = pipeline.rank(posts, log=log)
    frame = frame_of(users)
    write_frame(frame, out)
    seconds = time.perf_counter() - started
    log(f"wrote {len(frame)} rows for {frame['user_id'].nunique()} users to {out} in {seconds:.1f}s")
    return {"engine": "local", "posts": len(posts), "users": int(frame["user_id"].nunique()), "rows": len(frame),
            "seconds": seconds}


# --- the Spark engine ------------------------------------------------------------------


def write_spark(result, out: str) -> None:
    """A Spark DataFrame as a Parquet dataset: beside ``out`` first, then renamed into place."""
    if is_uri(out):  # object stores: Spark's committer writes the dataset whole
        result.write.mode("overwrite").parquet(out)
        return
    target = local_path(out).resolve()
    staging = target.parent / f".{target.name}.writing-{uuid.uuid4().hex[:8]}"
    try:
        result.write.parquet(str(staging))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_spark(posts_path, out, uris, options: RankingOptions, fusion, media_root, master, log=_quiet,
              log_dir=None) -> dict:
    started = time.perf_counter()
    spark = engine.session(master, log_dir, log)
    # a local path as this process sees it (Spark's JVM may have started in another folder)
    where = str(posts_path) if is_uri(str(posts_path)) else str(local_path(posts_path).resolve())
    with spark_errors("reading the posts"):
        frame = spark_posts.read_posts(spark, where)
        frame = consent.spark_without_opted_out(frame, str(posts_path))  # never ranked
    window, counts = engine.prepared_posts(frame, options, str(posts_path))
    log(f"{posts_path}: {counts['posts']} posts of {counts['users']} users")
    with tempfile.TemporaryDirectory(prefix="interestkit-spark-models-") as workdir:
        refs = engine.model_refs(uris.get("text"), uris.get("image"), options.mode, workdir)
        model_udfs = engine.scoring.udfs(spark, refs, options.calibrate, media_root)
        scored = engine.scoring.score(spark, window, model_udfs).cache()
    stage = time.perf_counter()
    with spark_errors("scoring the posts"):
        per_modality = {row["modality"]: row["count"] for row in scored.groupBy("modality").count().collect()}
    log(f"scored {per_modality.get('text', 0)} captions and {per_modality.get('image', 0)} photos "
        f"with spark_udf in {time.perf_counter() - stage:.1f}s")
    stage = time.perf_counter()
    result = engine.rank_prepared(spark, window, refs, options, fusion, media_root, scored)
    with spark_errors("ranking the users"):
        write_spark(result.orderBy("user_id", "rank"), out)
        summary = spark.read.parquet(str(out)).agg({"user_id": "count"}).first()[0]
    scored.unpersist()
    seconds = time.perf_counter() - started
    log(f"ranked users and wrote {summary} rows to {out} in {time.perf_counter() - stage:.1f}s "
        f"({seconds:.1f}s in all)")
    return {"engine": "spark", "master": master, "posts": counts["posts"], "users": counts["users"],
            "rows": summary, "seconds": seconds}


# --- the command's use case ------------------------------------------------------------


def batch(posts_path, out, *, engine="local", master="local[2]", text_model=ranking.TEXT_URI,
          image_model=ranking.IMAGE_URI, fusion="score_sum", fusion_weights=None, options=None, media_root=None,
          allow_outside=False, overwrite=False, log=_quiet, log_dir=None, cache: bool = True) -> dict:
    """Validate the options, then run ``engine``; returns a summary (posts, users, rows, seconds).

    ``cache``: the local engine reads photo features through the feature cache (Spark's
    executors do not)."""
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    ranking_options = RankingOptions.from_dict(options or {})
    spec = ranking.fusion_spec(fusion, fusion_weights, log)
    check_out(str(out), overwrite)
    uris = {"text": text_model, "image": image_model}
    if engine == "local":
        if is_uri(str(posts_path)) or is_uri(str(out)):
            raise ConfigError("the local engine reads and writes local files; use --engine spark for URIs")
        media = ranking.media_policy(local_path(posts_path), media_root, allow_outside)
        return run_local(posts_path, out, uris, ranking_options, spec, media, log, cache)
    if allow_outside:
        raise ConfigError("--allow-outside-paths is for the local engine; on Spark, photo paths are relative to "
                          "--media-root (or send the photos' bytes in image_bytes)")
    root = media_root or (None if is_uri(str(posts_path)) else str(local_path(posts_path).resolve().parent))
    if media_root:
        ranking.media_policy(None, media_root)  # the folder must exist
    return run_spark(posts_path, out, uris, ranking_options, spec, root, master, log, log_dir)
