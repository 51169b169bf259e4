"""User labels for evaluation: each user's primary interest and, optionally, others.

A TSV (or CSV/JSONL) with ``user_id``, ``interest`` and an optional comma-separated
``other_interests``. Every problem is a one-line ``DataError`` naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .posts import identifier
from .tables import read_table


@dataclass(frozen=True)
class UserLabel:
    """What a user is known to be interested in: one primary interest, maybe others."""

    user_id: str
    interest: str
    others: tuple[str, ...] = field(default_factory=tuple)


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
        user_id = identifier(f"{path}:{line}", row, "user_id")
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
