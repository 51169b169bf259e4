"""The OpenAPI document as a contract: every answer a route can give, the bearer scheme, the limits.

FastAPI describes routes and models; this adds, for every route (a new one included),
what the server in front of it enforces: the token (``401`` and the ``bearer`` security
scheme on every route but the open ones), the body's type, size and deadline (``400``,
``408``, ``413``, ``415`` on routes with a body), validation (``422``), an unavailable
state store or a full server (``503``) and a bug (``500``), each with the one error body.
A method a path does not declare answers ``405`` (described once, under
``components.responses``).
"""

from __future__ import annotations

from fastapi.openapi.utils import get_openapi

from .schemas import ErrorAnswer
from .security import OPEN_PATHS

ERROR_REF = {"$ref": "#/components/schemas/ErrorAnswer"}

WHY = {
    400: "The body is not valid JSON, or the client left before sending it.",
    401: "Missing or wrong bearer token (Authorization: Bearer <token>).",
    403: "The user opted out (POST /users/{user_id}/opt-out): their posts are neither stored nor scored.",
    404: "No such user (or route), or an audience cursor this server did not give.",
    405: "The path does not declare this method; the Allow header lists those it does.",
    408: "The body did not arrive within the read timeout.",
    409: "The body contradicts itself or the URL: a post_id repeated in one request, a user_id other than the URL's.",
    413: "The body is larger than the limit (max_body_bytes).",
    415: "The body is not Content-Type application/json.",
    422: "A field breaks a rule of this document or of the post parser; error.field names it.",
    500: "A bug: the answer names the exception's type, never a traceback.",
    503: "The state store is unreachable, or the server is at its connection limit: retry after Retry-After seconds.",
}


def _error(status: int) -> dict:
    return {"description": WHY[status], "content": {"application/json": {"schema": ERROR_REF}}}


def document(app, limits, secured: bool) -> dict:
    """The app's OpenAPI document with every rule the server enforces."""
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes,
                       description=_description(limits, secured))
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["ErrorAnswer"] = ErrorAnswer.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schemas["ErrorAnswer"].pop("$defs", {}))
    components["responses"] = {"MethodNotAllowed": {**_error(405), "description": f"405: {WHY[405]}"}}
    if secured:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer",
                                                    "description": "INTERESTKIT_SERVE_TOKEN or --token-file"}}
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            _strict(operation, path, limits, secured)
    return spec


def _strict(operation: dict, path: str, limits, secured: bool) -> None:
    responses = operation.setdefault("responses", {})
    statuses = {500, 503}
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses |= {400, 408, 413, 415}
        body = operation["requestBody"]
        body["description"] = (f"application/json, at most {limits.max_body_bytes} bytes, "
                               f"within {limits.read_timeout:g} s")
        body["x-max-body-bytes"] = limits.max_body_bytes
    if secured and path not in OPEN_PATHS:
        statuses.add(401)
        operation["security"] = [{"bearer": []}]
    for status in sorted(statuses | {int(s) for s in responses if s.isdigit() and int(s) >= 400}):
        responses[str(status)] = _error(status)


def _description(limits, secured: bool) -> str:
    return (
        "Users' interests and ads from their posts. Every 4xx and 5xx answer is "
        '`{"error": {"code", "message", "field"}}`. '
        f"Limits: a body of at most {limits.max_body_bytes} bytes, {limits.max_posts} posts per update, "
        f"{limits.max_rank_posts} per /rank, captions of {limits.max_text_chars} characters, photos of "
        f"{limits.max_image_bytes} bytes and {limits.max_image_pixels} pixels. "
        + ("Every route but /health needs `Authorization: Bearer <token>`. " if secured else "")
        + "A method a path does not declare answers 405."
    )
