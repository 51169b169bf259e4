"""Which runtime scores a model folder: its ONNX export, or TensorFlow.

``INTERESTKIT_RUNTIME`` (set by the scoring commands' ``--runtime``):

- ``auto`` (default): the export when the folder has one, TensorFlow otherwise;
- ``onnx``: the export, and a clear error for a folder without one;
- ``tf``: TensorFlow and the Keras files, as before the export existed (for checking).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from ..errors import ConfigError
from .manifest import has_export

RUNTIME_ENV = "INTERESTKIT_RUNTIME"
CHOICES = ("auto", "onnx", "tf")


def requested() -> str:
    value = os.environ.get(RUNTIME_ENV, "").strip().lower() or "auto"
    if value not in CHOICES:
        raise ConfigError(f"{RUNTIME_ENV}={value!r}: expected one of {', '.join(CHOICES)}")
    return value


def set_runtime(value: str | None) -> None:
    """Make ``value`` (``auto``, ``onnx``, ``tf`` or None: unchanged) the runtime of this process and its children."""
    if value is None:
        return
    if value not in CHOICES:
        raise ConfigError(f"--runtime {value!r}: expected one of {', '.join(CHOICES)}")
    os.environ[RUNTIME_ENV] = value


def use_export(folder) -> bool:
    """True when ``folder`` is to be scored through its export."""
    choice = requested()
    if choice == "tf":
        return False
    return choice == "onnx" or has_export(folder)


@contextmanager
def forced(value: str):
    """Within the block, this process loads models with runtime ``value``."""
    previous = os.environ.get(RUNTIME_ENV)
    set_runtime(value)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(RUNTIME_ENV, None)
        else:
            os.environ[RUNTIME_ENV] = previous


def encoder_runtime(encoder_class) -> str:
    """What scores a model built on ``encoder_class`` (an encoder or embedder plugin): what it
    declares in ``export_runtime`` (its graphs export to ONNX: ``onnxruntime``, ``onnxruntime
    int8``), else ``tensorflow``."""
    declared = getattr(encoder_class, "export_runtime", None) if isinstance(encoder_class, type) else None
    return declared if isinstance(declared, str) and declared else "tensorflow"
