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

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from ..errors import InterestkitError
from .adtech_routes import add_adtech_routes
from .middleware import Guard
from .schemas import ERRORS, Deleted, Health, PostIn, RankAnswer, UserAnswer
from .security import Limits
from .service import InterestService, RequestError, field_of


def error(status: int, message: str, field: str | None = None, headers=None) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message, "field": field}}, status, headers=headers)


PYDANTIC_SAYS = {
    "list_type": "expected a JSON array of posts",
    "model_type": "expected a JSON object with post_id, text, image or image_b64, created_at",
    "missing": "is required",
    "string_type": "must be a string or null",
}


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _location(loc) -> str:
    """``body[0].post_id`` from pydantic's ``("body", 0, "post_id")``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def create_app(service: InterestService, token: str | None = None, limits: Limits | None = None) -> FastAPI:
    """The app over ``service``; ``token`` None: no authentication (loopback or ``--insecure`` only)."""
    limits = limits or service.limits

    @asynccontextmanager
    async def lifespan(_app):
        yield
        service.close()  # after uvicorn finished every in-flight request

    app = FastAPI(title="interestkit", summary="Users' interests and ads from their posts, in real time",
                  version="1", lifespan=lifespan, responses=ERRORS)

    @app.exception_handler(RequestError)
    async def refused(_request, exc: RequestError):
        return error(exc.status, str(exc), exc.field)

    @app.exception_handler(InterestkitError)
    async def invalid(_request, exc: InterestkitError):
        return error(422, str(exc), field_of(str(exc)))

    @app.exception_handler(RequestValidationError)
    async def malformed(_request, exc: RequestValidationError):
        first = (exc.errors() or [{}])[0]
        where = _location(first.get("loc", ("body",)))
        if first.get("type") == "json_invalid":
            return error(400, f"body: invalid JSON ({first.get('ctx', {}).get('error', first.get('msg'))})", "body")
        said = PYDANTIC_SAYS.get(first.get("type"), first.get("msg", "invalid"))
        return error(422, f"{where}: {said} (got {_short(first.get('input'))})", where)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        messages = {404: f"no route {request.url.path}",
                    405: f"{request.method} is not allowed on {request.url.path}"}
        return error(exc.status_code, messages.get(exc.status_code, str(exc.detail)), None, exc.headers)

    @app.exception_handler(Exception)
    async def bug(_request, exc: Exception):  # a bug: say so without a traceback to the client
        return error(500, f"internal error: {type(exc).__name__}")

    @app.post("/users/{user_id}/posts", response_model=UserAnswer, response_model_exclude_none=True)
    async def add_posts(user_id: str, posts: list[PostIn]):
        """Score the new posts, update the user's window, answer from it."""
        return await service.add_posts(user_id, [p.record() for p in posts])

    @app.get("/users/{user_id}/interests", response_model=UserAnswer, response_model_exclude_none=True)
    async def interests(user_id: str):
        return await service.interests(user_id)

    @app.get("/users/{user_id}/recommendations", response_model=UserAnswer, response_model_exclude_none=True)
    async def recommendations(user_id: str):
        return await service.interests(user_id)

    @app.delete("/users/{user_id}", response_model=Deleted)
    async def delete_user(user_id: str):
        """Remove every post, score and window of the user (404 afterwards)."""
        return await service.delete_user(user_id)

    @app.post("/rank", response_model=RankAnswer, response_model_exclude_none=True)
    async def rank(posts: list[PostIn]):
        """Stateless: rank every user of the posts from their own windows."""
        return await service.rank([p.record() for p in posts])

    @app.get("/health", response_model=Health)
    async def health():
        return service.health()

    @app.get("/metrics", response_class=Response)
    async def metrics():
        return Response(service.metrics.render(), media_type=service.metrics.content_type)

    add_adtech_routes(app, service)  # /users/{id}/openrtb, /users/{id}/opt-out, /audiences/{interest}
    app.add_middleware(Guard, token=token, limits=limits, metrics=service.metrics)
    return app
