"""``HashingTextEncoder``: a frozen, TensorFlow-free text encoder for fast tests of zero-shot models.

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
