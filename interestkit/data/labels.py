"""User labels for evaluation: each user's primary interest and, optionally, others.

A TSV (or CSV/JSONL) with ``user_id``, ``interest`` and an optional comma-separated
``other_interests``. Every problem is a one-line ``DataError`` naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError, suggest
from .posts import identifier
from .tables import read_table


@dataclass(frozen=True)
class UserLabel:
    """What a user is known to be interested in: one primary interest, maybe others."""

    user_id: str
    interest: str
    others: tuple[str, ...] = field(default_factory=tuple)
    line: int = field(default=0, compare=False)  # in its file, for messages


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
        labels[user_id] = UserLabel(user_id, interest.strip(), _others(path, line, row.get("other_interests")), line)
    return labels


def _others(path: Path, line: int, value) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, str):
        raise DataError(f"{path}:{line}: other_interests must be comma-separated text (got {value!r})")
    return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def label_problems(labels: dict, path, posts, known_interests, posts_source=None) -> tuple[list[str], list[str]]:
    """What would make an evaluation on ``labels`` quietly wrong: ``(messages, users without posts)``.

    Each message names the labels file's line and the user: a labelled user without posts,
    an interest the models do not know, one that differs from a known one only in case
    (``known_interests`` None: only users are checked).
    """
    users_with_posts = {post.user_id for post in posts}
    known = set(known_interests) if known_interests is not None else None
    by_case = {interest.casefold(): interest for interest in known or ()}
    where = f" in {posts_source}" if posts_source else ""
    messages, without = [], []
    for user_id, label in labels.items():
        at = f"{path}:{label.line}" if label.line else str(path)
        if user_id not in users_with_posts:
            messages.append(f"{at}: user {user_id!r} has no posts{where}")
            without.append(user_id)
        for interest in (label.interest, *label.others) if known is not None else ():
            if interest in known:
                continue
            twin = by_case.get(interest.casefold())
            if twin:
                messages.append(f"{at}: interest {interest!r} of user {user_id!r} differs only in case from the "
                                f"models' {twin!r}")
            else:
                messages.append(f"{at}: interest {interest!r} of user {user_id!r} is not one the models know"
                                f"{suggest(interest, known)}")
    return messages, without
