"""The serving state behind SQLAlchemy Core: each user's posts (as received), their scores and windows.

Rows come and go typed (``StoredPost``); the scores' JSON is written and read here only.

sqlite by default (one file, WAL); a ``postgresql://`` URL lets several ``serve``
processes share it. An update to one user is one transaction that starts by locking that
user's row: one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` creates or updates it,
and PostgreSQL holds the row lock until commit (sqlite holds its write lock from ``BEGIN
IMMEDIATE``), so two replicas updating the same user at once are serialised and
neither update is lost. Every call blocks: the server runs them in a thread pool.

An update also writes the user's entry in the audience index in the same transaction
(``update``'s ``then``): one commit an update.

sqlite has one writer at a time. Within a process, writers queue on a lock before ``BEGIN
IMMEDIATE`` (``Store.begin``), so each starts the moment the last one commits: left to
sqlite's busy handler, a waiting writer sleeps up to 100 ms between tries, and at 16
concurrent clients a few waited most of a second. Other processes on the same file still
wait through the busy timeout.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..errors import ConfigError
from ..ranking.users import ScoredPost

metadata = sa.MetaData()

users = sa.Table(
    "serve_users", metadata,
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False, default=0),  # arrivals so far: orders equal times
    sa.Column("version", sa.BigInteger, nullable=False, default=0),  # updates so far
)

posts = sa.Table(
    "serve_posts", metadata,
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("post_id", sa.String(256), primary_key=True),
    sa.Column("created_at", sa.String(64)),
    sa.Column("stamp", sa.Float, nullable=False),  # created_at, or arrival, in epoch seconds: retention
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("scores", sa.Text, nullable=False),
    sa.Column("model_key", sa.String(256), nullable=False),
    sa.Index("serve_posts_stamp", "stamp"),
)

ROW = ("post_id", "created_at", "stamp", "seq", "scores", "model_key")  # not the record: only re-scoring needs it
SKIPPED_KEY = "skipped"  # in a stored post's scores: why its photo could not be read


@dataclass(frozen=True)
class StoredPost:
    """One stored post, typed: what the user level ranks (``post``: id, time, arrival number as
    its line, scores, skipped photo), the model that scored it, its retention ``stamp``, and
    (for a row to write) the post's record as received, to re-score it after a model change."""

    post: ScoredPost
    model_key: str
    stamp: float
    record: str | None = None

    @property
    def post_id(self) -> str:
        return self.post.post_id


def _encode(row: StoredPost, user_id: str) -> dict:
    post = row.post
    scores = dict(post.scores, **({SKIPPED_KEY: post.skipped} if post.skipped else {}))
    return {"user_id": user_id, "post_id": post.post_id, "seq": post.line, "stamp": row.stamp,
            "created_at": post.created_at.isoformat() if post.created_at else None,
            "scores": json.dumps(scores), "record": row.record, "model_key": row.model_key}


def _decode(values) -> StoredPost:
    row = dict(zip(ROW, values))
    scores = json.loads(row["scores"])
    skipped = scores.pop(SKIPPED_KEY, None)
    created = datetime.fromisoformat(row["created_at"]) if row["created_at"] else None
    return StoredPost(ScoredPost(row["post_id"], created, row["seq"], scores, skipped), row["model_key"], row["stamp"])


