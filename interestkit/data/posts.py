"""Users' posts: one reader for posts tables and one parser for them and for request bodies.

A posts table is JSONL (one post per line), Parquet or CSV (``read_posts`` picks by suffix)::

    {"user_id": "u1", "post_id": "u1-p1", "text": "Birdie on 18!", "image": "media/p1.jpg",
     "created_at": "2026-01-01T12:00:00Z"}

``text`` or a photo may be missing (not both). The photo is ``image``, a path resolved by
the ``MediaPolicy`` (for a file: relative to the file's folder) or a
``data:image/...;base64,`` URI, or ``image_b64``, the photo's bytes in base64, or (in a
table or a DataFrame) ``image_bytes``, the bytes themselves.
``created_at`` is optional ISO-8601 (a date-time without a zone is read as UTC); a
``datetime`` or pandas ``Timestamp`` is accepted too. Every problem is a one-line
``DataError`` naming the file and line, or the request's record.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from ..errors import DataError
from .paths import MediaPolicy
from .tables import read_table


@dataclass(frozen=True)
class Post:
    """One post of one user.

    ``image`` is the photo's file (resolved by the media policy) or its bytes;
    ``image_ref`` the image as it was given (to store the post and read it again).
    ``line`` is the post's line in its file or its index in a request: among posts
    with equal times, a later line is more recent.
    """

    user_id: str
    post_id: str
    text: str | None
    image: Path | bytes | None
    created_at: datetime | None
    line: int
    image_ref: str | None = None

    def record(self) -> dict:
        """The post as a JSON-ready record that parses back to an equal post."""
        return {"user_id": self.user_id, "post_id": self.post_id, "text": self.text,
                "image": self.image_ref, "created_at": self.created_at.isoformat() if self.created_at else None}


@dataclass(frozen=True)
class RecordLimits:
    """Bounds on what one request may carry (``None``: no bound)."""

    max_posts: int | None = None
    max_text_chars: int | None = None
    max_image_bytes: int | None = None


# --- one post --------------------------------------------------------------------------


def parse_post(row: dict, where: str, line: int, policy: MediaPolicy, limits: RecordLimits | None = None) -> Post:
    """A validated ``Post`` from one record; ``where`` names it in errors (``file:line``), whose
    ``field`` is ``where.column`` (or ``where`` for the record as a whole)."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object with user_id, post_id, text, image, created_at", field=where)
    limits = limits or RecordLimits()
    user_id = identifier(where, row, "user_id")
    post_id = identifier(where, row, "post_id")
    text = optional_string(where, row, "text")
    if text is not None and limits.max_text_chars is not None and len(text) > limits.max_text_chars:
        raise DataError(f"{where}: text is {len(text)} characters, longer than the limit of {limits.max_text_chars}",
                        field=f"{where}.text")
    image_ref = optional_string(where, row, "image")
    inline = optional_string(where, row, "image_b64")
    raw = _optional_bytes(where, row, limits)
    if sum(x is not None for x in (image_ref, inline, raw)) > 1:
        given = [c for c, x in (("image", image_ref), ("image_b64", inline), ("image_bytes", raw)) if x is not None]
        raise DataError(f"{where}: post {post_id!r} has both {' and '.join(given)}; send one photo", field=where)
    if text is None and image_ref is None and inline is None and raw is None:
        raise DataError(f"{where}: post {post_id!r} has neither text nor image; a post needs at least one",
                        field=where)
    image = None
    if raw is not None:
        image = raw
        image_ref = f"data:image/*;base64,{base64.b64encode(raw).decode('ascii')}"
    elif inline is not None:
        image = _base64_image(inline, f"{where}: image_b64", limits, f"{where}.image_b64")
        image_ref = f"data:image/*;base64,{inline}"
    elif image_ref is not None:
        image = _image(image_ref, f"{where}: column 'image'", policy, limits, f"{where}.image")
    created_at = parse_created_at(where, row.get("created_at"))
    return Post(user_id, post_id, text, image, created_at, line, image_ref)


