"""``interestkit batch``: every user's top interests from a posts table, to a Parquet dataset.

Two engines run the same ranking:

* ``local``: the ``RankingPipeline`` in this process (what ``rank`` runs), over a JSONL,
  Parquet or CSV table read with pandas;
* ``spark``: ``interestkit.spark.batch`` on a Spark session (``--master``), where posts are
  scored by ``mlflow.pyfunc.spark_udf`` and each user ranked by the same user level in a
  grouped map. It registers itself in ``ENGINES`` when imported (the command line does),
  so this module never imports Spark.

Both write the rows of ``ranking.users.table_rows``: ``user_id, rank, interest, score,
n_posts, posts`` (``posts``: the contributing post ids), one row per user and top
interest, sorted by user and rank.
The dataset appears whole or not at all: it is written next to its destination first.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from ..adtech import consent
from ..atomic import atomic_folder
from ..data.posts import read_posts
from ..errors import ConfigError, DataError
from ..ranking.options import DEFAULT_FUSION, RankingOptions
from ..ranking.users import TABLE_COLUMNS, table_rows
from . import ranking

ENGINE_NAMES = ("local", "spark")
#: ``{name: runner}``: the local engine is here; ``interestkit.spark.batch`` adds ``spark`` when imported
ENGINES: dict[str, Callable] = {}


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


def frame_of(users):
    """The output table of ``RankingPipeline.rank``'s answers."""
    import pandas as pd

    rows = [row for user in users for row in table_rows(user)]
    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
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


def run_local(posts_path, out, uris, options: RankingOptions, fusion, media, log=_quiet, cache: bool = True,
              **_spark) -> dict:
    started = time.perf_counter()
    posts = read_posts(local_path(posts_path), media)
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


# --- the command's use case ------------------------------------------------------------


def batch(posts_path, out, options: RankingOptions | None = None, *, engine="local", master="local[2]",
          text_model=ranking.TEXT_URI, image_model=ranking.IMAGE_URI, fusion=DEFAULT_FUSION, fusion_weights=None,
          media_root=None, allow_outside=False, overwrite=False, log=_quiet, log_dir=None, cache: bool = True) -> dict:
    """Validate the inputs, then run ``engine``; returns a summary (posts, users, rows, seconds).

    ``cache``: the local engine reads photo features through the feature cache (Spark's
    executors do not)."""
    if engine not in ENGINE_NAMES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINE_NAMES)}, got {engine!r}")
    options = options or RankingOptions()
    spec = ranking.fusion_spec(fusion, fusion_weights, log)
    check_out(str(out), overwrite)
    uris = {"text": text_model, "image": image_model}
    if engine == "local":
        if is_uri(str(posts_path)) or is_uri(str(out)):
            raise ConfigError("the local engine reads and writes local files; use --engine spark for URIs")
        media = ranking.media_policy(local_path(posts_path), media_root, allow_outside)
        return run_local(posts_path, out, uris, options, spec, media, log, cache)
    if allow_outside:
        raise ConfigError("--allow-outside-paths is for the local engine; on Spark, photo paths are relative to "
                          "--media-root (or send the photos' bytes in image_bytes)")
    root = media_root or (None if is_uri(str(posts_path)) else str(local_path(posts_path).resolve().parent))
    if media_root:
        ranking.media_policy(None, media_root)  # the folder must exist
    if engine not in ENGINES:
        raise ConfigError(f"the {engine} engine is not loaded here: import interestkit.{engine}.batch first")
    return ENGINES[engine](posts_path, out, uris, options, spec, root, master, log, log_dir)