def state_url(state: str) -> str:
    """A SQLAlchemy URL from ``--state``: a database URL, or a path of a sqlite file."""
    if "://" in state:
        if not state.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgresql+psycopg2:")):
            raise ConfigError(f"--state {state!r}: expected a sqlite file, sqlite:///... or postgresql://...")
        return state.replace("postgresql://", "postgresql+psycopg://", 1) if state.startswith("postgresql://") else state
    path = Path(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def redact(url: str) -> str:
    """The URL without its password (for logs and /health)."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL: nothing secret in it
        return url


class Store:
    """Users' rows in a database; ``update`` is the one read-modify-write, under the user's lock."""

    def __init__(self, state, pool_size: int = 8):
        self.url = state_url(str(state))
        self.sqlite = self.url.startswith("sqlite")
        if self.sqlite:
            self.engine = sa.create_engine(self.url, pool_size=pool_size, max_overflow=0,
                                           connect_args={"check_same_thread": False, "timeout": 60})
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
            self._writer = threading.Lock()
            insert = sqlite_insert
        else:
            try:
                self.engine = sa.create_engine(self.url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True)
            except Exception as error:
                raise ConfigError(f"--state {redact(self.url)}: cannot use it ({error})") from None
            insert = pg_insert
            self._writer = nullcontext()  # PostgreSQL locks rows: writers to other users run at once
        upsert = insert(users).values(user_id=sa.bindparam("user_id"), seq=sa.bindparam("n"), version=1)
        self._lock = upsert.on_conflict_do_update(
            index_elements=["user_id"], set_={"seq": users.c.seq + upsert.excluded.seq,
                                              "version": users.c.version + 1}).returning(users.c.seq)
        try:
            metadata.create_all(self.engine)
        except sa.exc.SQLAlchemyError as error:
            raise ConfigError(f"--state {redact(self.url)}: cannot open it ({_one_line(error)})") from None

    def describe(self) -> str:
        return redact(self.url)

    def close(self):
        self.engine.dispose()

    @contextmanager
    def begin(self):
        """A write transaction (``engine.begin()``), after this process's earlier sqlite writers."""
        with self._writer, self.engine.begin() as conn:
            yield conn

    # --- reads ----------------------------------------------------------------------------

    def rows(self, user_id) -> list[StoredPost]:
        with self.engine.connect() as conn:
            return _rows(conn.execution_options(readonly=True), user_id)

    # --- the one read-modify-write ----------------------------------------------------------

    def update(self, user_id, change, arrivals: int = 0, then=None):
        """Run ``change(rows, first_seq, records) -> (new_rows, keep_ids, result)`` under the user's lock.

        ``rows`` are the user's stored posts (``StoredPost``); ``first_seq`` the first of the ``arrivals``
        arrival numbers reserved for this update; ``records(post_ids)`` reads those posts'
        records ``{post_id: record}``. ``new_rows`` are written (replacing rows of the same
        post) and every other row not in ``keep_ids`` is dropped, in one transaction.
        Returns ``result``, or ``then(conn, result)``: what else the update writes, in the same
        transaction (the audience index: ``AudienceIndex.write``).
        """
        with self.begin() as conn:
            # one statement creates or locks the user's row (held until commit) and reserves arrivals
            seq = conn.execute(self._lock, {"user_id": user_id, "n": arrivals}).scalar_one()
            rows = _rows(conn, user_id)
            new_rows, keep_ids, result = change(rows, seq - arrivals + 1, lambda ids: _records(conn, user_id, ids))
            stored = {r.post_id for r in rows}
            replaced = [r.post_id for r in new_rows if r.post_id in stored]
            if replaced:
                conn.execute(_DELETE_IDS, {"user_id": user_id, "ids": replaced})
            if new_rows:
                conn.execute(posts.insert(), [_encode(r, user_id) for r in new_rows])
            dropped = [post_id for post_id in stored if post_id not in keep_ids]
            if dropped:
                conn.execute(_DELETE_IDS, {"user_id": user_id, "ids": dropped})
            if then is not None:
                result = then(conn, result)
        return result

    # --- users' data on request ---------------------------------------------------------------

    def delete_user(self, user_id) -> int | None:
        """Remove every post and the user's row; the number of posts removed, None if unknown."""
        with self.begin() as conn:
            # the user's row first: it waits for an update in progress, whose posts then go too
            known = conn.execute(users.delete().where(users.c.user_id == user_id)).rowcount
            removed = conn.execute(posts.delete().where(posts.c.user_id == user_id)).rowcount
        return removed if (removed or known) else None

    def purge(self, days: float, now: float | None = None) -> int:
        """Delete posts older than ``days`` (by created_at, else arrival); the number deleted."""
        cutoff = (now if now is not None else time.time()) - days * 86400
        with self.begin() as conn:
            removed = conn.execute(posts.delete().where(posts.c.stamp < cutoff)).rowcount
            empty = sa.select(posts.c.user_id).where(posts.c.user_id == users.c.user_id).exists()
            conn.execute(users.delete().where(~empty))
        return removed


def _rows(conn, user_id) -> list[StoredPost]:
    return [_decode(row) for row in conn.execute(_SELECT_ROWS, {"user_id": user_id})]


_SELECT_ROWS = sa.select(*[posts.c[name] for name in ROW]).where(posts.c.user_id == sa.bindparam("user_id"))
_DELETE_IDS = posts.delete().where(posts.c.user_id == sa.bindparam("user_id"),
                                   posts.c.post_id.in_(sa.bindparam("ids", expanding=True)))


def _records(conn, user_id, ids) -> dict:
    if not ids:
        return {}
    query = sa.select(posts.c.post_id, posts.c.record).where(posts.c.user_id == user_id, posts.c.post_id.in_(list(ids)))
    return dict(conn.execute(query).all())


def _sqlite_connect(dbapi_connection, _record):
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN IMMEDIATE
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash
    dbapi_connection.execute("PRAGMA busy_timeout=60000")


def _sqlite_begin(conn):
    """Writers take sqlite's write lock at once (no upgrade deadlock); readers do not."""
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE")


def _one_line(error) -> str:
    return " ".join(str(error).split())[:300]
