"""PrototypeModel: interests as fixed vectors over a frozen encoder's features (zero-shot and few-shot).

No weights are trained. A frozen encoder plugin (MiniLM for captions, EfficientNet-Lite0
for photos, or any other frozen encoder) maps an input to features, and a fixed head
turns them into interest probabilities:

- ``cosine``: one unit vector per interest (its prototype: the embedded description and
  keywords, or the centroid of its examples); a sentence's probabilities are the softmax
  of ``cos(features, prototype) / scale``;
- ``mapped``: the encoder's own ImageNet classifier (``encoder.imagenet_classifier()``:
  kernel and bias over its pooled features) gives the 1,000 class probabilities, and a
  ``(classes, interests)`` matrix (``semantics.ClassMap``) sums them into interests,
  renormalised.

Captions are split into sentences and aggregated as for trained models
(``data.text``); photos go through the feature cache (``modeling.features``).
``temperature`` (``meta.json``) is applied on top, as for every model, and is what
calibration on examples fits.

The folder is small: ``meta.json`` (format ``prototypes``, labels, head, scale,
temperature, and the encoder's reference: registered name, options, identity,
distribution) and ``weights.npy``; plus ``taxonomy.yaml`` when built from a taxonomy.
The encoder is rebuilt from its plugin when the model loads (found through the hooks;
the core imports no plugin), and its identity must match the one recorded. A caption
model's folder may also carry ``export/`` (``runtime.manifest``, written when it is
logged): a caption model's encoder graph and tokeniser, or a photo model's encoder graph
(pixels to features) and, for a ``mapped`` head, the ImageNet classifier
(``imagenet_classifier.npz``). It then embeds on ONNX Runtime (``runtime.text_encoder``,
``runtime.graph``), without TensorFlow or the plugin's Keras code, unless
``INTERESTKIT_RUNTIME=tf``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from .. import hooks
from ..atomic import atomic_folder
from ..data import text as text_utils
from ..errors import InterestkitError, ModelError
from ..hooks import requirements
from ..runtime.choice import use_export
from ..runtime.graph import Graph
from ..runtime.manifest import CLASSIFIER_FILE, export_dir, read_manifest
from ..runtime.text_encoder import TextEncoder
from .calibration import apply_temperature
from .features import image_features
from .interface import MetaProperties
from .model import read_meta, write_meta

HEADS = ("cosine", "mapped")
DEFAULT_SCALE = 0.05  # cosine head: softmax(cos / 0.05) before any calibration
BATCH = 256


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def encoder_reference(info, encoder) -> dict:
    """What rebuilds an encoder: its registered name, options, identity and distribution."""
    return {"name": info.name, "options": dict(encoder.options), "identity": encoder.identity(),
            "package": info.package, "version": info.version}


def build_encoder(reference: dict, modality: str, where: str = "model"):
    """``(encoder, built model)`` from a reference; ModelError naming what to install when it cannot."""
    needs = [requirements.Need(f"encoder {reference.get('name')!r}", reference.get("package") or "",
                               str(reference.get("version") or ""))]
    unmet = requirements.missing(needs)
    if unmet:
        raise ModelError(f"{where}: this model needs what is not available here: {'; '.join(unmet)}")
    try:
        info = hooks.get("encoder", reference["name"], modality)
        encoder = info.cls(**reference.get("options", {}))
    except InterestkitError as error:
        raise ModelError(f"{where}: its encoder cannot be built: {error}") from None
    if not encoder.frozen():
        raise ModelError(f"{where}: encoder {reference['name']!r} is not frozen with these options; "
                         "prototypes need fixed features")
    recorded = reference.get("identity")
    if recorded is not None and _plain(encoder.identity()) != _plain(recorded):
        raise ModelError(f"{where}: encoder {reference['name']!r} here is not the one the interests were computed "
                         f"with (recorded {json.dumps(recorded, default=str)}, here "
                         f"{json.dumps(encoder.identity(), default=str)}); rebuild the model with 'interestkit zero-shot'")
    return encoder, encoder.build(None)


def _plain(value):
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def embed_texts(model, sentences) -> np.ndarray:
    """Features of sentences through a built text encoder, shortest first (less padding)."""
    if not len(sentences):
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float32)
    order = np.argsort([len(s) for s in sentences], kind="stable")
    ordered = [sentences[i] for i in order]
    if type(model).__module__.startswith("keras"):
        import tensorflow as tf

        ordered = tf.constant(ordered)[:, None]
    out = np.empty((len(sentences), int(model.output_shape[-1])), dtype=np.float32)
    out[order] = np.asarray(model.predict(ordered, batch_size=BATCH, verbose=0), dtype=np.float32)
    return out


class PrototypeModel(MetaProperties):
    """Interest probabilities from a frozen encoder's features and a fixed head (see the module)."""

    format = "prototypes"

    def __init__(self, modality, labels, weights, reference: dict, head: str = "cosine", scale: float = DEFAULT_SCALE,
                 meta: dict | None = None, encoder=None, encoder_model=None, taxonomy_yaml: str | None = None):
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        self.modality = modality
        self.labels = list(labels)
        weights = np.asarray(weights, dtype=np.float32)
        self.weights = unit_rows(weights) if head == "cosine" else weights
        expected = len(self.labels) if head == "cosine" else None
        if weights.ndim != 2 or (expected is not None and weights.shape[0] != expected) or \
                (head == "mapped" and weights.shape[1] != len(self.labels)):
            raise ValueError(f"weights of shape {weights.shape} do not fit {len(self.labels)} labels ({head} head)")
        self.reference = dict(reference)
        self.head = head
        self.scale = float(scale)
        self.meta = dict(meta or {})
        self.meta.setdefault("temperature", 1.0)
        self.meta.update(plugin=self.reference.get("name"), plugin_package=self.reference.get("package"),
                         plugin_package_version=self.reference.get("version"), frozen=True,
                         encoder_identity=self.reference.get("identity"), head=head, scale=self.scale)
        self.taxonomy_yaml = taxonomy_yaml
        self._encoder, self._encoder_model = encoder, encoder_model
        #: the export's encoder, when scoring through it: ``runtime.text_encoder.TextEncoder`` for
        #: captions, ``runtime.graph.Graph`` (pixels to features) for photos
        self.text_encoder = None
        self.image_encoder = None
        self._export = None  # (folder, manifest) of the export it scores through
        self._classifier = None
        if encoder is not None and modality == "image":
            self.meta["image_size"] = int(encoder.image_size())

    @property
    def frozen(self) -> bool:
        return True

    @property
    def encoder_model(self):
        if self._encoder_model is None:
            self._encoder, self._encoder_model = build_encoder(self.reference, self.modality)
            if self.modality == "image":
                self.meta["image_size"] = int(self._encoder.image_size())
        return self._encoder_model

    def imagenet_classifier(self):
        """``(kernel, bias)`` of the encoder's ImageNet classifier (``mapped`` heads)."""
        if self._classifier is None and self._export is not None:
            folder, manifest = self._export
            self._classifier = _read_classifier(export_dir(folder) / manifest.get("imagenet_classifier", CLASSIFIER_FILE))
        if self._classifier is None:
            self.encoder_model  # noqa: B018 -- builds the encoder
            get = getattr(self._encoder, "imagenet_classifier", None)
            if not callable(get):
                raise ModelError(f"encoder {self.reference.get('name')!r} has no ImageNet classifier, which a mapped "
                                 "head needs")
            kernel, bias = get()
            self._classifier = (np.asarray(kernel, np.float32), np.asarray(bias, np.float32))
        return self._classifier

    # --- prediction --------------------------------------------------------------

    def class_probabilities(self, features: np.ndarray) -> np.ndarray:
        """``mapped`` heads: the ImageNet classifier's probabilities of the encoder's features."""
        kernel, bias = self.imagenet_classifier()
        return softmax(np.asarray(features, np.float32) @ kernel + bias)

    def probabilities(self, features: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """The head: features ``(n, dim)`` to probabilities ``(n, labels)``."""
        features = np.asarray(features, dtype=np.float32)
        if not len(features):
            return np.zeros((0, len(self.labels)), np.float32)
        if self.head == "cosine":
            probs = softmax(unit_rows(features) @ self.weights.T / self.scale)
        else:
            mass = self.class_probabilities(features).astype(np.float64) @ self.weights + 1e-6
            probs = (mass / mass.sum(axis=1, keepdims=True)).astype(np.float32)
        return apply_temperature(probs, self.temperature) if calibrated else probs

    def predict_features(self, features, calibrated: bool = True) -> np.ndarray:
        return self.probabilities(features, calibrated)

    @property
    def runtime(self) -> str:
        return f"onnxruntime-{self._export[1]['precision']}" if self._export is not None else "tensorflow"

    def predict_sentences(self, sentences, calibrated: bool = True) -> np.ndarray:
        if self.text_encoder is not None:
            return self.probabilities(self.text_encoder.encode(list(sentences)), calibrated)
        return self.probabilities(embed_texts(self.encoder_model, list(sentences)), calibrated)

    def predict_texts(self, texts, calibrated: bool = True) -> np.ndarray:
        """Per-caption probabilities: sentences scored, then word-weighted mean (NaN for blank)."""
        sentences, owners, weights = text_utils.explode(texts)
        return text_utils.aggregate(self.predict_sentences(sentences, calibrated), owners, weights, len(texts))

    def image_features(self, sources, cache=None, on_error="skip", log=None):
        identity = self.reference.get("identity")
        if self.image_encoder is not None:  # the export's features are cached apart from Keras' (and int8's from float32's)
            graph = self.image_encoder
            return image_features(lambda pixels: graph(np.ascontiguousarray(pixels, np.float32), 64), sources,
                                  int(self.image_size), int(self._export[1]["feature_dim"]), cache,
                                  None if identity is None else {**identity, "runtime": self.runtime}, on_error, log)
        model = self.encoder_model
        return image_features(lambda pixels: np.asarray(model.predict(pixels, batch_size=64, verbose=0)),
                              sources, int(self.image_size), int(model.output_shape[-1]), cache, identity, on_error, log)

    def predict_images(self, sources, cache=None, on_error="skip", log=None, calibrated: bool = True):
        features, kept, failures = self.image_features(list(sources), cache, on_error, log)
        return self.probabilities(features, calibrated), kept, failures

    # --- persistence ------------------------------------------------------------

    def save(self, directory) -> Path:
        directory = Path(directory)
        with atomic_folder(directory) as staging:
            np.save(staging / "weights.npy", self.weights)
            meta = dict(self.meta, format=self.format, modality=self.modality, labels=self.labels,
                        encoder=self.reference)
            write_meta(staging, meta)
            if self.taxonomy_yaml:
                (staging / "taxonomy.yaml").write_text(self.taxonomy_yaml, encoding="utf-8")
            if self._export is not None:  # the export it was loaded from goes with it
                shutil.copytree(export_dir(self._export[0]), export_dir(staging))
        return directory

    @classmethod
    def load(cls, directory) -> "PrototypeModel":
        directory = Path(directory)
        meta = read_meta(directory)
        try:
            weights = np.load(directory / "weights.npy", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ModelError(f"{directory}: unreadable weights.npy ({error})") from None
        taxonomy = directory / "taxonomy.yaml"
        for key in ("format", "plugin", "plugin_package", "plugin_package_version", "frozen", "encoder_identity"):
            meta.pop(key, None)
        try:
            model = cls(meta.pop("modality"), meta.pop("labels"), weights, meta.pop("encoder"), meta.pop("head"),
                        meta.pop("scale", DEFAULT_SCALE), meta,
                        taxonomy_yaml=taxonomy.read_text(encoding="utf-8") if taxonomy.is_file() else None)
        except (KeyError, ValueError) as error:
            raise ModelError(f"{directory}: not a valid prototypes model ({error})") from None
        if use_export(directory):
            manifest = read_manifest(directory)
            expected = "token_ids" if model.modality == "text" else "pixels"
            if manifest.get("modality") != model.modality or manifest["input"] != expected:
                raise ModelError(f"{directory}: the export is not of a {'caption' if expected == 'token_ids' else 'photo'} "
                                 "encoder")
            model._export = (directory, manifest)
            if model.modality == "text":
                model.text_encoder = TextEncoder(directory, manifest)
            else:
                model.meta.setdefault("image_size", manifest.get("image_size"))
                model.image_encoder = Graph(export_dir(directory) / manifest["encoder"])
                if model.head == "mapped":
                    model.imagenet_classifier()  # read now: a missing file fails at load
            return model
        model.encoder_model  # build now: a missing plugin fails at load, not at the first request
        return model


def _read_classifier(path) -> tuple[np.ndarray, np.ndarray]:
    """``(kernel, bias)`` from an export's ``imagenet_classifier.npz``; ModelError naming the file otherwise."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            kernel, bias = np.asarray(arrays["kernel"], np.float32), np.asarray(arrays["bias"], np.float32)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"{path}: unreadable ImageNet classifier (expected arrays 'kernel' and 'bias'; {error})") from None
    if kernel.ndim != 2 or bias.shape != (kernel.shape[1],):
        raise ModelError(f"{path}: kernel {kernel.shape} and bias {bias.shape} do not fit (features, classes)")
    return kernel, bias
