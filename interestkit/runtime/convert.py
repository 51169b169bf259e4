"""Keras graphs to ONNX files, checked against Keras before anything is kept.

Keras' exporter (``model.export(format="onnx")``, tf2onnx on the TensorFlow backend)
writes the file; ``export_checked`` then runs it on probe inputs with ONNX Runtime and
compares with Keras: a difference over ``TOLERANCE`` raises ``ExportError``, as does a
layer the exporter does not convert. Needs TensorFlow, Keras and tf2onnx; scoring never
imports this module.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .graph import Graph

TOLERANCE = 1e-3


class ExportError(ModelError):
    """A model that cannot be exported (it keeps working on TensorFlow)."""


@contextlib.contextmanager
def quiet():
    """tf2onnx and Keras' exporter print progress to stdout and stderr."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def largest_difference(expected, got) -> float:
    expected, got = np.asarray(expected, np.float32), np.asarray(got, np.float32)
    return float(np.max(np.abs(expected - got))) if expected.size else 0.0


def export_checked(keras_model, inputs, path: Path, what: str) -> None:
    """Export ``keras_model`` to ``path`` and check it gives Keras' outputs on ``inputs``
    (calling the model first also builds one loaded from a file, which the exporter needs)."""
    expected = np.asarray(keras_model(inputs, training=False), np.float32)
    to_onnx(keras_model, path)
    worst = largest_difference(expected, Graph(path)(inputs))
    if not worst <= TOLERANCE:
        raise ExportError(f"the exported {what} differs from Keras by {worst:.2g} (over {TOLERANCE})")


def to_onnx(keras_model, path: Path) -> None:
    try:
        with quiet():
            keras_model.export(str(path), format="onnx", verbose=False)
    except Exception as error:  # tf2onnx fails in many ways on layers it does not convert
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ExportError(f"the ONNX exporter cannot convert {keras_model.name!r}: {first[:300]}") from None
