"""Posts as a Spark DataFrame: read, validated like ``data.posts`` does it, windowed.

Columns in: ``user_id``, ``post_id`` (text, or integers), ``text``, ``image`` (a path under
the media root, or a ``data:image/...;base64,`` URI), ``image_bytes`` (the photo's bytes,
as Spark's ``binaryFile`` source gives them in ``content``), ``image_b64``, and
``created_at`` (ISO-8601 text, a timestamp or a date; no zone means UTC). Every problem
is the one-line ``DataError`` of ``data.posts`` (the same rules, the same message), naming
the file and line or the post, found before any model is asked anything (``validation``).

The window is a window function, with the rules of ``ranking.users.window``: undated
posts count as the oldest, and among equal times a later row is more recent. Recency
weights and everything after them are the user level's (``spark.users``).
"""

from __future__ import annotations

from ..errors import DataError
from .validation import check, raw_columns

FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def read_posts(spark, source: str, fmt: str | None = None):
    """A posts table (JSONL, Parquet or CSV: a file, a folder or any URI Spark reads)."""
    from pyspark.errors import AnalysisException

    fmt = fmt or posts_format(source)
    reader = spark.read
    if fmt == "csv":
        reader = reader.option("header", "true").option("multiLine", "true").option("escape", '"')
    try:
        return getattr(reader, fmt)(source)
    except AnalysisException as error:
        first = str(error).strip().splitlines()[0]
        raise DataError(f"{source}: cannot read posts as {fmt} ({first})") from None


def posts_format(source: str) -> str:
    """json, parquet or csv, from the name's suffix (a folder without one: parquet)."""
    name = str(source).rstrip("/").rsplit("/", 1)[-1].lower()
    for suffix, fmt in FORMATS.items():
        if name.endswith(suffix):
            return fmt
    if "." not in name:
        return "parquet"
    raise DataError(f"{source}: posts must be .jsonl, .parquet or .csv (a file, a folder or a URI)")


def normalized(df, source: str):
    """The posts with the columns typed and named as the pipeline expects, plus ``_order``
    (input order, for ties between equal times), ``_file`` (the file a row was read from,
    or '') and ``_raw`` (the fields as read): what ``validation.check`` checks. A value of a
    type a column does not take is left to the check, which names its row."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    fields = {f.name: f.dataType for f in df.schema.fields}
    if not fields:
        raise DataError(f"{source}: no posts (the table is empty)")
    for required in ("user_id", "post_id"):
        if required not in fields:
            raise DataError(f"{source}: no column {required!r} (posts need user_id, post_id, and text or a photo)")
    if not any(c in fields for c in ("text", "image", "image_bytes", "image_b64")):
        raise DataError(f"{source}: no column text, image, image_bytes or image_b64: a post needs a caption or a photo")
    text_like = (T.StringType, T.NullType)
    ids = (T.StringType, T.IntegerType, T.LongType, T.ShortType, T.ByteType, T.NullType)
    stamps = (T.TimestampType, T.TimestampNTZType, T.DateType)
    expected = {"user_id": ids, "post_id": ids, "text": text_like, "image": text_like, "image_b64": text_like,
                "image_bytes": (T.BinaryType, T.NullType), "created_at": (*text_like, *stamps)}

    def column(name, kind):
        usable = name in fields and isinstance(fields[name], expected[name])
        return F.col(name).cast(kind) if usable else F.lit(None).cast(kind)

    def blank_is_null(c):
        return F.when(F.trim(c) == "", F.lit(None)).otherwise(c)

    stamp = fields.get("created_at")
    created = (F.col("created_at").cast("timestamp") if isinstance(stamp, stamps)
               else F.expr("try_cast(trim(created_at) AS TIMESTAMP)") if isinstance(stamp, T.StringType)
               else F.lit(None).cast("timestamp"))
    image_b64 = blank_is_null(column("image_b64", "string"))
    columns = [
        F.trim(column("user_id", "string")).alias("user_id"),
        F.trim(column("post_id", "string")).alias("post_id"),
        blank_is_null(column("text", "string")).alias("text"),
        blank_is_null(column("image", "string")).alias("image"),
        F.coalesce(column("image_bytes", "binary"), F.unbase64(image_b64)).alias("image_bytes"),
        created.alias("created_at"),
        F.monotonically_increasing_id().alias("_order"),
    ]
    try:
        return df.select(*columns, F.input_file_name().alias("_file"), raw_columns(fields))
    except AnalysisException:  # a plan over several sources (posts joined with their photos' files):
        # Spark cannot say which file a row came from, so errors name the post instead
        return df.select(*columns, F.lit("").alias("_file"), raw_columns(fields))


def checked(posts, source: str, policy=None, limits=None) -> tuple:
    """``(posts less the checked columns, {posts, users})``: ``validation.check`` first."""
    counts = check(posts, source, policy, limits)
    return posts.drop("_file", "_raw"), counts


def windowed(posts, last: int):
    """Each user's ``last`` most recent posts (0: all): a SQL window function."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if last <= 0:
        return posts
    newest_first = Window.partitionBy("user_id").orderBy(F.col("created_at").isNotNull().desc(),
                                                          F.col("created_at").desc(), F.col("_order").desc())
    return posts.withColumn("_recency", F.row_number().over(newest_first)).filter(F.col("_recency") <= last) \
        .drop("_recency")
