"""Ad-tech outputs of a rankings dataset on Spark: an audience, and segment rows per user.

The segment rows come from the same pure function as the local engine's
(``adtech.tables.segments_frame``), run per user in a grouped map (``applyInPandas``).
"""

from __future__ import annotations

from pathlib import Path

from ..adtech.openrtb import SegmentRules
from ..adtech.tables import AUDIENCE_COLUMNS, RANKING_COLUMNS, segments_frame
from ..app.audience import RUNNERS, check_interest, is_uri
from .session import session, spark_errors


def audience(rankings, interest: str, min_score: float = 0.0, top: int | None = None):
    """The users of ``interest`` in a rankings DataFrame: best score first (ties by user id), at most ``top``."""
    from pyspark.sql import functions as F

    chosen = rankings.where((F.col("interest") == interest) & (F.col("score") >= float(min_score)))
    chosen = chosen.orderBy(F.col("score").desc(), F.col("user_id").asc()).select(*AUDIENCE_COLUMNS)
    return chosen.limit(top) if top is not None else chosen


def interests(rankings) -> list[str]:
    """The interests a rankings DataFrame holds, sorted."""
    return sorted(row["interest"] for row in rankings.select("interest").distinct().collect())


def segments(rankings, mapping: dict, rules: SegmentRules = SegmentRules()):
    """The segments table (``adtech.tables.SEGMENT_COLUMNS``) of a rankings DataFrame, one group per user."""
    from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType

    schema = StructType([StructField("user_id", StringType()), StructField("segtax", IntegerType()),
                         StructField("segment_id", StringType()), StructField("interest", StringType()),
                         StructField("score", DoubleType()), StructField("rank", IntegerType())])

    def per_user(frame):
        return segments_frame(frame, mapping, rules)

    return rankings.select(*RANKING_COLUMNS).groupBy("user_id").applyInPandas(per_user, schema)


def run_audience(rankings_path, interest: str, min_score: float, top: int | None, master: str, log, log_dir=None):
    """``audience --engine spark``: the audience of a rankings dataset Spark reads, as a pandas frame."""
    spark = session(master, log_dir, log)
    where = str(rankings_path) if is_uri(rankings_path) else str(Path(rankings_path).resolve())
    with spark_errors("reading the rankings"):
        frame = spark.read.parquet(where).select(*RANKING_COLUMNS)
        check_interest(interest, set(interests(frame)), rankings_path)
        result = audience(frame, interest, min_score, top).toPandas()
    return result.astype({"user_id": str, "interest": str, "score": "float64", "rank": "int32"})


RUNNERS["spark"] = run_audience
