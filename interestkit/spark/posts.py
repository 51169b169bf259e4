"""Posts as a Spark DataFrame: read, validated like ``data.posts`` does it, windowed.

Columns in: ``user_id``, ``post_id`` (text, or integers), ``text``, ``image`` (a path under
the media root, or a ``data:image/...;base64,`` URI), ``image_bytes`` (the photo's bytes,
as Spark's ``binaryFile`` source gives them in ``content``), ``image_b64``, and
``created_at`` (ISO-8601 text, a timestamp or a date; no zone means UTC). Every problem
is a one-line ``DataError`` naming the source and the post, found by one pass over the
data before any model is asked anything.

The window is a window function, with the rules of ``ranking.users.window``: undated
posts count as the oldest, and among equal times a later row is more recent. Recency
weights and everything after them are the user level's (``spark.users``).
"""

from __future__ import annotations

from ..errors import DataError

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
    (input order, for ties between equal times); ``DataError`` on a column of the wrong type."""
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
    ids = (T.StringType, T.IntegerType, T.LongType, T.ShortType, T.NullType)
    expected = {"user_id": ids, "post_id": ids, "text": text_like, "image": text_like, "image_b64": text_like,
                "image_bytes": (T.BinaryType, T.NullType), "created_at": (*text_like, T.TimestampType,
                                                                         T.TimestampNTZType, T.DateType)}
    for name, kinds in expected.items():
        if name in fields and not isinstance(fields[name], kinds):
            raise DataError(f"{source}: column {name!r} is {fields[name].simpleString()}, expected "
                            f"{'text or integers' if name.endswith('_id') else 'bytes' if name == 'image_bytes' else 'text'}"
                            f"{' or timestamps' if name == 'created_at' else ''}")

    def column(name, kind):
        return F.col(name).cast(kind) if name in fields else F.lit(None).cast(kind)

    def blank_is_null(c):
        return F.when(F.trim(c) == "", F.lit(None)).otherwise(c)

    stamp = fields.get("created_at")
    raw_time = column("created_at", "string")
    created = (F.col("created_at").cast("timestamp") if isinstance(stamp, (T.TimestampType, T.TimestampNTZType,
                                                                           T.DateType))
               else F.expr("try_cast(trim(created_at) AS TIMESTAMP)") if "created_at" in fields
               else F.lit(None).cast("timestamp"))
    image_b64 = blank_is_null(column("image_b64", "string"))
    return df.select(
        F.trim(column("user_id", "string")).alias("user_id"),
        F.trim(column("post_id", "string")).alias("post_id"),
        blank_is_null(column("text", "string")).alias("text"),
        blank_is_null(column("image", "string")).alias("image"),
        F.coalesce(column("image_bytes", "binary"), F.unbase64(image_b64)).alias("image_bytes"),
        image_b64.alias("_image_b64"),
        blank_is_null(raw_time).alias("_created_text"),
        created.alias("created_at"),
        F.monotonically_increasing_id().alias("_order"),
    )


def check(posts, source: str) -> dict:
    """``{posts, users}`` counts of valid posts, or ``DataError`` at the first problem
    (two Spark jobs: one over the rows, one for repeated post ids)."""
    from pyspark.sql import functions as F

    name = F.coalesce(F.col("post_id"), F.lit("?"))
    image = F.col("image")
    problems = [
        (F.col("user_id").isNull() | (F.col("user_id") == ""), "user_id must be a non-empty string"),
        (F.col("post_id").isNull() | (F.col("post_id") == ""), "post_id must be a non-empty string"),
        (F.col("text").isNull() & image.isNull() & F.col("image_bytes").isNull(),
         "has neither text nor a photo; a post needs at least one"),
        (image.isNotNull() & F.col("image_bytes").isNotNull(), "has both image and image_bytes/image_b64; send one photo"),
        (F.col("_image_b64").isNotNull() & F.col("image_bytes").isNull(), "image_b64 is not valid base64"),
        (image.isNotNull() & ~image.startswith("data:") & (image.startswith("/") | image.rlike(r"(^|/)\.\.(/|$)")),
         "image must be a path inside the media root; absolute paths and '..' are refused"),
        (F.col("_created_text").isNotNull() & F.col("created_at").isNull(),
         "created_at is not an ISO-8601 date-time (e.g. 2026-01-31T12:00:00Z)"),
    ]
    got = F.concat(F.lit(" (got "), F.col("_created_text"), F.lit(")"))
    first = [F.first(F.when(bad, F.concat(F.lit("post "), name, F.lit(": "), F.lit(why),
                                          got if why.startswith("created_at") else F.lit(""))), ignorenulls=True)
             for bad, why in problems]
    row = posts.agg(F.count(F.lit(1)).alias("n"), F.countDistinct("user_id").alias("users"),
                    F.coalesce(*first).alias("problem")).first()
    if row["problem"]:
        raise DataError(f"{source}: {row['problem']}")
    if not row["n"]:
        raise DataError(f"{source}: no posts")
    repeated = posts.groupBy("post_id").count().filter("count > 1").select("post_id").first()
    if repeated is not None:
        raise DataError(f"{source}: duplicate post_id {repeated['post_id']!r} (post ids key the scores)")
    return {"posts": row["n"], "users": row["users"]}


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
