"""Real-time interests and ads over HTTP, from the hybrid champion.

    POST /users/{user_id}/posts      new posts (JSON array): scores only them, updates the
                                     user's rolling window, returns interests and ads
    GET  /users/{user_id}/interests  the user's current interests (and ads)
    GET  /users/{user_id}/recommendations
    POST /rank                       stateless: a whole list of posts -> {"users": [...]}
    GET  /health                     loaded model versions

Interest answers share one shape: ``{"user_id", "interests": [{"interest", "score",
"rank", "posts"}], "ads": [...]}``. Per-post scores and each user's window live in a
sqlite database, so a restart loses nothing. Updates to one user are serialised by a
per-user lock (no lost update); model inference is serialised by one lock (Keras models
are not re-entrant). With ``reload_seconds``, a newly promoted hybrid champion is picked up
without a restart; posts scored by an older model are re-scored when their user is next
touched. Bad requests get a 4xx JSON error naming the field, never a 500.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .errors import InterestkitError
from .posts import Post, recency_key

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_POSTS_PER_REQUEST = 100
MAX_RANK_POSTS = 2000
USER_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    user_id TEXT NOT NULL,
    post_id TEXT NOT NULL,
    created_at TEXT,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    scores TEXT NOT NULL,
    model_key TEXT NOT NULL,
    PRIMARY KEY (user_id, post_id)
);
CREATE INDEX IF NOT EXISTS posts_by_user ON posts (user_id);
"""


class RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Store:
    """Per-post scores and rolling windows in sqlite (one connection, guarded by a lock)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def rows(self, user_id):
        with self.lock:
            cur = self.db.execute("SELECT post_id, created_at, seq, record, scores, model_key FROM posts "
                                  "WHERE user_id = ?", (user_id,))
            return [dict(zip(("post_id", "created_at", "seq", "record", "scores", "model_key"), r)) for r in cur]

    def next_seq(self):
        with self.lock:
            return (self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM posts").fetchone()[0] or 0) + 1

    def replace(self, user_id, rows, keep_ids):
        """Write ``rows`` and drop the user's posts outside ``keep_ids``, in one transaction."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(
                    "INSERT OR REPLACE INTO posts (user_id, post_id, created_at, seq, record, scores, model_key) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(user_id, r["post_id"], r["created_at"], r["seq"], r["record"], r["scores"], r["model_key"])
                     for r in rows])
                placeholders = ",".join("?" * len(keep_ids)) or "''"
                self.db.execute(f"DELETE FROM posts WHERE user_id = ? AND post_id NOT IN ({placeholders})",
                                (user_id, *keep_ids))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise


