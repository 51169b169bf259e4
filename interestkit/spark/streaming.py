"""The ranking on a Structured Streaming source: each micro-batch updates the users it touches.

``start(spark, stream, out, ...)`` runs the pipeline over a streaming DataFrame of posts
(a folder of JSONL files, Kafka, ...) with ``foreachBatch``. Each micro-batch:

1. validates its posts (as ``rank`` does), scores only them, with the same
   ``spark_udf``s made once when the query starts;
2. adds them to the kept state (each user's window of posts and their scores; a post id
   sent again replaces the earlier post), keeps each user's last N posts;
3. re-ranks the users it touched with the one user-level function (``ranking.users``, in
   a grouped map: ``spark.users``) and merges them into the rankings.

``out`` holds ``state/<batch>/{posts,scores}``, ``rankings/<batch>`` (every user's
rankings after that batch, the columns of ``interestkit batch``) and ``current``, a link
to the newest rankings, swapped atomically: a reader of ``out/current`` never sees a
half-written batch. A batch that is replayed after a crash (same id) rewrites the same
folders from the state before it; older versions than the last two are removed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..atomic import atomic_write
from . import posts as posts_table
from . import media_policy, rank_prepared, scoring, user_level

POST_COLUMNS = ("user_id", "post_id", "created_at", "_order")

KEEP_VERSIONS = 2
ORDER_SPAN = 1 << 42  # a batch's row order numbers start at batch_id * ORDER_SPAN


def _latest(folder: Path, before: int) -> int | None:
    """The newest complete version below ``before`` (a version is complete once its marker exists)."""
    done = [int(p.name) for p in folder.glob("*") if p.name.isdigit() and (p / "_DONE").exists()]
    earlier = [v for v in done if v < before]
    return max(earlier) if earlier else None


def _prune(folder: Path, newest: int) -> None:
    versions = sorted(int(p.name) for p in folder.glob("*") if p.name.isdigit())
    for version in versions:
        if version < newest and version not in versions[-KEEP_VERSIONS:]:
            shutil.rmtree(folder / str(version), ignore_errors=True)


def _point(link: Path, target: Path) -> None:
    """``link`` -> ``target``, replaced atomically."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target.resolve(), target_is_directory=True)
    os.replace(temporary, link)


class MicroBatchRanker:
    """The ``foreachBatch`` function: state, scoring and rankings of one output folder."""

    def __init__(self, spark, out, refs: dict, options, fusion, media_root=None, source: str = "stream", ads=()):
        self.spark, self.out, self.refs = spark, Path(out).resolve(), refs  # Spark and Python agree on where
        self.options, self.source = options, source
        self.level = user_level(refs, options, fusion, ads)
        self.udfs = scoring.udfs(spark, refs, options.calibrate, media_root)
        self.policy = media_policy(media_root)  # what the image model's udf accepts
        self.batches: list[dict] = []  # what each micro-batch did: {batch, posts, users}

    def __call__(self, batch, batch_id: int) -> None:
        from pyspark.sql import functions as F

        if batch.isEmpty():
            return
        new = posts_table.normalized(batch, self.source).withColumn(
            "_order", F.lit(batch_id).cast("long") * ORDER_SPAN + F.col("_order"))
        new, counts = posts_table.checked(new, f"{self.source} batch {batch_id}", self.policy)
        state, rankings = self.out / "state", self.out / "rankings"
        previous = _latest(state, batch_id)
        new_posts = new.cache()
        touched = new_posts.select("user_id").distinct()
        scored_new = scoring.score(self.spark, new_posts, self.udfs).cache()
        kept_posts, kept_scores = self._kept(state, previous, new_posts)
        all_posts = kept_posts.unionByName(new_posts.select(*POST_COLUMNS))
        window = posts_table.windowed(all_posts, self.options.last)
        scores = kept_scores.unionByName(scored_new).join(window.select("post_id"), "post_id")
        version = state / str(batch_id)
        shutil.rmtree(version, ignore_errors=True)
        window.select(*POST_COLUMNS).write.parquet(str(version / "posts"))
        scores.write.parquet(str(version / "scores"))
        atomic_write(version / "_DONE", "")
        self._rank(rankings, batch_id, version, touched)
        new_posts.unpersist()
        scored_new.unpersist()
        _prune(state, batch_id)
        _prune(rankings, batch_id)
        self.batches.append({"batch": batch_id, "posts": counts["posts"], "users": counts["users"]})

    def _kept(self, state: Path, previous: int | None, new_posts):
        """The state before this batch, without the posts this batch sends again."""
        read = self.spark.read
        if previous is None:
            posts = new_posts.select(*POST_COLUMNS).limit(0)
            scores = self.spark.createDataFrame([], "user_id string, post_id string, created_at timestamp, "
                                                    "_order long, modality string, p array<double>")
            return posts, scores
        again = new_posts.select("post_id")
        posts = read.parquet(str(state / str(previous) / "posts")).join(again, "post_id", "left_anti")
        scores = read.parquet(str(state / str(previous) / "scores")).join(again, "post_id", "left_anti")
        return posts, scores

    def _rank(self, rankings: Path, batch_id: int, version: Path, touched) -> None:
        read = self.spark.read
        window = read.parquet(str(version / "posts")).join(touched, "user_id")  # each user's kept window
        scores = read.parquet(str(version / "scores")).join(touched, "user_id")
        fresh = rank_prepared(window, scores, self.refs, self.level)
        before = _latest(rankings, batch_id)
        if before is not None:
            fresh = read.parquet(str(rankings / str(before))).join(touched, "user_id", "left_anti").unionByName(fresh)
        target = rankings / str(batch_id)
        shutil.rmtree(target, ignore_errors=True)
        fresh.orderBy("user_id", "rank").write.parquet(str(target))
        atomic_write(target / "_DONE", "")
        _point(self.out / "current", target)


def start(spark, stream, out, refs: dict, options, fusion, media_root=None, checkpoint=None,
          available_now: bool = False, source: str = "stream", ads=()):
    """Start the query; returns ``(StreamingQuery, MicroBatchRanker)``. ``ads``: the catalogue
    whose ads each user's rankings carry (``Ad`` objects; none: no ``ads`` column)."""
    ranker = MicroBatchRanker(spark, out, refs, options, fusion, media_root, source, ads)
    writer = stream.writeStream.foreachBatch(ranker).option(
        "checkpointLocation", str(Path(checkpoint).resolve() if checkpoint else ranker.out / "_checkpoint"))
    writer = writer.trigger(availableNow=True) if available_now else writer
    return writer.start(), ranker


POSTS_SCHEMA = "user_id string, post_id string, text string, image string, created_at string"


def read_stream(spark, folder, max_files_per_trigger: int | None = None, schema: str = POSTS_SCHEMA):
    """A folder of JSONL posts files as a streaming source (a file is read once, when it appears)."""
    reader = spark.readStream.schema(schema)
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", int(max_files_per_trigger))
    return reader.json(str(folder) if "://" in str(folder) else str(Path(folder).resolve()))
