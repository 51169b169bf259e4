"""The interest service: validation, scoring, windows and answers, through the ranking pipeline.

Independent of HTTP. Each update scores only the new posts (batched with other requests'
posts by ``MicroBatcher``), keeps the user's window of the ``last`` most recent posts
(the pipeline's own option) with their scores in the store, and answers from the window
with the user level (``ranking.users``) every engine ranks with, so an answer is what ``interestkit rank`` gives for
the same posts. Posts scored by an older model are re-scored when their user is next
touched. Parsing and photo decoding run in one thread pool, the store's work in another,
so the event loop only routes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from ..data.images import decode_ahead
from ..data.posts import parse_post
from ..errors import DataError
from ..options import Option, options_class
from ..ranking.scoring import ScoredPosts
from ..ranking.users import from_scored, window
from ..taxonomy import default_taxonomy
from .audiences import AudienceIndex
from .batching import MicroBatcher
from .metrics import Metrics
from .security import Limits
from .store import StoredPost, Store

USER_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")

#: how a service batches, reloads and forgets: declared once, for ``ServeOptions`` and ``serve``'s flags
SERVE_RULES = {
    "reload_seconds": Option(0, min=0, help="Check for a newly promoted version of the served alias this often "
                                            "(0: never)."),
    "retention_days": Option(None, type=float, gt=0, nullable=True,
                             help="Delete posts older than this, at start and every hour."),
    "retention_every": Option(3600.0, gt=0, help="Seconds between retention passes."),
    "batch_max_posts": Option(64, min=1, help="Posts of concurrent requests scored in one model call, at most."),
    "batch_max_photos": Option(16, min=1, help="Photos scored in one model call, at most (photo encoders slow "
                                               "down in large batches)."),
    "batch_wait_ms": Option(2.0, min=0, help="How long the first waiting post waits for others."),
    "decode_threads": Option(2, min=1, help="Threads that parse requests and decode photos."),
    "db_threads": Option(8, min=1, help="Threads (and database connections) for the state."),
}
ServeOptions = options_class("ServeOptions", SERVE_RULES, __name__,
                             "How a service batches, reloads and forgets (fields: ``SERVE_RULES``).")


class RequestError(Exception):
    """A request the service refuses: HTTP status, one-line message, the field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.field = status, field


