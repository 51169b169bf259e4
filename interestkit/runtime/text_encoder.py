"""A caption encoder's export on ONNX Runtime: its tokeniser (outside the graph) and its graph.

``TextEncoder(folder, manifest)`` turns sentences into features without TensorFlow: the
tokeniser the manifest names (``runtime.tokenizer`` for Keras' ``TextVectorization``,
``runtime.wordpiece`` for BERT's WordPiece) makes the ids, the encoder graph the features.
``ExportedModel`` scores captions with it; zero-shot models and embedders that use a
transformer encoder embed with it too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from .graph import BATCH, Graph
from .manifest import export_dir, read_vocabulary
from .tokenizer import Tokenizer
from .wordpiece import WordPiece


def read_tokenizer(folder, manifest: dict):
    """The tokeniser of ``folder``'s export (``manifest["tokenizer"]``)."""
    spec = manifest["tokenizer"]
    vocabulary = read_vocabulary(folder, manifest)
    try:
        if spec.get("kind", "text_vectorization") == "wordpiece":
            return WordPiece(vocabulary, spec["max_length"], bool(spec.get("lowercase", True)),
                             spec.get("strip_accents"))
        return Tokenizer(vocabulary, spec["sequence_length"])
    except ValueError as error:
        raise ModelError(f"{export_dir(folder) / spec['vocabulary']}: {error}") from None


class TextEncoder:
    """``encode(sentences) -> (n, feature_dim)`` through an export's tokeniser and encoder graph."""

    def __init__(self, folder, manifest: dict, encoder_file: str | None = None):
        self.folder = Path(folder)
        self.tokenizer = read_tokenizer(folder, manifest)
        self.graph = Graph(export_dir(folder) / (encoder_file or manifest["encoder"]))
        self.feature_dim = int(manifest["feature_dim"])
        self.pad_id = getattr(self.tokenizer, "pad_id", 0)

    def __call__(self, sentences) -> np.ndarray:
        return self.encode(list(sentences))

    def encode(self, sentences: list[str]) -> np.ndarray:
        """Features of sentences. With a graph that takes ids of any length, sentences go shortest
        first and each batch is cut to its longest one: the padding that masked layers would
        step over (without effect) is not computed at all."""
        if not sentences:
            return np.zeros((0, self.feature_dim), np.float32)
        ids = self.tokenizer.ids(sentences)
        if not self.graph.any_length:
            return self.graph(ids)
        lengths = (ids != self.pad_id).sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(ids), self.feature_dim), np.float32)
        for start in range(0, len(order), BATCH):
            rows = order[start:start + BATCH]
            out[rows] = self.graph(ids[rows, :max(1, int(lengths[rows].max()))])
        return out
