"""interestkit: learn social-media users' interests from their posts' photos and captions.

Importing this package is cheap: TensorFlow and MLflow load only when a model is built,
trained or tracked.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow start-up chatter off
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

__version__ = "0.1.0"

from .errors import ConfigError, DataError, InterestkitError, ModelError, PluginError  # noqa: E402
from .hooks.specs import hookimpl  # noqa: E402
from .interfaces import Classifier, Encoder, Fusion  # noqa: E402
from .options import Option  # noqa: E402

__all__ = [
    "Classifier", "ConfigError", "DataError", "Encoder", "Fusion", "InterestkitError",
    "ModelError", "Option", "PluginError", "hookimpl", "__version__",
]
