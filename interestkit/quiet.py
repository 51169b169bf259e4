"""Quiet start-up: TensorFlow's, absl's, CUDA's and MLflow's start-up chatter kept off the terminal.

Importing TensorFlow prints, from C++ and before any Python logging exists::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.

``TF_CPP_MIN_LOG_LEVEL`` does not reach these lines (absl logs them before TensorFlow reads it),
and absl has no environment variable for them, so the import itself runs with file descriptor 2
pointed at a temporary file; what it wrote there is shown only if the import fails.
``TF_CPP_MIN_LOG_LEVEL=3`` then silences TensorFlow's later C++ messages (the CUDA probe on the
first operation) and ``MLFLOW_LOGGING_LEVEL=WARNING`` MLflow's and alembic's INFO lines.

Nothing happens on ``import interestkit``. The CLI calls :func:`start` before any command runs;
library code calls :func:`tensorflow` before it first needs TensorFlow. With ``--debug`` or
``INTERESTKIT_DEBUG=1`` neither changes anything, and every line reaches the terminal.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import io
import logging
import os
import sys
import tempfile

from .settings import DEBUG_ENV, env_flag

#: set (unless already set) before TensorFlow and MLflow are imported, in normal use only
QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ INFO, WARNING and ERROR lines (the CUDA probe)
    "GRPC_VERBOSITY": "ERROR",  # gRPC's start-up lines, where TensorFlow loads it
    "MLFLOW_LOGGING_LEVEL": "WARNING",  # MLflow's and alembic's INFO lines ("Creating initial MLflow database tables")
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # download bars while loading a model
}
#: Python loggers that print start-up chatter at WARNING ("WARNING:absl:Compiled the loaded model ...")
QUIET_LOGGERS = ("absl", "tensorflow")


def debug() -> bool:
    """True when ``INTERESTKIT_DEBUG`` asks for every line."""
    return env_flag(DEBUG_ENV)


def start() -> None:
    """The CLI's start-up (``--debug`` has set ``INTERESTKIT_DEBUG=1`` by then): quiets TensorFlow,
    absl, gRPC and MLflow before any of them loads."""
    prepare()


def prepare() -> None:
    """Environment and import hook for a quiet TensorFlow; idempotent, and a no-op in debug mode
    except for the Keras backend."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if debug():
        return
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.ERROR:
            logger.setLevel(logging.ERROR)
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())


@contextlib.contextmanager
def chatter():
    """Python-level stderr chatter (MLflow's ``Successfully registered model ...`` and
    ``Created version ...`` prints) held back, and shown only on an error or in debug mode."""
    if debug():
        yield
        return
    held = io.StringIO()
    try:
        with contextlib.redirect_stderr(held):
            yield
    except BaseException:
        sys.stderr.write(held.getvalue())
        raise


def tensorflow():
    """The ``tensorflow`` module, imported quietly the first time (see the module's docstring)."""
    prepare()
    import tensorflow as tf

    return tf


class _Silenced:
    """File descriptor 2 pointed at a temporary file; on an error, what was written there is
    shown on the real stderr before the error propagates."""

    def __enter__(self):
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._capture = tempfile.TemporaryFile()
        os.dup2(self._capture.fileno(), 2)
        return self

    def __exit__(self, kind, error, trace):
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        if kind is not None:
            self._capture.seek(0)
            sys.stderr.write(self._capture.read().decode("utf-8", "replace"))
            sys.stderr.flush()
        self._capture.close()
        return False


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` with the other finders and runs its first import silenced."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once is enough, and never recursive
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or debug():
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        with _Silenced():
            self._loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)
