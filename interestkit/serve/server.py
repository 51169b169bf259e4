"""Running the app on uvicorn: timeouts on slow clients, graceful shutdown on SIGTERM.

uvicorn closes idle keep-alive connections after ``keep_alive`` seconds; ``GuardedH11``
adds the deadline it lacks: a connection must deliver a request's headers within
``read_timeout`` seconds of opening (or of its previous answer), so a client that
trickles a header or sends nothing holds no connection. The body's own deadline is the
middleware's. On SIGTERM or Ctrl-C uvicorn stops accepting, lets in-flight requests
finish (up to ``graceful_seconds``), then the app closes the service: every update
acknowledged before the signal was committed before its answer was sent.
"""

from __future__ import annotations

import contextlib
import json

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


def guarded_protocol(header_timeout: float):
    class GuardedH11(H11Protocol):
        """uvicorn's h11 protocol with a deadline for each request's headers."""

        _deadline = None
        _armed_cycle = None

        def _arm(self):
            self._disarm()
            self._armed_cycle = self.cycle
            self._deadline = self.loop.call_later(header_timeout, self._expire)

        def _disarm(self):
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self):
            waiting = self.cycle is None or self.cycle is self._armed_cycle or self.cycle.response_complete
            if waiting and not self.transport.is_closing():
                self.transport.close()

        def __init__(self, config, *args, **kwargs):
            super().__init__(config, *args, **kwargs)
            self._cap, self.limit_concurrency = self.limit_concurrency, None
            if self._cap is not None:
                self.app = _capped(self.app, self._cap, self.connections, self.tasks)

        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm()

        def data_received(self, data):
            super().data_received(data)
            if self.cycle is not None and self.cycle is not self._armed_cycle and not self.cycle.response_complete:
                self._disarm()  # the headers are in: the body's deadline is the middleware's

        def on_response_complete(self):
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc):
            self._disarm()
            super().connection_lost(exc)

    return GuardedH11


def _capped(app, cap: int, connections, tasks):
    """uvicorn's ``limit_concurrency`` answered with the API's JSON error body instead of plain text."""
    body = json.dumps({"error": {"code": 503, "message": f"the server is at its limit of {cap} connections; "
                                 "retry in 1 s", "field": None}}).encode()

    async def capped(scope, receive, send):
        if scope["type"] == "http" and (len(connections) >= cap or len(tasks) > cap):
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                    (b"retry-after", b"1"), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)
    return capped


class GracefulServer(uvicorn.Server):
    """uvicorn's server that, once stopped by a signal, exits normally instead of re-raising it."""

    stopped_by: list = []

    @contextlib.contextmanager
    def capture_signals(self):
        with super().capture_signals():
            try:
                yield
            finally:
                self.stopped_by = list(getattr(self, "_captured_signals", []))
                if hasattr(self, "_captured_signals"):
                    self._captured_signals.clear()


def uvicorn_server(app, host: str, port: int, limits, graceful_seconds: float = 30, log_level: str = "warning"):
    """A ``uvicorn.Server`` for ``app`` with the limits' timeouts and connection cap."""
    config = uvicorn.Config(app, host=host, port=port, http=guarded_protocol(limits.read_timeout),
                            timeout_keep_alive=limits.keep_alive, limit_concurrency=limits.max_connections,
                            h11_max_incomplete_event_size=64 * 1024, timeout_graceful_shutdown=graceful_seconds,
                            log_level=log_level, access_log=False, lifespan="on", server_header=False)
    return GracefulServer(config)
