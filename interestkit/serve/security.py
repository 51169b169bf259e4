"""Who may call the server and how much one request may carry: the token, the bind rule, the limits."""

from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from ..data.posts import RecordLimits
from ..errors import ConfigError

TOKEN_ENV = "INTERESTKIT_SERVE_TOKEN"
OPEN_PATHS = frozenset({"/health"})  # answered without a token


@dataclass(frozen=True)
class Limits:
    """Bounds on every input; ``records``/``rank_records`` are the post parser's own ``RecordLimits``."""

    max_body_bytes: int = 16 * 1024 * 1024
    max_posts: int = 100  # per update
    max_rank_posts: int = 2000  # per POST /rank
    max_text_chars: int = 10_000
    max_image_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # width x height, checked from the header before decoding
    read_timeout: float = 10.0  # seconds to receive a request's headers, and its body
    keep_alive: float = 5.0  # seconds an idle connection is kept
    max_connections: int = 1000

    @property
    def records(self) -> RecordLimits:
        return RecordLimits(self.max_posts, self.max_text_chars, self.max_image_bytes)

    @property
    def rank_records(self) -> RecordLimits:
        return RecordLimits(self.max_rank_posts, self.max_text_chars, self.max_image_bytes)

    def describe(self) -> dict:
        return dict(self.__dict__)


def load_token(token_file=None, environ=None) -> str | None:
    """The bearer token from ``token_file`` (first line) or ``INTERESTKIT_SERVE_TOKEN``; None if neither."""
    environ = os.environ if environ is None else environ
    if token_file:
        path = Path(token_file)
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(f"--token-file {path}: cannot read it ({error.strerror or error})") from None
        if not token:
            raise ConfigError(f"--token-file {path}: the file is empty; expected the token on its first line")
        return token
    token = environ.get(TOKEN_ENV, "").strip()
    return token or None


def check_bind(host: str, token: str | None, insecure: bool = False) -> None:
    """Refuse to listen beyond loopback without a token, unless the operator says ``--insecure``."""
    if token or insecure or is_loopback(host):
        return
    raise ConfigError(f"--host {host}: binding beyond loopback needs a token (--token-file or {TOKEN_ENV}); "
                      "pass --insecure to serve without one (e.g. behind an authenticating proxy)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (compared in constant time)."""
    if token is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
