"""The HTTP API of ``interestkit serve`` (FastAPI): routes, answers and one JSON error shape.

    POST   /users/{user_id}/posts            new posts (a JSON array): scores only them, updates the
                                             user's window, returns interests, ads and the window
    GET    /users/{user_id}/interests        the user's current answer
    GET    /users/{user_id}/recommendations  the same answer (its ads)
    DELETE /users/{user_id}                  every post, score and window of the user
    POST   /rank                             stateless: a whole list of posts -> {"users": [...]}
    GET    /users/{user_id}/openrtb, POST /users/{user_id}/opt-out, GET /audiences/{interest}: adtech_routes.py
    GET    /health                           the loaded model and every option of its pipeline (no token)
    GET    /metrics                          Prometheus metrics
    GET    /openapi.json, /docs              the API's description

Every error is ``{"error": {"code", "message", "field"}}``.
"""

from contextlib import asynccontextmanager
from typing import Annotated

import sqlalchemy as sa
from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from ..data.paths import SERVED_HINT as PATHS_HINT
from ..errors import InterestkitError
from . import contract
from .adtech_routes import add_adtech_routes
from .middleware import Guard
from .schemas import IDENTIFIER_CHARS, Deleted, Health, RankAnswer, UserAnswer, UserId, base64_chars, post_models
from .security import Limits
from .service import InterestService, RequestError

RETRY_SECONDS = 1  # Retry-After of a 503
FIELDS = ("user_id", "post_id", "text", "image", "image_b64", "created_at")


def error(status: int, message: str, field: str | None = None, headers=None) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message, "field": field}}, status, headers=headers)


PYDANTIC_SAYS = {
    "list_type": "expected a JSON array of posts",
    "model_type": "expected a JSON object with post_id, text, image or image_b64, created_at",
    "missing": "is required",
    "string_type": "must be a string or null",
    "string_pattern_mismatch": "does not match the documented pattern (see /openapi.json)",
    "string_too_long": "is longer than the documented limit (see /openapi.json)",
    "int_type": "must be a string or an integer",
}


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _location(loc) -> str:
    """``body[0].post_id`` from pydantic's ``("body", 0, "post_id", "str")``; ``user_id`` from
    ``("path", "user_id")``."""
    if len(loc) >= 2 and loc[0] in ("path", "query", "header"):
        return str(loc[1])
    text, fields = "", 0
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not text:
            text = str(part)
        elif fields == 0:  # the field; what follows names a member of a union type
            text += f".{part}"
            fields += 1
    return text


def _says(problem: dict, limits: Limits, media) -> str:
    """What a validation error means, in the words of the post parser (and what would be accepted)."""
    kind, loc, value = problem.get("type", ""), problem.get("loc", ()), problem.get("input")
    field = next((part for part in reversed(loc) if part in FIELDS), None)
    if loc and loc[0] == "path" and field is None:
        field = loc[-1]
    if kind == "too_long" and field is None:
        return f"{len(value)} posts in one request; at most {problem['ctx']['max_length']} are accepted"
    if kind == "too_short" and field is None:
        return "expected at least one post"
    if field == "text" and kind == "string_too_long":
        return f"text is {len(value)} characters, longer than the limit of {limits.max_text_chars}"
    if field == "user_id" and (loc[0] == "path" or kind.startswith("string")):
        return "expected 1-128 letters, digits or _.:@-" + ("" if loc[0] == "path" else ", or an integer")
    if field == "created_at":
        return "expected an ISO-8601 string: an RFC 3339 date-time or date, e.g. 2026-01-31T12:00:00Z"
    if field in ("image", "image_b64") and isinstance(value, str) and \
            len(value.partition(",")[2] if field == "image" else value) > base64_chars(limits.max_image_bytes):
        return f"the photo is larger than the limit of {limits.max_image_bytes} bytes"
    if field == "image_b64" and kind.startswith("string"):
        return f"not valid base64 (padded, of a photo of at most {limits.max_image_bytes} bytes)"
    if field == "image" and kind.startswith("string"):
        if isinstance(value, str) and value.startswith("data:"):
            return f"not valid base64 in a data:image/...;base64 URI (at most {limits.max_image_bytes} bytes)"
        if media.root is None and not media.allow_outside:
            return ("file paths are not accepted here; send the photo inline (image_b64 or a data:image/...;base64 "
                    f"URI), or {PATHS_HINT}")
        return f"must be a path inside the media root (no control character, no '..', not absolute); {PATHS_HINT}"
    if field == "post_id" and kind.startswith("string"):
        return (f"{field} must be a non-empty string of at most {IDENTIFIER_CHARS} characters without control "
                "characters, or an integer")
    if field == "text" and kind == "string_pattern_mismatch":
        return "text may not contain control characters other than tab, newline and return"
    if kind == "value_error":
        return str(problem.get("ctx", {}).get("error", problem.get("msg")))
    return PYDANTIC_SAYS.get(kind, problem.get("msg", "invalid"))


