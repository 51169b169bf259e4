"""ExportedModel: a model folder scored through its ONNX export, without TensorFlow or Keras.

What runs outside the graphs is the same code as on TensorFlow: photos are decoded,
cropped and resized by ``data.images`` (numpy and Pillow) and go through the feature
cache (``modeling.features``); captions are split into sentences and aggregated by
``data.text``, and tokenised by ``runtime.tokenizer`` (the ids Keras' ``TextVectorization``
gives). Only the numeric graphs run on ONNX Runtime: the encoder (int8 for photos,
calibrated when exported) and the head (float32).

Feature-cache entries are keyed by the encoder's identity plus ``runtime``
(``onnxruntime-int8`` or ``onnxruntime-float32``), so features of different runtimes and
precisions never mix.
"""

from __future__ import annotations

import os
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
from .manifest import RUNTIME, export_dir, read_manifest, read_vocabulary
from .tokenizer import Tokenizer

BATCH = 256
THREADS_ENV = "INTERESTKIT_ONNX_THREADS"


def session(path: Path):
    """An ONNX Runtime CPU session; ``INTERESTKIT_ONNX_THREADS`` sets its intra-op threads (default: all cores)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    threads = os.environ.get(THREADS_ENV, "").strip()
    if threads:
        if not threads.isdigit():
            raise ModelError(f"{THREADS_ENV}={threads!r}: expected a whole number of threads")
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    # threads that spin while waiting for work take cores from everything else on a shared
    # machine (a Spark executor's other tasks, the server's event loop)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        raise ModelError(f"{path}: ONNX Runtime cannot load the graph ({str(error).splitlines()[0]})") from None


class Graph:
    """One ONNX graph with a single input and a single output, run in batches."""

    def __init__(self, path: Path):
        self.session = session(path)
        self.input = self.session.get_inputs()[0].name
        self.output = self.session.get_outputs()[0].name
        shape = self.session.get_inputs()[0].shape
        #: token ids of any length (captions): a batch is cut to its longest sentence
        self.any_length = len(shape) == 2 and not isinstance(shape[1], int)

    def __call__(self, inputs: np.ndarray, batch: int = BATCH) -> np.ndarray:
        parts = [self.session.run([self.output], {self.input: inputs[start:start + batch]})[0]
                 for start in range(0, len(inputs), batch)]
        return np.concatenate(parts).astype(np.float32, copy=False)


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
        self.encoder = Graph(export_dir(directory) / encoder_file)
        self.head = Graph(export_dir(directory) / manifest["head"])
        self.feature_dim = int(manifest["feature_dim"])
        self.tokenizer = None
        if manifest["input"] == "token_ids":
            self.tokenizer = Tokenizer(read_vocabulary(directory, manifest), manifest["tokenizer"]["sequence_length"])

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
        """Features of sentences. With a graph that takes ids of any length, sentences go shortest
        first and each batch is cut to its longest one: the padding the recurrent layers would
        step over (masked, so without effect) is not computed at all."""
        if not sentences:
            return np.zeros((0, self.feature_dim), np.float32)
        ids = self.tokenizer.ids(sentences)
        if not self.encoder.any_length:
            return self.encoder(ids)
        lengths = (ids != 0).sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(ids), self.feature_dim), np.float32)
        for start in range(0, len(order), BATCH):
            rows = order[start:start + BATCH]
            out[rows] = self.encoder(ids[rows, :max(1, int(lengths[rows].max()))])
        return out

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
