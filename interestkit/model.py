"""InterestModel: a trained encoder + head + labels, with its preprocessing, saved as a folder.

The folder holds ``encoder.keras`` (raw input -> features), ``head.keras`` (features ->
probabilities) and ``meta.json`` (modality, labels, plugin, image size, temperature,
encoder identity). It takes raw inputs: captions as strings, photos as paths or bytes.
Loading needs interestkit and Keras; a model with a plugin's custom layers also needs that
plugin installed (its ``interestkit.keras_objects`` entry point is imported first).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import ModelError
from . import text as text_utils

BATCH = 256


def _keras():
    import keras

    return keras


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of log(p) / T: T > 1 softens over-confident probabilities, T = 1 is identity."""
    if not temperature or abs(temperature - 1.0) < 1e-6:
        return probs
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


class InterestModel:
    """A trained interest classifier for one modality."""

    def __init__(self, modality, labels, encoder_model, head_model, meta=None):
        self.modality = modality
        self.labels = list(labels)
        self.encoder_model = encoder_model
        self.head_model = head_model
        self.meta = dict(meta or {})
        self._full = None

    # --- properties -------------------------------------------------------------

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature", 1.0))

    @property
    def image_size(self):
        return self.meta.get("image_size")

    @property
    def frozen(self) -> bool:
        return bool(self.meta.get("frozen", False))

    def full_model(self):
        """One Keras model from raw input to probabilities."""
        if self._full is None:
            keras = _keras()
            inputs = keras.Input(shape=self.encoder_model.input_shape[1:], dtype=self.encoder_model.inputs[0].dtype)
            self._full = keras.Model(inputs, self.head_model(self.encoder_model(inputs)))
        return self._full

    # --- prediction --------------------------------------------------------------

    def _predict(self, model, inputs):
        if len(inputs) == 0:
            return np.zeros((0, model.output_shape[-1]), dtype=np.float32)
        return np.asarray(model.predict(inputs, batch_size=BATCH, verbose=0), dtype=np.float32)

    def predict_sentences(self, sentences: list[str]) -> np.ndarray:
        """Probabilities for each sentence as written (no splitting)."""
        import tensorflow as tf

        if not sentences:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        # shortest first: models that pad a batch to its longest sentence do far less work
        order = np.argsort([len(s) for s in sentences], kind="stable")
        probs = np.empty((len(sentences), len(self.labels)), dtype=np.float32)
        probs[order] = self._predict(self.full_model(), tf.constant([sentences[i] for i in order])[:, None])
        return apply_temperature(probs, self.temperature)

    def predict_texts(self, texts: list[str]) -> np.ndarray:
        """Per-caption probabilities: sentences classified, then word-weighted mean (NaN for blank)."""
        sentences, owners, weights = text_utils.explode(texts)
        return text_utils.aggregate(self.predict_sentences(sentences), owners, weights, len(texts))

    def image_features(self, pixels: np.ndarray) -> np.ndarray:
        return self._predict(self.encoder_model, pixels)

    def predict_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return apply_temperature(self._predict(self.full_model(), pixels), self.temperature)

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        return apply_temperature(self._predict(self.head_model, features), self.temperature)

    def predict_images(self, sources, cache=None, on_error="skip", log=None):
        """(probabilities, kept indices, failures) for photos given as paths or bytes.

        With a frozen encoder and a ``FeatureCache``, features of photos seen before are
        read from the cache instead of being recomputed.
        """
        from .images import load_images

        sources = list(sources)
        if self.frozen:
            features, kept, failures = self.features_for(sources, cache, on_error, log)
            probs = self.predict_features(features) if kept else np.zeros((0, len(self.labels)), np.float32)
            return probs, kept, failures
        pixels, kept, failures = load_images(sources, int(self.image_size), on_error=on_error)
        probs = self.predict_pixels(pixels) if len(kept) else np.zeros((0, len(self.labels)), np.float32)
        return probs, kept, failures

    def features_for(self, sources, cache=None, on_error="skip", log=None, batch=64):
        """Encoder features of every readable photo, through the cache when one is enabled.

        Returns ``(features, kept, failures)``: ``kept`` are the indices of ``sources``
        whose features are in ``features`` (in order), ``failures`` ``(source, message)``.
        """
        from .images import file_sha256, load_images

        size = int(self.image_size)
        use_cache = cache is not None and cache.enabled and self.frozen
        key = cache.register(self.meta["encoder_identity"]) if use_cache else None
        started = time.perf_counter()
        kept, failures, rows = [], [], []
        for start in range(0, len(sources), batch):
            part = list(range(start, min(start + batch, len(sources))))
            found = {}
            hashes = {}
            if use_cache:
                for i in part:
                    try:
                        hashes[i] = file_sha256(sources[i])
                    except Exception as error:  # unreadable: reported like a decode failure
                        if on_error == "raise":
                            raise
                        failures.append((sources[i], str(error)))
                        continue
                    hit = cache.get(key, hashes[i])
                    if hit is not None:
                        found[i] = hit
            missing = [i for i in part if i not in found and (not use_cache or i in hashes)]
            if missing:
                pixels, ok, bad = load_images([sources[i] for i in missing], size, on_error=on_error)
                failures.extend(bad)
                if ok:
                    feats = self.image_features(pixels)
                    for row, j in enumerate(ok):
                        found[missing[j]] = feats[row]
                        if use_cache:
                            cache.put(key, hashes[missing[j]], feats[row])
            for i in part:
                if i in found:
                    kept.append(i)
                    rows.append(found[i])
            done = part[-1] + 1
            if log and (done == len(sources) or (start // batch) % 5 == 4):
                log(f"features: {done}/{len(sources)} images ({time.perf_counter() - started:.1f}s)")
        dim = int(self.encoder_model.output_shape[-1])
        features = np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)
        return features, kept, failures

    # --- persistence ------------------------------------------------------------

    def save(self, directory) -> Path:
        """Write the model folder atomically (a temporary folder renamed into place)."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=directory.parent))
        try:
            self.encoder_model.save(staging / "encoder.keras")
            self.head_model.save(staging / "head.keras")
            meta = dict(self.meta, modality=self.modality, labels=self.labels)
            (staging / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
            if directory.exists():
                shutil.rmtree(directory)
            os.replace(staging, directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return directory

    @classmethod
    def load(cls, directory) -> "InterestModel":
        directory = Path(directory)
        meta_file = directory / "meta.json"
        if not meta_file.is_file():
            raise ModelError(f"{directory}: not an interestkit model folder (no meta.json)")
        meta = json.loads(meta_file.read_text())
        keras = _keras()
        from .plugins import import_keras_objects

        import_keras_objects()  # installed plugins' custom layers (e.g. the minilm tokeniser)
        encoder = keras.models.load_model(directory / "encoder.keras", compile=False, safe_mode=True)
        head = keras.models.load_model(directory / "head.keras", compile=False, safe_mode=True)
        return cls(meta.pop("modality"), meta.pop("labels"), encoder, head, meta)
