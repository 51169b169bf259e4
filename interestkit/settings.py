"""Where interestkit keeps things, and the environment variables that move them.

| variable | meaning |
|---|---|
| ``INTERESTKIT_REGISTRY`` | folder of the default MLflow store (default ``./registry``) |
| ``MLFLOW_TRACKING_URI`` | another MLflow store altogether (a server, Postgres, ...) |
| ``INTERESTKIT_CACHE_DIR`` | the feature cache (default ``~/.cache/interestkit/features``) |
| ``INTERESTKIT_WHEEL_CACHE`` | wheels bundled with logged models (default ``~/.cache/interestkit/wheels``) |
| ``INTERESTKIT_PLUGINS`` | allow-list of third-party plugins; set but empty: built-ins only |
| ``INTERESTKIT_STRICT_PLUGINS=1`` | a broken plugin is an error, not a warning |
| ``INTERESTKIT_MEDIA_ROOT`` | media root of a served model (set by whoever starts the process) |
| ``INTERESTKIT_DEBUG=1`` | the CLI prints tracebacks of unexpected errors |
"""

from __future__ import annotations

import os
from pathlib import Path

REGISTRY_ENV = "INTERESTKIT_REGISTRY"
CACHE_ENV = "INTERESTKIT_CACHE_DIR"
WHEEL_CACHE_ENV = "INTERESTKIT_WHEEL_CACHE"
PLUGINS_ENV = "INTERESTKIT_PLUGINS"
STRICT_PLUGINS_ENV = "INTERESTKIT_STRICT_PLUGINS"
MEDIA_ROOT_ENV = "INTERESTKIT_MEDIA_ROOT"
DEBUG_ENV = "INTERESTKIT_DEBUG"

DEFAULT_REGISTRY = "registry"
DEFAULT_CACHE = "~/.cache/interestkit/features"
DEFAULT_WHEEL_CACHE = "~/.cache/interestkit/wheels"


def env_flag(name: str) -> bool:
    """True when the variable is set to 1, true or yes (any case)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def store_dir() -> Path:
    """Folder of the default store: ``$INTERESTKIT_REGISTRY`` or ``./registry``."""
    return Path(os.environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY)


def cache_root() -> Path:
    """``$INTERESTKIT_CACHE_DIR`` if set, else ``~/.cache/interestkit/features``."""
    return Path(os.path.expanduser(os.environ.get(CACHE_ENV) or DEFAULT_CACHE))


def wheel_cache() -> Path:
    """``$INTERESTKIT_WHEEL_CACHE`` if set, else ``~/.cache/interestkit/wheels``."""
    return Path(os.path.expanduser(os.environ.get(WHEEL_CACHE_ENV) or DEFAULT_WHEEL_CACHE))


def media_root_from_env() -> Path | None:
    """``$INTERESTKIT_MEDIA_ROOT`` as a path, or None."""
    value = os.environ.get(MEDIA_ROOT_ENV, "").strip()
    return Path(value).expanduser() if value else None
