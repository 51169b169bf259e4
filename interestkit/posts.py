"""Users' posts and their interest labels, validated on load.

Posts are JSONL, one post per line::

    {"user_id": "u1", "post_id": "u1-p1", "text": "Birdie on 18!", "image": "media/p1.jpg",
     "created_at": "2026-01-01T12:00:00Z"}

``text`` or ``image`` may be null (not both); ``image`` is a path relative to the posts
file's folder; ``created_at`` is optional ISO-8601 (a date-time without a zone is read
as UTC). User labels are a TSV (or CSV/JSONL) with ``user_id``, ``interest`` and an
optional comma-separated ``other_interests``.

Every problem is a one-line ``DataError`` naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .data import read_table, resolve_relative
from .errors import DataError


@dataclass(frozen=True)
class Post:
    """One post of one user. ``line`` is its line in the posts file (file order)."""

    user_id: str
    post_id: str
    text: str | None
    image: Path | None
    created_at: datetime | None
    line: int


@dataclass(frozen=True)
class UserLabel:
    """What a user is known to be interested in: one primary interest, maybe others."""

    user_id: str
    interest: str
    others: tuple[str, ...] = field(default_factory=tuple)


# --- posts ---------------------------------------------------------------------------


def load_posts(path, allow_outside: bool = False) -> list[Post]:
    """Read and validate a posts JSONL file; posts come back in file order.

    Image paths are relative to the posts file's folder; absolute paths and ``..`` are
    refused unless ``allow_outside`` is true. Every image must exist.
    """
    path = Path(path)
    if path.suffix.lower() != ".jsonl":
        raise DataError(f"{path}: posts must be a .jsonl file (one JSON object per line)")
    rows = read_table(path, required=("user_id", "post_id"))
    posts, first_line = [], {}
    for line, row in rows:
        post = _post_from_row(path, line, row, allow_outside)
        if post.post_id in first_line:
            raise DataError(
                f"{path}:{line}: duplicate post_id {post.post_id!r} (first on line {first_line[post.post_id]})")
        first_line[post.post_id] = line
        posts.append(post)
    return posts


def _post_from_row(path: Path, line: int, row: dict, allow_outside: bool) -> Post:
    user_id = identifier(path, line, row, "user_id")
    post_id = identifier(path, line, row, "post_id")
    text = optional_string(path, line, row, "text")
    image_name = optional_string(path, line, row, "image")
    if text is None and image_name is None:
        raise DataError(f"{path}:{line}: post {post_id!r} has neither text nor image; a post needs at least one")
    image = _image_path(path, line, image_name, allow_outside) if image_name is not None else None
    created_at = parse_created_at(path, line, row.get("created_at"))
    return Post(user_id, post_id, text, image, created_at, line)


def identifier(path: Path, line: int, row: dict, column: str) -> str:
    """A non-empty string (an integer is accepted and turned into one)."""
    value = row.get(column)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{path}:{line}: {column} must be a non-empty string (got {value!r})")
    return value.strip()


def optional_string(path: Path, line: int, row: dict, column: str) -> str | None:
    """A string value, or None for null, absent or blank."""
    value = row.get(column)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"{path}:{line}: {column} must be a string or null (got {type(value).__name__} {value!r})")
    return value if value.strip() else None


def _image_path(path: Path, line: int, relative: str, allow_outside: bool) -> Path:
    hint = " (or pass --allow-outside-paths)" if not allow_outside else ""
    try:
        file = resolve_relative(path, line, relative, "image", allow_outside=allow_outside)
    except DataError as error:
        raise DataError(f"{error}{hint}") from None
    if not file.is_file():
        raise DataError(f"{path}:{line}: image {relative!r} not found (paths are relative to {path.parent})")
    return file


def parse_created_at(path, line: int, value) -> datetime | None:
    """An ISO-8601 date or date-time as an aware datetime (no zone: UTC); None stays None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    example = "e.g. 2026-01-31T12:00:00Z"
    if not isinstance(value, str):
        raise DataError(f"{path}:{line}: created_at must be an ISO-8601 string ({example}), got {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise DataError(f"{path}:{line}: created_at {value!r} is not an ISO-8601 date-time ({example})") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def by_user(posts) -> dict[str, list[Post]]:
    """``{user_id: [post, ...]}`` in file order; users in order of first appearance."""
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
    equal times a later line in the file is more recent. ``n <= 0`` keeps every post.
    Users with fewer than ``n`` posts keep all of them (they are not dropped); the
    returned ``{user_id: message}`` says so. Posts come back grouped by user, each
    user's oldest first.
    """
    kept: list[Post] = []
    warnings: dict[str, str] = {}
    for user_id, user_posts in by_user(posts).items():
        ordered = sorted(user_posts, key=recency_key)
        if n > 0 and len(ordered) < n:
            warnings[user_id] = f"only {len(ordered)} posts (fewer than the last {n} asked for); all were used"
        kept.extend(ordered[-n:] if n > 0 else ordered)
    return kept, warnings


# --- labels --------------------------------------------------------------------------


def load_labels(path, posts=None, posts_source=None) -> dict[str, UserLabel]:
    """Read user labels; with ``posts``, every labelled user must have at least one post.

    Returns ``{user_id: UserLabel}`` in file order. ``posts_source`` names the posts file
    in error messages.
    """
    path = Path(path)
    rows = read_table(path, required=("user_id", "interest"))
    users_with_posts = {post.user_id for post in posts} if posts is not None else None
    labels: dict[str, UserLabel] = {}
    first_line: dict[str, int] = {}
    for line, row in rows:
        user_id = identifier(path, line, row, "user_id")
        interest = row.get("interest")
        if not isinstance(interest, str) or not interest.strip():
            raise DataError(f"{path}:{line}: interest must be a non-empty string (got {interest!r})")
        if user_id in first_line:
            raise DataError(f"{path}:{line}: user {user_id!r} is labelled twice (first on line {first_line[user_id]})")
        if users_with_posts is not None and user_id not in users_with_posts:
            where = f" in {posts_source}" if posts_source else ""
            raise DataError(f"{path}:{line}: user {user_id!r} has no posts{where}")
        first_line[user_id] = line
        labels[user_id] = UserLabel(user_id, interest.strip(), _others(path, line, row.get("other_interests")))
    return labels


def _others(path: Path, line: int, value) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, str):
        raise DataError(f"{path}:{line}: other_interests must be comma-separated text (got {value!r})")
    return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