class InterestService:
    """The application: validation, scoring, windows and answers, independent of HTTP."""

    def __init__(self, loader, db_path, window=20, media_root=None, reload_seconds=0):
        self.loader = loader  # () -> (HybridRanker, {name, version})
        self.store = Store(db_path)
        self.window = window
        self.media_root = media_root
        self.infer_lock = threading.Lock()
        self.user_locks: dict[str, threading.Lock] = {}
        self.locks_lock = threading.Lock()
        self.ranker, self.model_info = loader()
        self.reload_seconds = reload_seconds
        self._stop = threading.Event()
        if reload_seconds:
            threading.Thread(target=self._watch, daemon=True).start()

    # --- models ---------------------------------------------------------------------

    @property
    def model_key(self):
        return f"{self.model_info.get('name')}:{self.model_info.get('version')}"

    def _watch(self):
        while not self._stop.wait(self.reload_seconds):
            try:
                self.maybe_reload()
            except Exception:  # a broken registry must not take the server down
                pass

    def maybe_reload(self, version_of=None):
        """Swap in the champion if it moved; True when it did."""
        from . import tracking

        name = self.model_info.get("name")
        current = (version_of or tracking.champion_version)(name) if name else None
        if current is None or current == self.model_info.get("version"):
            return False
        ranker, info = self.loader()
        with self.infer_lock:
            self.ranker, self.model_info = ranker, info
        return True

    def close(self):
        self._stop.set()

    # --- helpers ------------------------------------------------------------------------

    def _user_lock(self, user_id):
        with self.locks_lock:
            return self.user_locks.setdefault(user_id, threading.Lock())

    def _posts(self, records, source, default_user=None, limit=MAX_POSTS_PER_REQUEST):
        from .hybrid import posts_from_records

        try:
            return posts_from_records(records, source=source, media_root=self.media_root,
                                      default_user=default_user, max_posts=limit)
        except InterestkitError as error:
            raise RequestError(HTTPStatus.BAD_REQUEST, str(error)) from None

    def _score(self, posts):
        """(ranker, scores, model key) from one consistent model, even across a reload."""
        with self.infer_lock:
            ranker, key = self.ranker, self.model_key
            scored = ranker.score(posts)
        return ranker, scored, key

    def _answer(self, user_id, rows, ranker=None):
        from .ranking import ScoredPosts

        ranker = ranker or self.ranker
        posts, scored = [], ScoredPosts()
        for row in rows:
            posts.append(Post(user_id, row["post_id"], None, None, _parse(row["created_at"]), row["seq"]))
            for modality, scores in json.loads(row["scores"]).items():
                scored.scores.setdefault(modality, {})[row["post_id"]] = scores
        for modality in ranker.models:
            scored.scores.setdefault(modality, {})
        ranked = ranker.rank_scored(posts, scored)[0] if posts else {"interests": [], "ads": [], "warnings": []}
        return {"user_id": user_id, "interests": ranked["interests"], "ads": ranked["ads"],
                "posts_in_window": len(posts), "warnings": ranked.get("warnings", [])}

    def _rows_for(self, posts, records, scored, seqs, model_key):
        """Database rows: the post as received (to re-score after a model change) and its scores."""
        rows = []
        for post, record, seq in zip(posts, records, seqs):
            scores = {m: s[post.post_id] for m, s in scored.scores.items() if post.post_id in s}
            stored = {k: record.get(k) for k in ("post_id", "text", "image", "created_at")}
            rows.append({"post_id": post.post_id, "created_at": post.created_at.isoformat() if post.created_at else None,
                         "seq": seq, "record": json.dumps(stored), "scores": json.dumps(scores),
                         "model_key": model_key})
        return rows

    def _window(self, user_id, rows):
        posts = [Post(user_id, r["post_id"], None, None, _parse(r["created_at"]), r["seq"]) for r in rows]
        keep = {p.post_id for p in sorted(posts, key=recency_key)[-self.window:]}
        return [r for r in rows if r["post_id"] in keep]

    # --- endpoints ----------------------------------------------------------------------

    def add_posts(self, user_id, records):
        _check_user(user_id)
        posts = self._posts(records, "body", default_user=user_id)
        if not posts:
            raise RequestError(HTTPStatus.BAD_REQUEST, "body: expected at least one post")
        with self._user_lock(user_id):
            ranker, scored, key = self._score(posts)
            first = self.store.next_seq()
            new_rows = self._rows_for(posts, records, scored, range(first, first + len(posts)), key)
            rows = self.store.rows(user_id)
            stale = [r for r in rows if r["model_key"] != key and r["post_id"] not in scored_ids(new_rows)]
            if stale:
                rows = self._rescore_stale(user_id, rows, stale)
            existing = {r["post_id"]: r for r in rows}
            existing.update({r["post_id"]: r for r in new_rows})
            window = self._window(user_id, list(existing.values()))
            self.store.replace(user_id, [r for r in new_rows if r in window], [r["post_id"] for r in window])
            answer = self._answer(user_id, window, ranker)
        answer["scored"] = len(posts)
        answer["failures"] = scored.failures
        return answer

    def interests(self, user_id):
        _check_user(user_id)
        with self._user_lock(user_id):
            rows = self.store.rows(user_id)
            if not rows:
                raise RequestError(HTTPStatus.NOT_FOUND, f"user {user_id!r} has no posts yet; POST /users/{user_id}/posts first")
            stale = [r for r in rows if r["model_key"] != self.model_key]
            if stale:
                rows = self._rescore_stale(user_id, rows, stale)
            return self._answer(user_id, rows)

    def _rescore_stale(self, user_id, rows, stale):
        """Re-score posts scored by an older model with the current one (their records are kept)."""
        records = [json.loads(r["record"]) for r in stale]
        posts = self._posts(records, "stored", default_user=user_id, limit=None)
        _, scored, key = self._score(posts)
        fresh = self._rows_for(posts, records, scored, [r["seq"] for r in stale], key)
        self.store.replace(user_id, fresh, [r["post_id"] for r in rows])
        by_id = {r["post_id"]: r for r in fresh}
        return [by_id.get(r["post_id"], r) for r in rows]

    def rank(self, records):
        posts = self._posts(records, "body", limit=MAX_RANK_POSTS)
        with self.infer_lock:
            users = self.ranker.rank(posts)
        return {"users": [{"user_id": u["user_id"], "interests": u["interests"], "ads": u["ads"],
                           "warnings": u["warnings"]} for u in users]}

    def health(self):
        return {"status": "ok", "model": self.model_info, "models": self.ranker.versions,
                "fusion": self.ranker.fusion_name, "window": self.window}


