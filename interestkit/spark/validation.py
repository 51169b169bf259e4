"""Posts on Spark checked by the rules of ``data.posts``: the same fields, the same messages.

Spark finds the rows that may break a rule with cheap column expressions (``suspect``: every
row the rules refuse is among them, and almost no other), collects the first few in input
order and hands each to ``data.posts.parse_post``, the one parser the local reader and
requests use; its ``DataError`` is the message. Repeated post ids are found by a group-by
and named as ``data.posts`` names them. A row is named by its file and line (or Parquet
row) where Spark read it from a local file, by its file and row for other files, and by
its ``user_id`` and ``post_id`` in a DataFrame that came from elsewhere.

What Spark cannot check cheaply is left to the executors: an image path that leads out of
the media root through a link is refused by the image model's own path policy.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..data.paths import MAX_PATH_CHARS, MediaPolicy
from ..data.posts import RecordLimits, parse_post
from ..errors import DataError

#: every string ``base64.b64decode(s, validate=True)`` accepts (a whole value: Python's
#: ``re.fullmatch``, or ``whole`` for Spark's Java regex)
BASE64 = r"(([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)|([A-Za-z0-9+/]{4})+=*)?"
#: a data URI ``data.posts`` accepts: an image type, base64, the payload after the first comma
DATA_URI = rf"data:image/[^,]*;base64[^,]*(,{BASE64})?"
#: the ISO-8601 forms Spark's timestamp cast and ``datetime.fromisoformat`` read alike
ISO_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
BLANK = r"(?U)^\s*\z"  # Python's str.strip() notion of blank
OUTSIDE = r"(^|/)\.\.(/|\z)"
CONTROL = r"[\x00-\x1f\x7f]"


def whole(pattern: str) -> str:
    """``pattern`` matching a whole value in Java (``$`` would let a final line break through)."""
    return f"^(?:{pattern})\\z"


FIELDS = ("user_id", "post_id", "text", "image", "image_b64", "image_bytes", "created_at")
PAGE = 200  # suspect rows collected at a time


def raw_columns(fields: dict):
    """``_raw``: a struct of the post fields as read (what ``parse_post`` is given)."""
    from pyspark.sql import functions as F

    return F.struct(*[F.col(name) for name in FIELDS if name in fields]).alias("_raw")


def suspect(fields: dict, policy: MediaPolicy, limits: RecordLimits):
    """A boolean column: true for every row the rules of ``data.posts`` may refuse."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    def raw(name):
        return F.col(f"_raw.{name}")

    def is_text(name):
        return isinstance(fields.get(name), T.StringType)

    def present(name):  # a value the rules count as given
        if name not in fields or isinstance(fields[name], T.NullType):
            return F.lit(False)
        if is_text(name):
            return raw(name).isNotNull() & ~raw(name).rlike(BLANK)
        return raw(name).isNotNull()

    def wrong_type(name, *kinds):  # any value of a type the rule does not take: it says what it expects
        kind = fields.get(name)
        return raw(name).isNotNull() if kind is not None and not isinstance(kind, (T.NullType, *kinds)) else None

    checks = []
    for name in ("user_id", "post_id"):
        integral = (T.IntegerType, T.LongType, T.ShortType, T.ByteType)
        checks.append(raw(name).isNull() | (raw(name).rlike(BLANK) if is_text(name) else F.lit(False)))
        checks.append(wrong_type(name, T.StringType, *integral))
    for name in ("text", "image", "image_b64"):
        checks.append(wrong_type(name, T.StringType))
    checks.append(wrong_type("image_bytes", T.BinaryType))
    checks.append(wrong_type("created_at", T.StringType, T.TimestampType, T.TimestampNTZType, T.DateType))
    if limits.max_text_chars is not None and is_text("text"):
        checks.append(F.length(raw("text")) > limits.max_text_chars)
    photos = [present(name) for name in ("image", "image_b64", "image_bytes")]
    checks.append(sum(p.cast("int") for p in photos) > 1)
    checks.append(~present("text") & ~(photos[0] | photos[1] | photos[2]))
    cap = limits.max_image_bytes
    b64_cap = cap * 4 // 3 + 4 if cap is not None else None
    if is_text("image"):
        value = raw("image")
        uri = value.startswith("data:")
        bad_uri = ~value.rlike(whole(DATA_URI))
        if b64_cap is not None:
            bad_uri = bad_uri | (F.length(value) - F.instr(value, ",") > b64_cap)
        if policy.root is None and not policy.allow_outside:
            bad_path = F.lit(True)
        else:
            bad_path = (F.length(value) > MAX_PATH_CHARS) | value.rlike(CONTROL)
            if not policy.allow_outside:
                bad_path = bad_path | value.startswith("/") | value.rlike(OUTSIDE)
        checks.append(present("image") & F.when(uri, bad_uri).otherwise(bad_path))
    if is_text("image_b64"):
        bad = ~raw("image_b64").rlike(whole(BASE64))
        if b64_cap is not None:
            bad = bad | (F.length(raw("image_b64")) > b64_cap)
        checks.append(present("image_b64") & bad)
    if cap is not None and isinstance(fields.get("image_bytes"), T.BinaryType):
        checks.append(F.length(raw("image_bytes")) > cap)
    if is_text("created_at"):
        text = F.trim(raw("created_at"))
        checks.append(present("created_at") & (~text.rlike(whole(ISO_TIME)) | F.col("created_at").isNull()))
    flagged = F.lit(False)
    for check in checks:
        if check is not None:
            flagged = flagged | F.coalesce(check, F.lit(False))
    return flagged


