"""``interestkit batch --engine spark``: the Spark engine of ``app.batch``, registered there on import.

Spark reads and validates the posts table, windows each user's posts with a window
function, scores them with ``mlflow.pyfunc.spark_udf`` and ranks each user with the one
user level in a grouped map (``interestkit.spark``); the rankings are written as a
Parquet dataset next to ``--out`` first, then moved into place.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid

from ..adtech import consent
from ..app.batch import ENGINES, is_uri, local_path
from ..ranking.options import RankingOptions
from . import posts as spark_posts
from . import media_policy, prepared_posts, model_refs, rank_prepared, scoring, session, user_level
from .session import spark_errors


def _quiet(message):
    pass


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
    spark = session(master, log_dir, log)
    # a local path as this process sees it (Spark's JVM may have started in another folder)
    where = str(posts_path) if is_uri(str(posts_path)) else str(local_path(posts_path).resolve())
    policy = media_policy(media_root)  # what the executors' image model accepts
    with spark_errors("reading the posts"):
        frame = spark_posts.read_posts(spark, where)
        # every row checked as the local engine checks it (opted-out users' rows too), then left out
        checked = spark_posts.normalized(frame, str(posts_path))
        _, counts = spark_posts.checked(checked, str(posts_path), policy)
        kept = consent.spark_without_opted_out(frame, str(posts_path))  # never ranked
    window, kept_counts = prepared_posts(kept, options, str(posts_path), check=kept is not frame,
                                        policy=policy)
    counts = kept_counts or counts
    log(f"{posts_path}: {counts['posts']} posts of {counts['users']} users")
    with tempfile.TemporaryDirectory(prefix="interestkit-spark-models-") as workdir:
        refs = model_refs(uris.get("text"), uris.get("image"), options.mode, workdir)
        model_udfs = scoring.udfs(spark, refs, options.calibrate, media_root)
        workers = scoring.worker_runtime(spark)
        log(f"workers score with runtime {workers[scoring.RUNTIME_ENV]} (an export where the model has one), "
            f"{workers[scoring.THREADS_ENV]} ONNX Runtime intra-op thread(s) a task; each logs its models to Spark's log")
        scored = scoring.score(spark, window, model_udfs).cache()
    stage = time.perf_counter()
    with spark_errors("scoring the posts"):
        per_modality = {row["modality"]: row["count"] for row in scored.groupBy("modality").count().collect()}
    log(f"scored {per_modality.get('text', 0)} captions and {per_modality.get('image', 0)} photos "
        f"with spark_udf in {time.perf_counter() - stage:.1f}s")
    stage = time.perf_counter()
    result = rank_prepared(window, scored, refs, user_level(refs, options, fusion))
    with spark_errors("ranking the users"):
        write_spark(result.orderBy("user_id", "rank"), out)
        summary = spark.read.parquet(str(out)).agg({"user_id": "count"}).first()[0]
    scored.unpersist()
    seconds = time.perf_counter() - started
    log(f"ranked users and wrote {summary} rows to {out} in {time.perf_counter() - stage:.1f}s "
        f"({seconds:.1f}s in all)")
    return {"engine": "spark", "master": master, "posts": counts["posts"], "users": counts["users"],
            "rows": summary, "seconds": seconds}


ENGINES["spark"] = run_spark