def _conflicts(posts, user_id: str | None) -> None:
    """409 for a body that contradicts itself or the URL: a repeated post_id, another user's post."""
    first = {}
    for index, post in enumerate(posts):
        if user_id is not None and post.user_id is not None and str(post.user_id) != user_id:
            raise RequestError(409, f"body[{index}]: user_id {post.user_id!r} does not match the URL's {user_id!r}",
                               f"body[{index}].user_id")
        key = str(post.post_id)  # the parser's rule: post ids key the scores, across users too
        if key in first:
            raise RequestError(409, f"body[{index}]: duplicate post_id {post.post_id!r} (first at body[{first[key]}])",
                               f"body[{index}].post_id")
        first[key] = index


def create_app(service: InterestService, token: str | None = None, limits: Limits | None = None) -> FastAPI:
    """The app over ``service``; ``token`` None: no authentication (loopback or ``--insecure`` only)."""
    limits = limits or service.limits

    @asynccontextmanager
    async def lifespan(_app):
        yield
        service.close()  # after uvicorn finished every in-flight request

    app = FastAPI(title="interestkit", summary="Users' interests and ads from their posts, in real time",
                  version="1", lifespan=lifespan)
    media = service.pipeline.media
    PostIn, RankPostIn = post_models(limits, media.root is not None or media.allow_outside)
    Update = Annotated[list[PostIn], Body(min_length=1, max_length=limits.max_posts)]
    Ranked = Annotated[list[RankPostIn], Body(max_length=limits.max_rank_posts)]

    @app.exception_handler(RequestError)
    async def refused(_request, exc: RequestError):
        return error(exc.status, str(exc), exc.field)

    @app.exception_handler(InterestkitError)
    async def invalid(_request, exc: InterestkitError):
        return error(422, str(exc), exc.field)

    @app.exception_handler(RequestValidationError)
    async def malformed(_request, exc: RequestValidationError):
        first = (exc.errors() or [{}])[0]
        where = _location(first.get("loc", ("body",)))
        if first.get("type") == "json_invalid":
            return error(400, f"body: invalid JSON ({first.get('ctx', {}).get('error', first.get('msg'))})", "body")
        return error(422, f"{where}: {_says(first, limits, media)} (got {_short(first.get('input'))})", where)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        messages = {404: f"no route {request.url.path}",
                    405: f"{request.method} is not allowed on {request.url.path}"}
        return error(exc.status_code, messages.get(exc.status_code, str(exc.detail)), None, exc.headers)

    @app.exception_handler(sa.exc.OperationalError)
    @app.exception_handler(sa.exc.InterfaceError)
    @app.exception_handler(sa.exc.TimeoutError)
    async def unavailable(_request, exc: Exception):  # the database is away, restarting or saturated
        return error(503, f"the state store is unavailable ({type(exc).__name__}); retry in {RETRY_SECONDS} s",
                     None, {"Retry-After": str(RETRY_SECONDS)})

    @app.exception_handler(Exception)
    async def bug(_request, exc: Exception):  # a bug: say so without a traceback to the client
        return error(500, f"internal error: {type(exc).__name__}")

    @app.post("/users/{user_id}/posts", response_model=UserAnswer, response_model_exclude_none=True,
              responses={403: {}, 409: {}})
    async def add_posts(user_id: UserId, posts: Update):
        """Score the new posts, update the user's window, answer from it."""
        _conflicts(posts, user_id)
        return await service.add_posts(user_id, [p.record() for p in posts])

    @app.get("/users/{user_id}/interests", response_model=UserAnswer, response_model_exclude_none=True,
             responses={404: {}})
    async def interests(user_id: UserId):
        return await service.interests(user_id)

    @app.get("/users/{user_id}/recommendations", response_model=UserAnswer, response_model_exclude_none=True,
             responses={404: {}})
    async def recommendations(user_id: UserId):
        return await service.interests(user_id)

    @app.delete("/users/{user_id}", response_model=Deleted, responses={404: {}})
    async def delete_user(user_id: UserId):
        """Remove every post, score and window of the user (404 afterwards)."""
        return await service.delete_user(user_id)

    @app.post("/rank", response_model=RankAnswer, response_model_exclude_none=True, responses={409: {}})
    async def rank(posts: Ranked):
        """Stateless: rank every user of the posts from their own windows."""
        _conflicts(posts, None)
        return await service.rank([p.record() for p in posts])

    @app.get("/health", response_model=Health)
    async def health():
        return service.health()

    @app.get("/metrics", response_class=Response)
    async def metrics():
        return Response(service.metrics.render(), media_type=service.metrics.content_type)

    add_adtech_routes(app, service)  # /users/{id}/openrtb, /users/{id}/opt-out, /audiences/{interest}
    document = {}

    def openapi():
        if not document:
            document.update(contract.document(app, limits, token is not None))
        return document

    app.openapi = openapi
    app.add_middleware(Guard, token=token, limits=limits, metrics=service.metrics, routes=lambda: app.router.routes)
    return app
