"""The ``minilm`` text embedder: all-MiniLM-L6-v2 sentence embeddings for comparing names.

Registered through interestkit's ``register_embedders`` hook with a priority above the
built-in GloVe embedder, so zero-shot models and the ImageNet-name mapping use it when it
is installed. It embeds as the ``minilm`` encoder does (its ``encoder``): on ONNX Runtime
through the encoder's export, made once per machine (``interestkit.runtime.encoder_cache``,
with TensorFlow the first time), so later processes embed without TensorFlow or Keras;
on TensorFlow with ``INTERESTKIT_RUNTIME=tf``, or where the export cannot be made.
"""

from __future__ import annotations

import functools

import numpy as np

from interestkit.interfaces import TextEmbedder
from interestkit.runtime.choice import requested

from .encoder import MiniLMEncoder


class MiniLMEmbedder(TextEmbedder):
    """all-MiniLM-L6-v2 sentence embeddings (384-d)"""

    description = "all-MiniLM-L6-v2 sentence embeddings (384-d), as the minilm encoder gives them"
    priority = 10
    encoder = "minilm"
    export_runtime = "onnxruntime"

    def embed(self, texts):
        exported = _exported(requested())
        if exported is not None:
            return exported(list(texts))
        import tensorflow as tf

        return np.asarray(_model().predict(tf.constant(list(texts))[:, None], batch_size=256, verbose=0))


def _encoder() -> MiniLMEncoder:
    encoder = MiniLMEncoder()
    encoder.name = "minilm"
    return encoder


@functools.lru_cache(maxsize=3)
def _exported(runtime: str):
    """The encoder's export on ONNX Runtime (None: embed on TensorFlow), once per process and runtime."""
    from interestkit.runtime.encoder_cache import text_encoder

    encoder = _encoder()
    return text_encoder(encoder.identity(), encoder.build)


@functools.lru_cache(maxsize=1)
def _model():
    return _encoder().build()