def scored_ids(rows):
    return {r["post_id"] for r in rows}


def _parse(value):
    from .posts import parse_created_at

    return parse_created_at("db", 0, value) if value else None


def _check_user(user_id):
    if not USER_ID.match(user_id or ""):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"user_id {user_id!r}: expected 1-128 letters, digits or _.:@-")


ROUTES = [
    ("POST", re.compile(r"^/users/([^/]+)/posts$"), "add_posts"),
    ("GET", re.compile(r"^/users/([^/]+)/interests$"), "interests"),
    ("GET", re.compile(r"^/users/([^/]+)/recommendations$"), "interests"),
    ("POST", re.compile(r"^/rank$"), "rank"),
    ("GET", re.compile(r"^/health$"), "health"),
]


def make_handler(service: InterestService):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "interestkit"

        def log_message(self, *args):  # quiet by default
            pass

        def _send(self, status, payload):
            body = json.dumps(payload, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self):
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise RequestError(HTTPStatus.LENGTH_REQUIRED, "Content-Length header required")
            if int(length) > MAX_BODY_BYTES:
                self.close_connection = True
                raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                   f"body of {length} bytes is larger than {MAX_BODY_BYTES}")
            raw = self.rfile.read(int(length))
            try:
                return json.loads(raw or b"null")
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise RequestError(HTTPStatus.BAD_REQUEST, f"body: invalid JSON ({error})") from None

        def _dispatch(self, method):
            path = self.path.split("?", 1)[0]
            try:
                for verb, pattern, name in ROUTES:
                    match = pattern.match(path)
                    if match:
                        if verb != method:
                            raise RequestError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed on {path}")
                        args = list(match.groups())
                        if method == "POST":
                            args.append(self._body())
                        self._send(HTTPStatus.OK, getattr(service, name)(*args))
                        return
                raise RequestError(HTTPStatus.NOT_FOUND, f"no route {path}")
            except RequestError as error:
                self._send(error.status, {"error": str(error)})
            except InterestkitError as error:
                self._send(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": str(error)})
            except Exception as error:  # a bug: say so without a traceback to the client
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {type(error).__name__}"})

        def do_GET(self):  # noqa: N802
            self._dispatch("GET")

        def do_POST(self):  # noqa: N802
            self._dispatch("POST")

    return Handler


def make_server(service: InterestService, host="127.0.0.1", port=8000) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(service))
    server.daemon_threads = True
    return server
