"""The serving state's audience index and opt-outs: who ranks which interest, and who said no.

Two tables beside the store's (same database, sqlite or PostgreSQL):

* ``serve_interests``: each user's current top interests (``user_id, interest, score,
  rank``), replaced when their posts change or are re-scored, indexed on ``(interest,
  score descending, user_id)`` so an audience page is one index range scan;
* ``serve_opt_outs``: users who opted out. Opting out deletes the user's posts, scores
  and interests in one transaction. Later posts of theirs are refused before they are
  scored; posts that raced the opt-out (stored by an update that began before it) are
  deleted again by the ``save`` that follows that update, and the request is refused.

A deleted or opted-out user's rows are gone, so they never appear in an audience: saving
an answer checks, under the user's row lock, that the user still exists and has not
opted out. Pages are ordered by score (best first), then user id, and continue from a
cursor (the last row's score and user id), so a page costs the same however deep it is.
"""

from __future__ import annotations

import base64
import json
import math
import time

import sqlalchemy as sa

from .store import metadata, posts, users

interests = sa.Table(
    "serve_interests", metadata,
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("interest", sa.String(200), primary_key=True),  # longer names (rare) are not indexed
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
)
# the order pages are read in: an audience page is one range scan, with no sort
sa.Index("serve_interests_audience", interests.c.interest, interests.c.score.desc(), interests.c.user_id)

opt_outs = sa.Table(
    "serve_opt_outs", metadata,
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
)

MAX_PAGE = 1000
MAX_INTEREST = 200  # characters of an interest name the index (and the route) takes
MAX_CURSOR = 512


class CursorError(ValueError):
    """A cursor this index did not give."""


def encode_cursor(score: float, user_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([score, user_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        score, user_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(score, (int, float)) or not math.isfinite(score) or not isinstance(user_id, str):
            raise ValueError
    except (ValueError, TypeError):
        raise CursorError(f"cursor {cursor[:40]!r}: not a cursor this server gave; start without one") from None
    return float(score), user_id


class AudienceIndex:
    """Users' current interests and opt-outs in the store's database."""

    def __init__(self, store):
        self.engine, self.begin = store.engine, store.begin
        metadata.create_all(self.engine, tables=[interests, opt_outs])

    def opted_out(self, user_id: str) -> bool:
        with self.engine.connect() as conn:
            query = sa.select(opt_outs.c.user_id).where(opt_outs.c.user_id == user_id)
            return conn.execution_options(readonly=True).execute(query).first() is not None

    @staticmethod
    def write(conn, user_id: str, answer: dict) -> bool:
        """In ``conn``'s transaction (an update's: ``Store.update``'s ``then``): replace the user's
        indexed interests with ``answer``'s if the user still exists and has not opted out; for a
        user who opted out meanwhile, delete what an update stored and return False."""
        rows = [{"user_id": user_id, "interest": i["interest"], "score": float(i["score"]), "rank": int(i["rank"])}
                for i in answer.get("interests", []) if len(i["interest"]) <= MAX_INTEREST]
        exists = conn.execute(sa.select(users.c.user_id).where(users.c.user_id == user_id).with_for_update()).first()
        conn.execute(interests.delete().where(interests.c.user_id == user_id))
        if conn.execute(sa.select(opt_outs.c.user_id).where(opt_outs.c.user_id == user_id)).first() is not None:
            conn.execute(users.delete().where(users.c.user_id == user_id))
            conn.execute(posts.delete().where(posts.c.user_id == user_id))
            return False
        if exists is not None and rows:
            conn.execute(interests.insert(), rows)
        return True

    def prune(self) -> int:
        """Drop the interests of users the store no longer has (retention purged all their posts)."""
        gone = ~sa.select(users.c.user_id).where(users.c.user_id == interests.c.user_id).exists()
        with self.begin() as conn:
            return conn.execute(interests.delete().where(gone)).rowcount

    def forget(self, user_id: str) -> None:
        with self.begin() as conn:
            conn.execute(interests.delete().where(interests.c.user_id == user_id))

    def opt_out(self, user_id: str) -> int:
        """Record the opt-out and delete everything of the user, in one transaction; the posts deleted."""
        with self.begin() as conn:
            known = conn.execute(users.delete().where(users.c.user_id == user_id)).rowcount  # waits for an update
            removed = conn.execute(posts.delete().where(posts.c.user_id == user_id)).rowcount
            conn.execute(interests.delete().where(interests.c.user_id == user_id))
            if conn.execute(sa.select(opt_outs.c.user_id).where(opt_outs.c.user_id == user_id)).first() is None:
                conn.execute(opt_outs.insert(), {"user_id": user_id, "at": time.time()})
        return removed if known or removed else 0

    def page(self, interest: str, min_score: float = 0.0, limit: int = 100, cursor: str | None = None) -> dict:
        """One page of an audience: ``{"users": [{user_id, score, rank}], "next_cursor": str | None}``."""
        query = sa.select(interests.c.user_id, interests.c.score, interests.c.rank).where(
            interests.c.interest == interest, interests.c.score >= float(min_score))
        if cursor:
            score, user_id = decode_cursor(cursor)
            query = query.where(sa.or_(interests.c.score < score,
                                       sa.and_(interests.c.score == score, interests.c.user_id > user_id)))
        query = query.order_by(interests.c.score.desc(), interests.c.user_id.asc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execution_options(readonly=True).execute(query).all()
        found = [{"user_id": r.user_id, "score": float(r.score), "rank": int(r.rank)} for r in rows[:limit]]
        more = len(rows) > limit
        return {"interest": interest, "min_score": float(min_score), "users": found,
                "next_cursor": encode_cursor(found[-1]["score"], found[-1]["user_id"]) if more else None}
