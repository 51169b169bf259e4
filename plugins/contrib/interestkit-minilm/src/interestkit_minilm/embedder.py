"""The ``minilm`` text embedder: all-MiniLM-L6-v2 sentence embeddings for comparing names.

Registered through interestkit's ``register_embedders`` hook with a priority above the
built-in GloVe embedder, so zero-shot models and the ImageNet-name mapping use it when it
is installed. It embeds as the ``minilm`` encoder does (its ``encoder``), built once per
process (a 6-layer transformer).
"""

from __future__ import annotations

import functools

import numpy as np

from interestkit.interfaces import TextEmbedder

from .encoder import MiniLMEncoder


class MiniLMEmbedder(TextEmbedder):
    """all-MiniLM-L6-v2 sentence embeddings (384-d)"""

    description = "all-MiniLM-L6-v2 sentence embeddings (384-d), as the minilm encoder gives them"
    priority = 10
    encoder = "minilm"

    def embed(self, texts):
        import tensorflow as tf

        return np.asarray(_model().predict(tf.constant(list(texts))[:, None], batch_size=256, verbose=0))


@functools.lru_cache(maxsize=1)
def _model():
    return MiniLMEncoder().build()
