"""The HTTP layer of ``interestkit serve`` (standard library): routes, bodies, JSON errors.

    POST /users/{user_id}/posts      new posts (JSON array): scores only them, updates the
                                     user's rolling window, returns interests and ads
    GET  /users/{user_id}/interests  the user's current interests (and ads)
    GET  /users/{user_id}/recommendations
    POST /rank                       stateless: a whole list of posts -> {"users": [...]}
    GET  /health                     the loaded model and every option of its pipeline

Bad requests get a 4xx JSON error naming the field, never a 500.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..errors import InterestkitError
from .service import MAX_BODY_BYTES, InterestService, RequestError


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
