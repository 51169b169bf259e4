"""``serve``'s ad-tech routes: a user's OpenRTB ``User`` object, audiences, and opt-outs.

    GET  /users/{user_id}/openrtb     the user's current answer as an OpenRTB 2.6 User object
                                      (IAB Audience Taxonomy 1.1 segments, segtax 4)
    POST /users/{user_id}/opt-out     delete everything of the user and refuse their later posts
                                      (no body needed; a JSON one, such as {}, is accepted)
    GET  /audiences/{interest}        the users whose current top interests include it, best
                                      score first, a page at a time (?min_score=&limit=&cursor=)

The segments are those of ``rank --format openrtb`` (``adtech.openrtb.user_object``).
"""

from __future__ import annotations

import asyncio

from fastapi import Path, Query

from ..adtech.openrtb import PROVIDER, SegmentRules, user_object
from .audiences import MAX_CURSOR, MAX_INTEREST, MAX_PAGE, CursorError
from .schemas import UserId
from .service import USER_ID, RequestError


def _check(user_id: str) -> None:
    if not USER_ID.match(user_id or ""):
        raise RequestError(422, f"user_id {user_id!r}: expected 1-128 letters, digits or _.:@-", "user_id")


def add_adtech_routes(app, service) -> None:
    """Attach the routes to ``app`` (behind its authentication and limits, like every route)."""

    async def in_pool(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(service.db_pool, fn, *args)

    @app.get("/users/{user_id}/openrtb", responses={404: {}})
    async def openrtb(user_id: UserId, min_score: float = Query(0.0, ge=0.0, le=1e9),
                      max_segments: int = Query(20, ge=1, le=1000),
                      provider: str = Query(PROVIDER, min_length=1, max_length=200)):
        """The user's current interests as an OpenRTB 2.6 User object: one Data object of segments, best first."""
        _check(user_id)
        if await in_pool(service.audiences.opted_out, user_id):
            raise RequestError(404, f"user {user_id!r} opted out", "user_id")
        answer = await service.interests(user_id)
        return user_object(answer, service.segments, SegmentRules(provider, min_score, max_segments))

    @app.post("/users/{user_id}/opt-out")
    async def opt_out(user_id: UserId):
        """Delete every post, score and interest of the user, and refuse their posts from now on."""
        _check(user_id)
        removed = await in_pool(service.audiences.opt_out, user_id)
        return {"user_id": user_id, "opted_out": True, "deleted_posts": removed}

    @app.get("/audiences/{interest}", responses={404: {}})
    async def audience(interest: str = Path(..., min_length=1, max_length=MAX_INTEREST),
                       min_score: float = Query(0.0, ge=0.0, le=1e9), limit: int = Query(100, ge=1, le=MAX_PAGE),
                       cursor: str | None = Query(None, max_length=MAX_CURSOR)):
        """The users whose current top interests include ``interest`` with at least ``min_score``, best score
        first; ``next_cursor`` (null on the last page) gives the next page."""
        try:
            return await in_pool(service.audiences.page, interest, min_score, limit, cursor)
        except CursorError as error:
            raise RequestError(404, str(error), "cursor") from None  # no page of this server's has that name
