"""LiteRT (``ai-edge-litert``, XNNPACK on CPU) rows for ``benchmarks/runtime.py``: the photo encoder
converted from its Keras model with ``tf.lite.TFLiteConverter``, float32 and int8.

int8 is full-integer post-training quantisation (weights and activations int8, per-channel
weights; float32 input and output), calibrated on the same photos as the ONNX int8 graph.
``ai-edge-litert`` is optional (``pip install "interestkit[litert]"``): without it,
``note()`` says so and no row is added.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np


def note() -> str | None:
    """None when LiteRT can run here, else why not (one line)."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401
    except ImportError as error:
        return f"LiteRT rows left out: ai-edge-litert is not installed ({error}); pip install 'interestkit[litert]'"
    return None


@contextlib.contextmanager
def _quiet():
    """The exporter and the converter print progress to stdout and stderr."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def convert(keras_model, path: Path, calibration: np.ndarray | None = None) -> Path:
    """``keras_model`` as a .tflite file: float32, or int8 calibrated on ``calibration`` pixels."""
    import tensorflow as tf

    saved = Path(tempfile.mkdtemp(prefix="litert-")) / "saved"
    with _quiet():
        keras_model.export(str(saved), format="tf_saved_model", verbose=False)  # Keras 3's own exporter
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if calibration is not None:
        def representative():
            for i in range(len(calibration)):
                yield [calibration[i:i + 1].astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with _quiet():
        path.write_bytes(converter.convert())
    return path


class LiteRTEncoder:
    """A .tflite encoder: pixels (n, s, s, 3) in, features out, in batches (the input resized per batch size)."""

    def __init__(self, path: Path, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=threads or os.cpu_count())
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.batch = None

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        pixels = np.ascontiguousarray(pixels, np.float32)
        if self.batch != len(pixels):
            self.interpreter.resize_tensor_input(self.input, pixels.shape, strict=False)
            self.interpreter.allocate_tensors()
            self.batch = len(pixels)
        self.interpreter.set_tensor(self.input, pixels)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()


def encoders(keras_encoder, calibration: np.ndarray, log=print) -> dict:
    """``{"litert float32": encoder, "litert int8": encoder}`` of ``keras_encoder`` (those that convert)."""
    folder = Path(tempfile.mkdtemp(prefix="litert-models-"))
    found = {}
    for precision, sample in (("float32", None), ("int8", calibration)):
        try:
            found[f"litert {precision}"] = LiteRTEncoder(convert(keras_encoder, folder / f"{precision}.tflite", sample))
        except Exception as error:  # the converter fails in many ways on graphs it does not support
            log(f"LiteRT {precision}: conversion failed ({str(error).strip().splitlines()[0][:200]})")
    return found
