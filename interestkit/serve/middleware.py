"""What every request passes before a route: the token, the body's type, size and time, the access log.

A pure ASGI middleware. The body is read here, in full, within ``read_timeout`` and
``max_body_bytes`` (announced or chunked), so a client that announces 1,000 bytes and
sends 10 gets a 408 and its connection is closed; no route ever waits on a socket. Every
request ends with one JSON access-log line and its metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from starlette.routing import Match

from .metrics import Metrics
from .security import OPEN_PATHS, Limits, authorized

ACCESS = logging.getLogger("interestkit.serve.access")
BODY_METHODS = {"POST", "PUT", "PATCH"}


def error_body(status: int, message: str, field: str | None = None) -> bytes:
    return json.dumps({"error": {"code": status, "message": message, "field": field}}).encode()


class Guard:
    def __init__(self, app, token: str | None, limits: Limits, metrics: Metrics, routes=None):
        self.app, self.token, self.limits, self.metrics = app, token, limits, metrics
        self.routes = routes or (lambda: [])  # () -> the app's routes: a body is read only for a declared one

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        seen = {"status": 500, "bytes": 0}

        async def sending(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif message["type"] == "http.response.body":
                seen["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            refusal = self._refuse(scope)
            if refusal is None and scope["method"] in BODY_METHODS and self._declared(scope):
                body, refusal = await self._read_body(scope, receive)
                if refusal is None:
                    receive = _replay(body, receive)
            if refusal is not None:
                await _send_error(sending, *refusal)
            else:
                await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(route, scope["method"], seen["status"], seconds)
            client = scope.get("client") or ("", 0)
            if ACCESS.isEnabledFor(logging.INFO):
                ACCESS.info(json.dumps({"method": scope["method"], "path": scope["path"], "route": route,
                                        "status": seen["status"], "ms": round(seconds * 1000, 2),
                                        "bytes": seen["bytes"], "client": client[0]}))

    def _refuse(self, scope):
        """(status, message, field, headers) of a refusal before the body is read, or None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["path"] not in OPEN_PATHS and not authorized(headers.get("authorization"), self.token):
            return 401, "missing or wrong bearer token (Authorization: Bearer <token>)", "Authorization", \
                [(b"www-authenticate", b"Bearer")]
        if scope["method"] not in BODY_METHODS or not self._declared(scope):
            return None  # the router answers 404 or 405 (with Allow) without reading a body
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        has_body = "transfer-encoding" in headers or headers.get("content-length", "0") != "0"
        if has_body and kind != "application/json":  # a POST without a body (opt-out) needs no type
            return 415, f"expected Content-Type application/json, got {kind or 'none'!r}", "Content-Type", []
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limits.max_body_bytes):
            return 413, (f"body of {length} bytes is larger than the limit of {self.limits.max_body_bytes}"
                         if length.isdigit() else f"Content-Length {length!r} is not a number"), "body", \
                [(b"connection", b"close")]
        return None

    def _declared(self, scope) -> bool:
        """Whether a route declares this path and method."""
        return any(route.matches(scope)[0] == Match.FULL for route in self.routes())

    async def _read_body(self, scope, receive):
        """(body, None), or (None, refusal) when it is too large or does not arrive in time."""
        chunks, size = [], 0
        deadline = time.monotonic() + self.limits.read_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                return None, (408, f"the body did not arrive within {self.limits.read_timeout:g} s", "body",
                              [(b"connection", b"close")])
            if message["type"] == "http.disconnect":
                return None, (400, "the client disconnected before sending its body", "body", [])
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_body_bytes:
                return None, (413, f"body is larger than the limit of {self.limits.max_body_bytes} bytes", "body",
                              [(b"connection", b"close")])
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return replay


async def _send_error(send, status, message, field, headers):
    body = error_body(status, message, field)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})
