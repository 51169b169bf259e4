"""Cross-request micro-batching: concurrent requests' posts go through the models in one call.

A request hands its posts to ``MicroBatcher.submit`` and awaits its scores. The batcher
collects posts until ``max_posts`` (or ``max_photos`` photos) are waiting or
``max_wait_ms`` have passed since the first (it does not wait when no other request is in
flight; while the models are busy, every request that arrives waits for the next batch
anyway), then runs them through the pipeline's models once, in its one inference thread
(Keras models are not re-entrant), and hands each request its own posts' scores. Post ids
are renamed inside a batch, so two users' posts with the same id do not mix.
"""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import ThreadPoolExecutor

from ..ranking.scoring import ScoredPosts


class MicroBatcher:
    """``run(posts) -> (ScoredPosts, *extra)`` called once per batch, in one thread."""

    def __init__(self, run, max_posts: int = 64, max_wait_ms: float = 2.0, on_batch=None, on_queue=None,
                 in_flight=None, max_photos: int = 16):
        self.run = run
        self.max_posts = max(1, int(max_posts))
        self.max_photos = max(1, int(max_photos))  # photo encoders slow down per photo in large batches
        self.max_wait = max(0.0, float(max_wait_ms)) / 1000
        self.on_batch = on_batch or (lambda size: None)  # the number of posts of each batch
        self.on_queue = on_queue or (lambda depth: None)  # posts waiting
        self.in_flight = in_flight or (lambda: 1 << 30)  # requests being served (queued ones included)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="interestkit-inference")
        self._queue: list = []
        self._queued = 0
        self._loop = None
        self._wake = self._full = None
        self._task = None

    def describe(self) -> dict:
        return {"max_posts": self.max_posts, "max_photos": self.max_photos, "max_wait_ms": self.max_wait * 1000}

    # --- from request handlers (the event loop) ------------------------------------------------

    async def submit(self, posts):
        """``(ScoredPosts, *extra)`` of ``posts``, scored with whatever else is waiting."""
        if not posts:
            return await asyncio.get_running_loop().run_in_executor(self.executor, self.run, [])
        self._start()
        future = self._loop.create_future()
        self._queue.append((list(posts), future))
        self._queued += len(posts)
        self.on_queue(self._queued)
        self._wake.set()
        if self._queued >= self.max_posts:
            self._full.set()
        return await future

    def run_now(self, posts):
        """Score ``posts`` from any thread but the loop's, in the inference thread (no batching)."""
        return self.executor.submit(self.run, list(posts)).result()

    def close(self):
        if self._task is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self.executor.shutdown(wait=True, cancel_futures=False)

    # --- the collector task --------------------------------------------------------------------

    def _start(self):
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done():
            self._loop = loop
            self._wake, self._full = asyncio.Event(), asyncio.Event()
            self._task = loop.create_task(self._collect())

    async def _collect(self):
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                others = self.in_flight() > len(self._queue)  # someone may submit soon: worth waiting for
                if self.max_wait and self._queued < self.max_posts and others:
                    try:
                        await asyncio.wait_for(self._full.wait(), self.max_wait)
                    except asyncio.TimeoutError:
                        pass
                self._full.clear()
                batch, size, photos = [], 0, 0
                while self._queue and (not batch or (size + len(self._queue[0][0]) <= self.max_posts
                                                     and photos + _photos(self._queue[0][0]) <= self.max_photos)):
                    posts, future = self._queue.pop(0)
                    batch.append((posts, future))
                    size += len(posts)
                    photos += _photos(posts)
                self._queued -= size
                self.on_queue(self._queued)
                await self._score(batch, size)

    async def _score(self, batch, size):
        renamed, owners = [], []
        for index, (posts, _) in enumerate(batch):
            for post in posts:
                key = f"{len(renamed)}"
                renamed.append(dataclasses.replace(post, post_id=key))
                owners.append((index, key, post.post_id))
        self.on_batch(size)
        try:
            scored, *extra = await self._loop.run_in_executor(self.executor, self.run, renamed)
        except Exception as error:  # every request of the batch gets the error
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        parts = [ScoredPosts({m: {} for m in scored.scores}) for _ in batch]
        for index, key, post_id in owners:
            part = parts[index]
            for modality, by_post in scored.scores.items():
                if key in by_post:
                    part.scores[modality][post_id] = by_post[key]
            if key in scored.failures:
                part.failures[post_id] = scored.failures[key]
        for (_, future), part in zip(batch, parts):
            if not future.done():
                future.set_result((part, *extra))


def _photos(posts) -> int:
    return sum(1 for post in posts if post.image is not None)
