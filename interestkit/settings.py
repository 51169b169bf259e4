"""Where interestkit keeps things, and the environment variables that move them.

| variable | meaning |
|---|---|
| ``INTERESTKIT_REGISTRY`` | folder of the default MLflow store (default ``./registry``) |
| ``MLFLOW_TRACKING_URI`` | another MLflow store altogether (a server, Postgres, ...) |
| ``INTERESTKIT_CACHE_DIR`` | the feature cache (default ``~/.cache/interestkit/features``) |
| ``INTERESTKIT_EXPORT_CACHE`` | ONNX exports of frozen encoders, shared by embedders and zero-shot models (default ``~/.cache/interestkit/exports``) |
| ``INTERESTKIT_WHEEL_CACHE`` | wheels bundled with logged models (default ``~/.cache/interestkit/wheels``) |
| ``INTERESTKIT_PLUGINS`` | allow-list of third-party plugins; set but empty: built-ins only |
| ``INTERESTKIT_STRICT_PLUGINS=1`` | a broken plugin is an error, not a warning |
| ``INTERESTKIT_MEDIA_ROOT`` | media root of a served model (set by whoever starts the process) |
| ``INTERESTKIT_DEBUG=1`` | the CLI prints tracebacks of unexpected errors, and TensorFlow's and MLflow's start-up lines (``interestkit.quiet``) |
"""

from __future__ import annotations

import os
from pathlib import Path

REGISTRY_ENV = "INTERESTKIT_REGISTRY"
CACHE_ENV = "INTERESTKIT_CACHE_DIR"
WHEEL_CACHE_ENV = "INTERESTKIT_WHEEL_CACHE"
EXPORT_CACHE_ENV = "INTERESTKIT_EXPORT_CACHE"
PLUGINS_ENV = "INTERESTKIT_PLUGINS"
STRICT_PLUGINS_ENV = "INTERESTKIT_STRICT_PLUGINS"
MEDIA_ROOT_ENV = "INTERESTKIT_MEDIA_ROOT"
DEBUG_ENV = "INTERESTKIT_DEBUG"

#: what a refused image path names as its fix, by who can widen the policy (never the request)
SERVED_MODEL_MEDIA_HINT = (f"whoever starts the process that serves the model can set {MEDIA_ROOT_ENV} to the "
                           "photos' folder to accept paths under it")
HYBRID_MEDIA_HINT = (f"whoever starts the process can accept paths under a folder: {MEDIA_ROOT_ENV} for a served "
                     "model, --media-root for 'interestkit serve', or 'interestkit models build-hybrid --media-root "
                     "DIR' (--allow-outside-paths: any path)")
SERVE_MEDIA_HINT = "paths are relative to the --media-root 'interestkit serve' was started with"

DEFAULT_REGISTRY = "registry"
DEFAULT_CACHE = "~/.cache/interestkit/features"
DEFAULT_WHEEL_CACHE = "~/.cache/interestkit/wheels"
DEFAULT_EXPORT_CACHE = "~/.cache/interestkit/exports"


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


def export_cache() -> Path:
    """``$INTERESTKIT_EXPORT_CACHE`` if set, else ``~/.cache/interestkit/exports``."""
    return Path(os.path.expanduser(os.environ.get(EXPORT_CACHE_ENV) or DEFAULT_EXPORT_CACHE))


def media_root_from_env() -> Path | None:
    """``$INTERESTKIT_MEDIA_ROOT`` as a path, or None."""
    value = os.environ.get(MEDIA_ROOT_ENV, "").strip()
    return Path(value).expanduser() if value else None
