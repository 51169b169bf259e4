"""``HashingTextEncoder`` and ``ColourImageEncoder``: frozen, TensorFlow-free encoders for fast tests of zero-shot models.

A sentence's features are the sum of one fixed random vector per lowercased word
(seeded by the word's CRC-32), so texts that share words are similar. ``build`` returns
an object with what the zero-shot code uses of a Keras model: ``predict`` and
``output_shape``. Register it from a test plugin to run ``interestkit zero-shot`` and
rank with the result in milliseconds.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

from ..interfaces import Encoder
from ..options import Option

_WORD = re.compile(r"\w+", re.UNICODE)


class _HashingModel:
    def __init__(self, dim: int):
        self.dim = dim
        self.output_shape = (None, dim)
        self.calls: list[int] = []

    def _word(self, word: str) -> np.ndarray:
        return np.random.default_rng(zlib.crc32(word.encode("utf-8"))).normal(size=self.dim)

    def predict(self, texts, batch_size=None, verbose=0) -> np.ndarray:
        texts = [str(t) for t in texts]
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[i] += self._word(word)
        return out


class HashingTextEncoder(Encoder):
    """Words hashed to fixed random vectors, summed (frozen; no TensorFlow)."""

    modality = "text"
    description = "hashed bag of words (tests only)"
    defaults = {"dim": Option(64, min=2)}

    def frozen(self) -> bool:
        return True

    def build(self, train_inputs=None):
        return _HashingModel(self.options["dim"])


class _ColourModel:
    """Pixels ``(n, size, size, 3)`` to the mean and spread of each colour channel, scaled to [0, 1]."""

    output_shape = (None, 6)

    def predict(self, pixels, batch_size=None, verbose=0) -> np.ndarray:
        flat = np.asarray(pixels, np.float32).reshape(len(pixels), -1, 3) / 255.0
        return np.concatenate([flat.mean(axis=1), flat.std(axis=1)], axis=1).astype(np.float32)


class ColourImageEncoder(Encoder):
    """Colour statistics of a photo, with a fixed random 'ImageNet classifier' over them (frozen; no TensorFlow)."""

    modality = "image"
    description = "colour statistics with a fixed random ImageNet classifier (tests only)"
    defaults = {"image_size": Option(16, min=4)}

    def frozen(self) -> bool:
        return True

    def image_size(self) -> int:
        return self.options["image_size"]

    def build(self, train_inputs=None):
        return _ColourModel()

    def imagenet_classifier(self):
        """``(kernel (6, 1000), bias (1000,))``, fixed by a seed."""
        rng = np.random.default_rng(0)
        return rng.normal(size=(6, 1000)).astype(np.float32) * 4.0, np.zeros(1000, np.float32)