def identifier(where: str, row: dict, column: str) -> str:
    """A non-empty string (an integer is accepted and turned into one)."""
    value = row.get(column)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: {column} must be a non-empty string (got {value!r})", field=f"{where}.{column}")
    return value.strip()


def optional_string(where: str, row: dict, column: str) -> str | None:
    """A string value, or None for null, absent, NaN or blank."""
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if not isinstance(value, str):
        raise DataError(f"{where}: {column} must be a string or null (got {type(value).__name__} {value!r})",
                        field=f"{where}.{column}")
    return value if value.strip() else None


def _optional_bytes(where: str, row: dict, limits: RecordLimits) -> bytes | None:
    """``image_bytes``: the photo's bytes (a Parquet binary column, Spark's ``binaryFile``), or None."""
    value = row.get("image_bytes")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise DataError(f"{where}: image_bytes must be bytes or null (got {type(value).__name__})",
                        field=f"{where}.image_bytes")
    value = bytes(value)
    if limits.max_image_bytes is not None and len(value) > limits.max_image_bytes:
        raise DataError(f"{where}: the photo is larger than the limit of {limits.max_image_bytes} bytes",
                        field=f"{where}.image_bytes")
    return value or None


def _image(value: str, where: str, policy: MediaPolicy, limits: RecordLimits, field: str) -> Path | bytes:
    if value.startswith("data:"):
        header, _, payload = value.partition(",")
        if ";base64" not in header or not header.startswith("data:image/"):
            raise DataError(f"{where}: an image data URI must look like data:image/jpeg;base64,...", field=field)
        return _base64_image(payload, where, limits, field)
    try:
        return policy.resolve(value, where)
    except DataError as error:
        raise DataError(str(error), field=field) from None


def _base64_image(payload: str, where: str, limits: RecordLimits, field: str) -> bytes:
    cap = limits.max_image_bytes
    if cap is not None and len(payload) > cap * 4 // 3 + 4:
        raise DataError(f"{where}: the photo is larger than the limit of {cap} bytes", field=field)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise DataError(f"{where}: not valid base64", field=field) from None