class InterestService:
    """Serves one pipeline; ``loader() -> (pipeline, {name, version, uri})`` loads (and reloads) it."""

    def __init__(self, loader, state, options: ServeOptions | None = None, watch=None, limits: Limits | None = None,
                 metrics: Metrics | None = None):
        o = self.options = options or ServeOptions()
        self.loader = loader
        self.limits = limits or Limits()
        self.metrics = metrics or Metrics()
        self.store = Store(state, pool_size=o.db_threads)
        self.audiences = AudienceIndex(self.store)  # users' current interests, by interest; opt-outs
        self.segments = default_taxonomy().segments  # interest -> IAB Audience Taxonomy segment ids
        self.watch = watch  # () -> the version the served alias points at now, or None
        self.pipeline, self.model_info = loader()
        self.metrics.set_model(self.model_info)
        self.in_flight = 0  # scoring requests between parsing and their answer
        self.batcher = MicroBatcher(self._score_batch, o.batch_max_posts, o.batch_wait_ms,
                                    self.metrics.batch_size.observe, self.metrics.queue_depth.set,
                                    lambda: self.in_flight, o.batch_max_photos)
        self.db_pool = ThreadPoolExecutor(o.db_threads, thread_name_prefix="interestkit-store")
        self.decode_pool = ThreadPoolExecutor(o.decode_threads, thread_name_prefix="interestkit-decode")
        self.retention_days = o.retention_days
        self.purged = self.store.purge(o.retention_days) if o.retention_days else 0
        self.audiences.prune()
        self._stop = threading.Event()
        if o.reload_seconds and watch is not None:
            threading.Thread(target=self._every, args=(o.reload_seconds, self.maybe_reload), daemon=True).start()
        if o.retention_days:
            threading.Thread(target=self._every, args=(o.retention_every, self.purge), daemon=True).start()

    # --- models ---------------------------------------------------------------------

    @property
    def model_key(self):
        return f"{self.model_info.get('name')}:{self.model_info.get('version')}"

    def _every(self, seconds, job):
        while not self._stop.wait(seconds):
            try:
                job()
            except Exception:  # a broken registry or database must not take the server down
                pass

    def maybe_reload(self):
        """Swap in the model the served alias points at, if it moved; True when it did."""
        current = self.watch() if self.watch else None
        if current is None or current == self.model_info.get("version"):
            return False
        pipeline, info = self.loader()
        self.batcher.executor.submit(self._swap, pipeline, info).result()  # between batches
        return True

    def _swap(self, pipeline, info):
        self.pipeline, self.model_info = pipeline, info
        self.metrics.set_model(info)

    def _score_batch(self, posts):
        """(scores, pipeline, model key): in the inference thread, so a reload never splits a batch."""
        pipeline, key = self.pipeline, self.model_key
        return pipeline.score(posts), pipeline, key

    def purge(self) -> int:
        removed = self.store.purge(self.retention_days) if self.retention_days else 0
        self.audiences.prune()  # users purged whole leave the audiences too
        return removed

    def close(self):
        self._stop.set()
        self.batcher.close()
        self.decode_pool.shutdown(wait=True)
        self.db_pool.shutdown(wait=True)
        self.store.close()

    # --- helpers ------------------------------------------------------------------------

    async def _in(self, pool, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def _prepared(self, records, default_user, limits):
        """Parsed posts: on the loop for captions (microseconds), in the decode pool when photos come."""
        if any(isinstance(r, dict) and (r.get("image") or r.get("image_b64")) for r in records):
            return await self._in(self.decode_pool, self._parse, records, default_user, limits)
        return self._parse(records, default_user, limits)

    def _parse(self, records, default_user, limits):
        """Posts from records, their photos decoded ahead (under the pixel limit)."""
        pipeline = self.pipeline
        try:
            posts = pipeline.parse_records(records, "body", default_user, limits)
        except DataError as error:
            raise RequestError(422, str(error), error.field) from None
        model = pipeline.scoring_models.get("image")
        if model is None:
            return posts
        size, pixels = int(model.image_size), self.limits.max_image_pixels
        return [dataclasses.replace(p, image=decode_ahead(p.image, size, max_pixels=pixels))
                if p.image is not None else p for p in posts]

    def _rows_for(self, posts, scored: ScoredPosts, key: str) -> list[StoredPost]:
        """Store rows: each post as received (to re-score after a model change) and its scores."""
        now = datetime.now(timezone.utc).timestamp()
        records = {post.post_id: post for post in posts}
        return [StoredPost(item, key, item.created_at.timestamp() if item.created_at else now,
                           json.dumps(records[item.post_id].record()))
                for user_posts in from_scored(posts, scored).values() for item in user_posts]

    def _answer(self, user_id, rows, pipeline) -> dict:
        if not rows:
            return {"user_id": user_id, "interests": [], "ads": [], "posts_used": 0, "window": [], "skipped": [],
                    "warnings": []}
        return pipeline.user_level().rank(user_id, [row.post for row in rows]).as_dict()

    def _indexing(self, user_id, pipeline):
        """``then`` of ``Store.update``: the answer ranked from the kept rows, and the audience index
        written with it in the update's transaction; ``(answer, False)`` for a user who opted out."""
        def index(conn, kept_rows):
            answer = self._answer(user_id, kept_rows, pipeline)
            return answer, self.audiences.write(conn, user_id, answer)
        return index

    def _window(self, rows, pipeline):
        """The most recent ``last`` rows (by created_at, then arrival): the user level's window."""
        by_id = {row.post_id: row for row in rows}
        kept, _ = window([row.post for row in rows], pipeline.options.last)
        return [by_id[post.post_id] for post in kept]

    def _rescored(self, user_id, stale, records):
        """Rows scored by an older model, re-scored by the current one (from the records they keep)."""
        if not stale:
            return []
        kept = records([r.post_id for r in stale])
        posts = [parse_post(json.loads(kept[r.post_id]), f"stored post of {user_id}", r.post.line, self.pipeline.media)
                 for r in stale]
        scored, _, key = self.batcher.run_now(posts)
        return self._rows_for(posts, scored, key)

    # --- endpoints (the event loop) ---------------------------------------------------------

    async def add_posts(self, user_id, records):
        _check_user(user_id)
        if await self._in(self.db_pool, self.audiences.opted_out, user_id):
            raise RequestError(403, f"user {user_id!r} opted out: their posts are not stored", "user_id")
        self.in_flight += 1
        try:
            posts = await self._prepared(records, user_id, self.limits.records)
            if not posts:
                raise RequestError(422, "body: expected at least one post", "body")
            scored, pipeline, key = await self.batcher.submit(posts)
            answer = await self._in(self.db_pool, self._commit, user_id, posts, scored, pipeline, key)
        finally:
            self.in_flight -= 1
        answer["scored"] = len(posts)
        return answer

    def _commit(self, user_id, posts, scored, pipeline, key):
        def change(rows, first_seq, records):
            numbered = [dataclasses.replace(post, line=first_seq + i) for i, post in enumerate(posts)]
            new = {r.post_id: r for r in self._rows_for(numbered, scored, key)}
            old = [r for r in rows if r.post_id not in new]
            fresh = self._rescored(user_id, [r for r in old if r.model_key != key], records)
            by_id = {**{r.post_id: r for r in old}, **{r.post_id: r for r in fresh}, **new}
            kept_rows = self._window(list(by_id.values()), pipeline)
            kept = {r.post_id for r in kept_rows}
            changed = [r for r in [*new.values(), *fresh] if r.post_id in kept]
            return changed, kept, kept_rows

        answer, saved = self.store.update(user_id, change, len(posts), then=self._indexing(user_id, pipeline))
        if not saved:  # opted out while this update ran: its posts are gone
            raise RequestError(403, f"user {user_id!r} opted out: their posts are not stored", "user_id")
        return answer

    async def interests(self, user_id):
        _check_user(user_id)
        return await self._in(self.db_pool, self._current, user_id)

    def _current(self, user_id):
        pipeline, key = self.pipeline, self.model_key
        rows = self.store.rows(user_id)
        if not rows:
            raise RequestError(404, f"user {user_id!r} has no posts; POST /users/{user_id}/posts first", "user_id")
        if any(r.model_key != key for r in rows):
            def change(rows, _, records):
                fresh = self._rescored(user_id, [r for r in rows if r.model_key != key], records)
                by_id = {**{r.post_id: r for r in rows}, **{r.post_id: r for r in fresh}}
                return fresh, set(by_id), list(by_id.values())
            answer, saved = self.store.update(user_id, change, then=self._indexing(user_id, pipeline))
            if not saved:
                raise RequestError(404, f"user {user_id!r} opted out", "user_id")
            return answer
        return self._answer(user_id, rows, pipeline)

    async def delete_user(self, user_id):
        _check_user(user_id)
        removed = await self._in(self.db_pool, self.store.delete_user, user_id)
        await self._in(self.db_pool, self.audiences.forget, user_id)
        if removed is None:
            raise RequestError(404, f"user {user_id!r} has no posts", "user_id")
        return {"user_id": user_id, "deleted_posts": removed}

    async def rank(self, records):
        self.in_flight += 1
        try:
            posts = await self._prepared(records, None, self.limits.rank_records)
            pipeline = self.pipeline
            selected, _ = pipeline.window(posts)
            scored, pipeline, _ = await self.batcher.submit(selected)
            users = await self._in(self.db_pool, pipeline.rank_scored, selected, scored)
        finally:
            self.in_flight -= 1
        return {"users": [user.as_dict() for user in users]}

    def health(self):
        return {"status": "ok", "model": self.model_info, "pipeline": self.pipeline.describe(),
                "state": self.store.describe(), "batching": self.batcher.describe(), "limits": self.limits.describe()}


def _check_user(user_id):
    if not USER_ID.match(user_id or ""):
        raise RequestError(422, f"user_id {user_id!r}: expected 1-128 letters, digits or _.:@-", "user_id")
