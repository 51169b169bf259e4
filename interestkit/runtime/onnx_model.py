"""ExportedModel: a model folder scored through its ONNX export, without TensorFlow or Keras.

What runs outside the graphs is the same code as on TensorFlow: photos are decoded,
cropped and resized by ``data.images`` (numpy and Pillow) and go through the feature
cache (``modeling.features``); captions are split into sentences and aggregated by
``data.text``, and tokenised outside the graph (``runtime.text_encoder``: the ids Keras'
``TextVectorization`` or keras-hub's WordPiece gives). Only the numeric graphs run on ONNX Runtime: the encoder (int8 for photos,
calibrated when exported) and the head (float32).

Feature-cache entries are keyed by the encoder's identity plus ``runtime``
(``onnxruntime-int8`` or ``onnxruntime-float32``), so features of different runtimes and
precisions never mix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..atomic import atomic_folder
from ..data import text as text_utils
from ..data.augment import View
from ..errors import ModelError
from ..modeling.calibration import apply_temperature
from ..modeling.features import image_features
from ..modeling.interface import MetaProperties
from ..modeling.model import read_meta, write_meta
from .graph import BATCH, THREADS_ENV, Graph, session  # noqa: F401 -- scoring's names for them
from .manifest import RUNTIME, export_dir, read_manifest
from .text_encoder import TextEncoder


class ExportedModel(MetaProperties):
    """A text or image model of any folder that has ``export/`` (see ``runtime.manifest``)."""

    format = "keras"

    def __init__(self, directory, meta: dict, manifest: dict, precision: str | None = None):
        self.directory = Path(directory)
        self.meta = dict(meta)
        self.modality = self.meta.pop("modality")
        self.labels = list(self.meta.pop("labels"))
        self.meta.pop("format", None)
        self.manifest = manifest
        self.precision = precision or manifest["precision"]
        encoder_file = manifest["encoder"] if self.precision == manifest["precision"] else \
            manifest.get("encoder_float32")
        if not encoder_file or not (export_dir(directory) / encoder_file).is_file():
            raise ModelError(f"{directory}: the export has no {self.precision} encoder")
        if not manifest.get("head"):
            raise ModelError(f"{export_dir(directory)}: the export has no head (an encoder alone)")
        self.head = Graph(export_dir(directory) / manifest["head"])
        self.feature_dim = int(manifest["feature_dim"])
        self.text_encoder = None
        if manifest["input"] == "token_ids":
            self.text_encoder = TextEncoder(directory, manifest, encoder_file)
            self.encoder = self.text_encoder.graph
        else:
            self.encoder = Graph(export_dir(directory) / encoder_file)

    @property
    def tokenizer(self):
        return None if self.text_encoder is None else self.text_encoder.tokenizer

    @property
    def runtime(self) -> str:
        return f"{RUNTIME}-{self.precision}"

    @classmethod
    def load(cls, directory, precision: str | None = None) -> "ExportedModel":
        meta = read_meta(directory)
        manifest = read_manifest(directory)
        if manifest.get("modality") != meta.get("modality"):
            raise ModelError(f"{export_dir(directory)}: the export is of a {manifest.get('modality')} model, the folder "
                             f"of a {meta.get('modality')} one")
        return cls(directory, meta, manifest, precision)

    # --- prediction --------------------------------------------------------------

    def _calibrate(self, probs, calibrated: bool):
        return apply_temperature(probs, self.temperature) if calibrated else probs

    def encode_sentences(self, sentences: list[str]) -> np.ndarray:
        """Features of sentences (``runtime.text_encoder``: shortest first, batches cut to their longest)."""
        return self.text_encoder.encode(list(sentences))

    def predict_sentences(self, sentences: list[str], calibrated: bool = True) -> np.ndarray:
        if self.tokenizer is None:
            raise ModelError(f"{self.directory}: an image model does not score captions")
        if not sentences:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self._calibrate(self.head(self.encode_sentences(list(sentences))), calibrated)

    def predict_texts(self, texts: list[str], calibrated: bool = True) -> np.ndarray:
        sentences, owners, weights = text_utils.explode(texts)
        return text_utils.aggregate(self.predict_sentences(sentences, calibrated), owners, weights, len(texts))

    def image_features(self, sources, cache=None, on_error="skip", log=None, view=None):
        identity = self.meta.get("encoder_identity") if self.frozen else None
        if identity is not None:
            identity = {**identity, "runtime": self.runtime}
        return image_features(lambda pixels: self.encoder(np.ascontiguousarray(pixels, np.float32), 64), sources,
                              int(self.image_size), self.feature_dim, cache, identity, on_error, log, view=view)

    def predict_features(self, features: np.ndarray, calibrated: bool = True) -> np.ndarray:
        features = np.asarray(features, np.float32)
        if not len(features):
            return np.zeros((0, len(self.labels)), np.float32)
        return self._calibrate(self.head(features), calibrated)

    def predict_images(self, sources, cache=None, on_error="skip", log=None, calibrated: bool = True):
        """(probabilities, kept indices, failures), as ``InterestModel.predict_images``."""
        if self.tokenizer is not None:
            raise ModelError(f"{self.directory}: a text model does not score photos")
        sources = list(sources)
        features, kept, failures = self.image_features(sources, cache, on_error, log)
        if not kept:
            return np.zeros((0, len(self.labels)), np.float32), kept, failures
        probs = self.head(features)
        if self.meta.get("tta") == "mirror":
            mirrored, _, _ = self.image_features([sources[i] for i in kept], cache, "skip", None, View.mirror())
            if len(mirrored) == len(kept):
                probs = (probs + self.head(mirrored)) / 2
        return self._calibrate(probs, calibrated), kept, failures

    # --- persistence ------------------------------------------------------------

    def save(self, directory) -> Path:
        """Copy the folder it was loaded from (Keras files, meta.json and export)."""
        directory = Path(directory)
        with atomic_folder(directory) as staging:
            shutil.copytree(self.directory, staging, dirs_exist_ok=True)
            write_meta(staging, dict(self.meta, format=self.format, modality=self.modality, labels=self.labels))
        return directory
