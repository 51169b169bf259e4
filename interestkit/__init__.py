"""interestkit: learn social-media users' interests from their posts' photos and captions.

Importing this package is cheap and changes nothing outside it (no environment variables):
TensorFlow and MLflow load only when a model is built, trained or tracked, quietly
(``interestkit.quiet``).
"""

__version__ = "0.1.0"

from .errors import ConfigError, DataError, InterestkitError, ModelError, PluginError
from .hooks.specs import hookimpl
from .interfaces import Classifier, Encoder, Fusion
from .options import Option

__all__ = [
    "Classifier", "ConfigError", "DataError", "Encoder", "Fusion", "InterestkitError",
    "ModelError", "Option", "PluginError", "hookimpl", "__version__",
]
