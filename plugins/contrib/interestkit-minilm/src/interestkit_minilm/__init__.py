"""interestkit-minilm: the ``minilm`` text encoder and embedder (all-MiniLM-L6-v2) for interestkit.

This module is the plugin's entry point: it registers the encoder and the embedder
classes and imports nothing heavy. The custom Keras layers live in
``interestkit_minilm.layers``.
"""

from interestkit import hookimpl

from .embedder import MiniLMEmbedder
from .encoder import MiniLMEncoder

__version__ = "0.1.0"
__all__ = ["MiniLMEmbedder", "MiniLMEncoder", "register_embedders", "register_encoders"]


@hookimpl
def register_encoders(register):
    register("minilm", MiniLMEncoder)


@hookimpl
def register_embedders(register):
    register("minilm", MiniLMEmbedder)
