"""interestkit-minilm: the ``minilm`` text encoder (all-MiniLM-L6-v2) for interestkit.

This module is the plugin's entry point: it registers the encoder class and imports
nothing heavy. The custom Keras layers live in ``interestkit_minilm.layers``.
"""

from interestkit import hookimpl

from .encoder import MiniLMEncoder

__version__ = "0.1.0"
__all__ = ["MiniLMEncoder", "register_encoders"]


@hookimpl
def register_encoders(register):
    register("minilm", MiniLMEncoder)