def check(posts, source: str, policy: MediaPolicy | None = None, limits: RecordLimits | None = None) -> dict:
    """``{posts, users}`` counts, or the ``DataError`` of ``data.posts`` for the first bad
    post (one Spark job over the rows, one for repeated post ids; more only to name a bad one).

    ``posts`` is ``spark.posts.normalized``'s frame; ``policy`` is the image paths' policy
    (default: paths inside the current folder).
    """
    from pyspark.sql import functions as F

    policy = policy or MediaPolicy(Path("."))
    limits = limits or RecordLimits()
    fields = {f.name: f.dataType for f in posts.schema["_raw"].dataType.fields}
    flagged = suspect(fields, policy, limits)
    row = posts.agg(F.count(F.lit(1)).alias("n"), F.countDistinct("user_id").alias("users"),
                    F.min(F.when(flagged, F.col("_order"))).alias("first")).first()
    if row["first"] is not None:
        _first_refusal(posts, flagged, row["first"], source, policy, limits)
    if not row["n"]:
        raise DataError(f"{source}: no posts")
    repeated = posts.groupBy("post_id").agg(F.count(F.lit(1)).alias("_n"), F.min("_order").alias("_first")) \
        .filter("_n > 1")
    if repeated.first() is not None:
        again = posts.join(repeated, "post_id").filter(F.col("_order") > F.col("_first")).orderBy("_order").first()
        where, _ = _place(posts, again, source)
        _, first = _place(posts, posts.filter(F.col("_order") == again["_first"]).first(), source)
        raise DataError(f"{where}: duplicate post_id {again['post_id']!r} (first {first})", field=f"{where}.post_id")
    return {"posts": row["n"], "users": row["users"]}


def _first_refusal(posts, flagged, start, source, policy, limits) -> None:
    """Raise the rules' error for the first flagged row that breaks one (in input order)."""
    from pyspark.sql import functions as F

    while start is not None:
        page = posts.filter(flagged & (F.col("_order") >= start)).orderBy("_order") \
            .select("_raw", "_order", "_file", F.unix_micros(F.col("created_at")).alias("_micros")).limit(PAGE).collect()
        for row in page:
            record = row["_raw"].asDict(recursive=True)
            if _suffix(row["_file"]) == ".csv":  # Spark reads an empty CSV cell as null, the rules as ''
                record = {name: "" if value is None else value for name, value in record.items()}
            where, _ = _place(posts, row, source)
            post = parse_post(record, where, 0, policy, limits)  # raises the local reader's error
            micros = post.created_at.timestamp() * 1e6 if post.created_at is not None else None
            if micros is not None and (row["_micros"] is None or not math.isclose(micros, row["_micros"], abs_tol=1)):
                raise DataError(f"{where}: created_at {record['created_at']!r} is a date-time Spark reads otherwise; "
                                "write it as e.g. 2026-01-31T12:00:00Z", field=f"{where}.created_at")
        start = page[-1]["_order"] + 1 if len(page) == PAGE else None


def _place(posts, row, source: str) -> tuple[str, str]:
    """How errors name ``row`` (its file and line or row, else its user_id and post_id), and
    how a later row's error points back at it, as ``data.posts`` does."""
    from pyspark.sql import functions as F

    file = row["_file"] or ""
    if not file:
        raw = row["_raw"]
        where = f"{source}: post {raw['post_id']!r} of user {raw['user_id']!r}"
        return where, f"at {where.partition(': ')[2]}"
    number = posts.filter((F.col("_file") == file) & (F.col("_order") < row["_order"])).count() + 1
    parsed = urlparse(file)
    path = Path(unquote(parsed.path)) if parsed.scheme in ("", "file") else None
    if path is not None and path.resolve() == Path(source).resolve():
        path = Path(source)  # named as it was given, as the local reader names it
    if path is not None and path.suffix.lower() in (".jsonl", ".json", ".csv") and path.is_file():
        line = _line_of(path, number)
        return f"{path}:{line}", f"on line {line}"
    return f"{path or file}: row {number}", f"at row {number}"


def _suffix(file) -> str:
    return Path(unquote(urlparse(file or "").path)).suffix.lower()


def _line_of(path: Path, number: int) -> int:
    """The line where the ``number``-th record of a JSONL or CSV file starts (blank lines
    skipped, a CSV's header and quoted line breaks counted), as ``data.tables`` numbers lines."""
    with path.open(encoding="utf-8-sig", newline="" if path.suffix.lower() == ".csv" else None) as lines:
        if path.suffix.lower() != ".csv":
            seen = 0
            for line_number, line in enumerate(lines, 1):
                seen += bool(line.strip())
                if seen == number:
                    return line_number
            return line_number
        reader = csv.reader(lines)
        next(reader, None)
        seen, start = 0, reader.line_num + 1
        for values in reader:
            if values and values != [""]:
                seen += 1
                if seen == number:
                    return start
            start = reader.line_num + 1
        return start