def parse_created_at(where: str, value) -> datetime | None:
    """An aware datetime (no zone: UTC) from ISO-8601 text or a datetime; None stays None."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == "NaT":
        return None
    example = "e.g. 2026-01-31T12:00:00Z"
    if isinstance(value, datetime):
        moment = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        if not value.strip():
            return None
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise DataError(f"{where}: created_at {value!r} is not an ISO-8601 date-time ({example})",
                            field=f"{where}.created_at") from None
    else:
        raise DataError(f"{where}: created_at must be an ISO-8601 string ({example}), got {value!r}",
                        field=f"{where}.created_at")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# --- many posts ------------------------------------------------------------------------


POSTS_SUFFIXES = (".jsonl", ".parquet", ".csv")


def read_posts(path, policy: MediaPolicy | None = None, limits: RecordLimits | None = None) -> list[Post]:
    """Read and validate a posts table, the reader picked by its suffix: JSONL, Parquet (a
    file or a dataset folder) or CSV (with a header). Posts come back in table order;
    every problem is one line naming the file and the line (or Parquet row).

    Image paths resolve by ``policy`` (default: inside the table's folder); ``limits`` bound
    a post's text and photo as they bound a request's.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    kinds = f"{', '.join(POSTS_SUFFIXES[:-1])} or {POSTS_SUFFIXES[-1]}"
    if path.is_dir() and suffix != ".parquet":
        raise DataError(f"{path}: is a folder, expected a posts table ({kinds}; a Parquet dataset folder ends in "
                        ".parquet)")
    if suffix not in POSTS_SUFFIXES:
        raise DataError(f"{path}: posts must be {kinds} (got {suffix or 'no suffix'!r})")
    if not path.exists():
        raise DataError(f"{path}: file not found")
    policy = policy or MediaPolicy(path.parent)
    if suffix == ".parquet":
        rows = [(number, row, f"{path}: row {number}") for number, row in _parquet_rows(path)]
    else:
        rows = [(line, row, f"{path}:{line}") for line, row in read_table(path, required=("user_id", "post_id"))]
    if not rows:
        raise DataError(f"{path}: no posts")
    return _unique([parse_post(row, where, line, policy, limits) for line, row, where in rows], [w for _, _, w in rows],
                   lambda index: f"{'at row' if suffix == '.parquet' else 'on line'} {rows[index][0]}")


def load_posts(path, policy: MediaPolicy | None = None) -> list[Post]:
    """``read_posts`` (the name the Python API has had)."""
    return read_posts(path, policy)


def _parquet_rows(path: Path) -> list[tuple[int, dict]]:
    """``(row number from 1, record)`` of a Parquet file or dataset folder."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # not Parquet, a broken footer
        raise DataError(f"{path}: cannot read posts as Parquet ({' '.join(str(error).split())[:200]})") from None
    for column in ("user_id", "post_id"):
        if column not in table.column_names:
            raise DataError(f"{path}: missing column {column!r} (found {', '.join(table.column_names) or 'nothing'})",
                            field=column)
    return list(enumerate(table.to_pylist(), 1))


def posts_from_records(records, source: str, policy: MediaPolicy, default_user: str | None = None,
                       limits: RecordLimits | None = None) -> list[Post]:
    """Validated posts from a request's records; errors name ``source[index]``.

    With ``default_user`` (a URL's user), a record may omit ``user_id`` and may not name
    another user.
    """
    if not isinstance(records, list):
        raise DataError(f"{source}: expected a JSON array of posts, got {type(records).__name__}", field=source)
    limits = limits or RecordLimits()
    if limits.max_posts is not None and len(records) > limits.max_posts:
        raise DataError(f"{source}: {len(records)} posts in one request; at most {limits.max_posts} are accepted",
                        field=source)
    posts, wheres = [], []
    for index, record in enumerate(records):
        where = f"{source}[{index}]"
        if default_user is not None and isinstance(record, dict):
            given = record.get("user_id", default_user)
            if str(given) != str(default_user):
                raise DataError(f"{where}: user_id {given!r} does not match the URL's {default_user!r}",
                                field=f"{where}.user_id")
            record = dict(record, user_id=default_user)
        posts.append(parse_post(record, where, index, policy, limits))
        wheres.append(where)
    return _unique(posts, wheres, lambda index: f"at {source}[{index}]")


def _unique(posts: list[Post], wheres: list[str], first_name) -> list[Post]:
    """The posts, or DataError at the first repeated post_id (post ids key the scores)."""
    first: dict = {}
    for index, post in enumerate(posts):
        key = post.post_id
        if key in first:
            raise DataError(f"{wheres[index]}: duplicate post_id {post.post_id!r} (first {first_name(first[key])})",
                            field=f"{wheres[index]}.post_id")
        first[key] = index
    return posts


# --- windows ---------------------------------------------------------------------------


def by_user(posts) -> dict[str, list[Post]]:
    """``{user_id: [post, ...]}`` in input order; users in order of first appearance."""
    users: dict[str, list[Post]] = {}
    for post in posts:
        users.setdefault(post.user_id, []).append(post)
    return users


def recency_key(post: Post):
    """Sort key, oldest first: by created_at (undated posts count as oldest), then line."""
    moment = post.created_at
    return (moment is not None, moment or datetime.min.replace(tzinfo=timezone.utc), post.line)


def last_n(posts, n: int) -> tuple[list[Post], dict[str, str]]:
    """Each user's ``n`` most recent posts, and a warning for users who have fewer.

    Recency is ``created_at``; undated posts count as older than dated ones, and among
    equal times a later line is more recent. ``n <= 0`` keeps every post. Users with
    fewer than ``n`` posts keep all of them (they are not dropped); the returned
    ``{user_id: message}`` says so. Posts come back grouped by user, each user's oldest
    first.
    """
    kept: list[Post] = []
    warnings: dict[str, str] = {}
    for user_id, user_posts in by_user(posts).items():
        ordered = sorted(user_posts, key=recency_key)
        if n > 0 and len(ordered) < n:
            warnings[user_id] = f"only {len(ordered)} posts (fewer than the last {n} asked for); all were used"
        kept.extend(ordered[-n:] if n > 0 else ordered)
    return kept, warnings
