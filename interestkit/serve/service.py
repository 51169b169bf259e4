"""The interest service: validation, scoring, windows and answers, through the ranking pipeline.

Independent of HTTP. Each update scores only the new posts, keeps the user's window of
the ``last`` most recent posts (the pipeline's own option) with their scores in the
store, and answers from the window with the pipeline's ``rank_scored``, so an answer is
what ``interestkit rank`` gives for the same posts. Posts scored by an older model are
re-scored when their user is next touched. Updates to one user are serialised by a
per-user lock (no lost update); model inference by one lock (Keras models are not
re-entrant).
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from http import HTTPStatus

from ..data.posts import RecordLimits, parse_created_at, parse_post, recency_key
from ..errors import InterestkitError
from ..ranking.scoring import ScoredPosts
from .store import Store

MAX_BODY_BYTES = 16 * 1024 * 1024
LIMITS = RecordLimits(max_posts=100, max_text_chars=10_000, max_image_bytes=10 * 1024 * 1024)
RANK_LIMITS = RecordLimits(max_posts=2000, max_text_chars=10_000, max_image_bytes=10 * 1024 * 1024)
USER_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
SKIPPED_KEY = "skipped"  # in a stored post's scores: why its photo could not be read


class RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class InterestService:
    """Serves one pipeline; ``loader() -> (pipeline, {name, version, uri})`` loads (and reloads) it."""

    def __init__(self, loader, db_path, watch=None, reload_seconds=0):
        self.loader = loader
        self.store = Store(db_path)
        self.watch = watch  # () -> the version the served alias points at now, or None
        self.infer_lock = threading.Lock()
        self.user_locks: dict[str, threading.Lock] = {}
        self.locks_lock = threading.Lock()
        self.pipeline, self.model_info = loader()
        self.reload_seconds = reload_seconds
        self._stop = threading.Event()
        if reload_seconds and watch is not None:
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

    def maybe_reload(self):
        """Swap in the model the served alias points at, if it moved; True when it did."""
        current = self.watch() if self.watch else None
        if current is None or current == self.model_info.get("version"):
            return False
        pipeline, info = self.loader()
        with self.infer_lock:
            self.pipeline, self.model_info = pipeline, info
        return True

    def close(self):
        self._stop.set()

    # --- helpers ------------------------------------------------------------------------

    def _user_lock(self, user_id):
        with self.locks_lock:
            return self.user_locks.setdefault(user_id, threading.Lock())

    def _posts(self, records, source, default_user=None, limits=LIMITS):
        try:
            return self.pipeline.parse_records(records, source, default_user, limits)
        except InterestkitError as error:
            raise RequestError(HTTPStatus.BAD_REQUEST, str(error)) from None

    def _score(self, posts):
        """(pipeline, scores, model key) from one consistent model, even across a reload."""
        with self.infer_lock:
            pipeline, key = self.pipeline, self.model_key
            scored = pipeline.score(posts)
        return pipeline, scored, key

    def _rows_for(self, posts, scored: ScoredPosts, key: str) -> list[dict]:
        """Store rows: each post as received (to re-score after a model change) and its scores."""
        rows = []
        for post in posts:
            scores = {m: s[post.post_id] for m, s in scored.scores.items() if post.post_id in s}
            if post.post_id in scored.failures:
                scores[SKIPPED_KEY] = scored.failures[post.post_id]
            rows.append({"post_id": post.post_id, "created_at": post.created_at.isoformat() if post.created_at else None,
                         "seq": post.line, "record": json.dumps(post.record()), "scores": json.dumps(scores),
                         "model_key": key})
        return rows

    def _restore(self, user_id, rows):
        """(posts, scores) of stored rows: the posts as they were received, their stored scores."""
        posts, scored = [], ScoredPosts()
        for row in rows:
            posts.append(parse_post(json.loads(row["record"]), f"stored post of {user_id}", row["seq"],
                                    self.pipeline.media))
            for modality, scores in json.loads(row["scores"]).items():
                if modality == SKIPPED_KEY:
                    scored.failures[row["post_id"]] = scores
                else:
                    scored.scores.setdefault(modality, {})[row["post_id"]] = scores
        for modality in self.pipeline.scoring_models:
            scored.scores.setdefault(modality, {})
        return posts, scored

    def _answer(self, user_id, rows, pipeline=None) -> dict:
        pipeline = pipeline or self.pipeline
        posts, scored = self._restore(user_id, rows)
        users = pipeline.rank_scored(posts, scored)
        if not users:
            return {"user_id": user_id, "interests": [], "ads": [], "posts_used": 0, "window": [], "skipped": [],
                    "warnings": []}
        return users[0].as_dict()

    def _window(self, rows):
        """The most recent ``last`` rows (by created_at, then arrival)."""
        last = self.pipeline.options.last
        keyed = sorted(rows, key=lambda r: recency_key(_Stamp(r)))
        return keyed[-last:] if last > 0 else keyed

    # --- endpoints ----------------------------------------------------------------------

    def add_posts(self, user_id, records):
        _check_user(user_id)
        posts = self._posts(records, "body", default_user=user_id)
        if not posts:
            raise RequestError(HTTPStatus.BAD_REQUEST, "body: expected at least one post")
        with self._user_lock(user_id):
            first = self.store.next_seq()
            posts = [_with_line(post, first + i) for i, post in enumerate(posts)]
            pipeline, scored, key = self._score(posts)
            new_rows = {r["post_id"]: r for r in self._rows_for(posts, scored, key)}
            rows = [r for r in self.store.rows(user_id) if r["post_id"] not in new_rows]
            stale = [r for r in rows if r["model_key"] != key]
            if stale:
                rows = self._rescore_stale(user_id, rows, stale)
            window = self._window(rows + list(new_rows.values()))
            kept = {r["post_id"] for r in window}
            self.store.replace(user_id, [r for r in new_rows.values() if r["post_id"] in kept], sorted(kept))
            answer = self._answer(user_id, window, pipeline)
        answer["scored"] = len(posts)
        return answer

    def interests(self, user_id):
        _check_user(user_id)
        with self._user_lock(user_id):
            rows = self.store.rows(user_id)
            if not rows:
                raise RequestError(HTTPStatus.NOT_FOUND,
                                   f"user {user_id!r} has no posts yet; POST /users/{user_id}/posts first")
            stale = [r for r in rows if r["model_key"] != self.model_key]
            if stale:
                rows = self._rescore_stale(user_id, rows, stale)
            return self._answer(user_id, rows)

    def _rescore_stale(self, user_id, rows, stale):
        """Re-score posts scored by an older model with the current one (their records are kept)."""
        posts, _ = self._restore(user_id, stale)
        _, scored, key = self._score(posts)
        fresh = self._rows_for(posts, scored, key)
        self.store.replace(user_id, fresh, [r["post_id"] for r in rows])
        by_id = {r["post_id"]: r for r in fresh}
        return [by_id.get(r["post_id"], r) for r in rows]

    def rank(self, records):
        posts = self._posts(records, "body", limits=RANK_LIMITS)
        with self.infer_lock:
            users = self.pipeline.rank(posts)
        return {"users": [user.as_dict() for user in users]}

    def health(self):
        return {"status": "ok", "model": self.model_info, "pipeline": self.pipeline.describe()}


class _Stamp:
    """A stored row seen as a post for ``recency_key`` (created_at, then arrival order)."""

    def __init__(self, row):
        self.created_at = parse_created_at("stored", row["created_at"])
        self.line = row["seq"]


def _with_line(post, line):
    return dataclasses.replace(post, line=line)


def _check_user(user_id):
    if not USER_ID.match(user_id or ""):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"user_id {user_id!r}: expected 1-128 letters, digits or _.:@-")
