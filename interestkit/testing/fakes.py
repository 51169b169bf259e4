"""A TensorFlow-free InterestModel for fast tests: deterministic probabilities, saved like any model.

``FakeInterestModel`` offers everything ranking needs (``modality``, ``labels``,
``temperature``, ``predict_texts``, ``predict_images``, ``save``) and is loaded by
``interestkit.modeling.model.load_model`` from its folder (``meta.json`` with format
``fake``), so the pipeline, the hybrid MLflow model, ``serve`` and the CLI run on it in
milliseconds.

Captions: split into sentences like the real models; a sentence's score for a label
grows with the label's keywords in it (the label's name, lowercased, and any given
``keywords``). Photos: decoded and checked like the real models (unreadable ones are
reported), then scored from their mean and spread of colour through a fixed linear map,
through the feature cache like a frozen encoder. Every call's batch size is recorded in
``calls``.
"""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_folder
from ..data import text as text_utils
from ..modeling.calibration import apply_temperature
from ..modeling.features import image_features
from ..modeling.model import read_meta

_WORD = re.compile(r"\w+", re.UNICODE)
FEATURES = 6  # mean and standard deviation of R, G, B


class FakeInterestModel:
    """A deterministic stand-in for a trained text or image model."""

    format = "fake"

    def __init__(self, modality: str, labels, keywords: dict | None = None, temperature: float = 1.0,
                 image_size: int = 16, meta: dict | None = None):
        if modality not in ("text", "image"):
            raise ValueError(f"modality must be 'text' or 'image', got {modality!r}")
        self.modality = modality
        self.labels = list(labels)
        self.keywords = {label: sorted({label.lower(), *[k.lower() for k in (keywords or {}).get(label, [])]})
                         for label in self.labels}
        self.meta = dict(meta or {})
        self.meta.update(temperature=float(temperature), image_size=int(image_size), frozen=True,
                         plugin=self.meta.get("plugin", f"fake-{modality}"),
                         encoder_identity={"encoder": "fake", "labels": self.labels, "size": int(image_size)})
        self.calls: list[int] = []
        rows = [np.random.default_rng(zlib.crc32(label.encode())).normal(size=FEATURES) for label in self.labels]
        self._weights = np.array(rows, dtype=np.float64).reshape(len(self.labels), FEATURES)

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature", 1.0))

    @property
    def image_size(self) -> int:
        return int(self.meta["image_size"])

    @property
    def frozen(self) -> bool:
        return True

    # --- text --------------------------------------------------------------------------

    def predict_sentences(self, sentences, calibrated: bool = True) -> np.ndarray:
        self.calls.append(len(sentences))
        probs = np.array([self._sentence(s) for s in sentences], dtype=np.float32).reshape(len(sentences),
                                                                                          len(self.labels))
        return apply_temperature(probs, self.temperature) if calibrated else probs

    def _sentence(self, sentence: str) -> list[float]:
        words = [w.lower() for w in _WORD.findall(sentence)]
        scores = []
        for label in self.labels:
            hits = sum(words.count(k) for k in self.keywords[label])
            jitter = (zlib.crc32(f"{sentence}\t{label}".encode()) % 1000) / 10_000
            scores.append(1.0 + 4.0 * hits + jitter)
        total = sum(scores)
        return [s / total for s in scores]

    def predict_texts(self, texts, calibrated: bool = True) -> np.ndarray:
        sentences, owners, weights = text_utils.explode(texts)
        return text_utils.aggregate(self.predict_sentences(sentences, calibrated), owners, weights, len(texts))

    # --- photos ------------------------------------------------------------------------

    def _encode(self, pixels: np.ndarray) -> np.ndarray:
        flat = pixels.reshape(len(pixels), -1, 3) / 255.0
        return np.concatenate([flat.mean(axis=1), flat.std(axis=1)], axis=1).astype(np.float32)

    def predict_images(self, sources, cache=None, on_error="skip", log=None, calibrated: bool = True):
        sources = list(sources)
        self.calls.append(len(sources))
        features, kept, failures = image_features(self._encode, sources, self.image_size, FEATURES, cache,
                                                  self.meta["encoder_identity"], on_error, log)
        logits = 4.0 * features.astype(np.float64) @ self._weights.T
        logits -= logits.max(axis=1, keepdims=True) if len(logits) else 0.0
        probs = np.exp(logits)
        probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32) if len(probs) else probs
        probs = probs.reshape(len(kept), len(self.labels)).astype(np.float32)
        return (apply_temperature(probs, self.temperature) if calibrated else probs), kept, failures

    # --- persistence -------------------------------------------------------------------

    def save(self, directory) -> Path:
        directory = Path(directory)
        meta = dict(self.meta, format=self.format, modality=self.modality, labels=self.labels,
                    keywords=self.keywords)
        with atomic_folder(directory) as staging:
            (staging / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        return directory

    @classmethod
    def load(cls, directory) -> "FakeInterestModel":
        meta = read_meta(directory)
        keywords = meta.pop("keywords", None)
        return cls(meta.pop("modality"), meta.pop("labels"), keywords, meta.pop("temperature", 1.0),
                   meta.pop("image_size", 16), meta)
