"""Consent in batch input: the optional ``opted_out`` column of a posts table.

A user with ``opted_out`` true on any of their posts is left out before ranking, so
their interests are neither computed, stored nor emitted. Accepted values: booleans,
``0``/``1``, the texts ``true``/``false``/``yes``/``no``/``1``/``0`` (any case), and
null or blank (not opted out). Anything else is an error naming the file and line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import DataError

COLUMN = "opted_out"
TRUE = {"true", "yes", "1"}
FALSE = {"false", "no", "0", ""}


def flag(value, where: str) -> bool:
    """One ``opted_out`` value as a bool; ``DataError`` naming ``where`` for anything else."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise DataError(f"{where}: {COLUMN} must be true or false (or 1/0, yes/no, blank), got {value!r}"[:300])


def opted_out_users(path) -> set:
    """The users a local posts table (JSONL, CSV or Parquet) marks as opted out; empty without the column."""
    path = Path(str(path).removeprefix("file://"))
    suffix = path.suffix.lower()
    found = set()
    if suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # the posts reader has already named a malformed line
                if isinstance(row, dict) and flag(row.get(COLUMN), f"{path}:{number}"):
                    found.add(str(row.get("user_id")).strip())
        return found
    import pandas as pd

    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        first_line = 2  # after the header
    else:
        import pyarrow.parquet as pq

        schema = pq.read_schema(next(path.rglob("*.parquet"))) if path.is_dir() else pq.read_schema(path)
        if COLUMN not in schema.names:
            return found
        frame = pq.read_table(path, columns=["user_id", COLUMN]).to_pandas()
        first_line = 1
    if COLUMN not in frame.columns:
        return found
    for number, (user_id, value) in enumerate(zip(frame["user_id"], frame[COLUMN]), first_line):
        if flag(value, f"{path}:{number}" if suffix == ".csv" else f"{path}: row {number}"):
            found.add(str(user_id).strip())
    return found


def without_opted_out(posts, users: set) -> list:
    """``posts`` less those of ``users``."""
    return [post for post in posts if post.user_id not in users] if users else list(posts)


def spark_without_opted_out(df, source: str):
    """A Spark posts DataFrame less every post of a user with ``opted_out`` true on any post."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if COLUMN not in df.columns:
        return df
    kind = df.schema[COLUMN].dataType
    if isinstance(kind, T.BooleanType):
        marked = F.coalesce(F.col(COLUMN), F.lit(False))
    elif isinstance(kind, T.NullType):
        return df.drop(COLUMN)
    else:
        text = F.lower(F.trim(F.col(COLUMN).cast("string")))
        bad = df.where(F.col(COLUMN).isNotNull() & ~text.isin(*(TRUE | FALSE))).select(COLUMN).first()
        if bad is not None:
            flag(bad[0], source)  # raises, naming the value
        marked = F.coalesce(text.isin(*TRUE), F.lit(False))
    opted = df.where(marked).select(F.trim(F.col("user_id").cast("string")).alias("_opted")).distinct()
    kept = df.join(opted, F.trim(F.col("user_id").cast("string")) == F.col("_opted"), "left_anti")
    return kept.drop(COLUMN)
