"""Augmented views of decoded photos, reproducible per photo, so their features can be cached.

A frozen encoder's features are computed once per photo and cached; to train a head on
augmented photos, each training photo gets ``augment_views`` extra *views*: view ``v``
of a photo is always the same image (its random draws are seeded by the photo's content
hash, the view's index and the recipe's seed), so its features are cached like the
original's, under the encoder's identity plus ``View.key()``.

A view is, in order: a random resized crop (a square covering ``crop`` to 1 of the
area, anywhere in the photo, resized back), a horizontal flip (half the time), and
colour jitter (brightness, contrast and saturation each scaled by a factor drawn from
``[1 - jitter, 1 + jitter]``). ``View.mirror()`` is the deterministic flip used for
test-time augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

_GREY = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma weights


@dataclass(frozen=True)
class View:
    """One augmented view of every photo: the recipe and the view's index."""

    index: int = 0
    crop: float = 0.5  # smallest fraction of the area a crop keeps (1: no crop)
    flip: bool = True
    jitter: float = 0.2
    seed: int = 0
    mirror_only: bool = False

    @classmethod
    def mirror(cls) -> "View":
        """The photo flipped left to right, nothing else (test-time augmentation)."""
        return cls(crop=1.0, flip=True, jitter=0.0, mirror_only=True)

    def key(self) -> dict:
        """What makes the view's pixels: part of the feature-cache key."""
        if self.mirror_only:
            return {"view": "mirror"}
        return {"view": self.index, "crop": self.crop, "flip": self.flip, "jitter": self.jitter, "seed": self.seed}

    def apply(self, pixels: np.ndarray, content_hashes) -> np.ndarray:
        """The view of each photo of ``pixels`` ``(n, size, size, 3)``, float32 in [0, 255]."""
        out = np.empty_like(pixels, dtype=np.float32)
        for row, (image, digest) in enumerate(zip(pixels, content_hashes)):
            if self.mirror_only:
                out[row] = image[:, ::-1]
                continue
            rng = np.random.default_rng([int(str(digest)[:16], 16), self.index, self.seed])
            out[row] = self._one(np.asarray(image, dtype=np.float32), rng)
        return out

    def _one(self, image: np.ndarray, rng) -> np.ndarray:
        size = image.shape[0]
        if self.crop < 1.0:
            side = max(1, int(round(size * np.sqrt(rng.uniform(self.crop, 1.0)))))
            top, left = rng.integers(0, size - side + 1, size=2)
            crop = np.clip(image[top: top + side, left: left + side], 0, 255).astype(np.uint8)
            image = np.asarray(Image.fromarray(crop).resize((size, size), Image.BILINEAR), dtype=np.float32)
        if self.flip and rng.random() < 0.5:
            image = image[:, ::-1]
        if self.jitter > 0:
            brightness, contrast, saturation = rng.uniform(1 - self.jitter, 1 + self.jitter, size=3)
            image = image * brightness
            image = (image - image.mean()) * contrast + image.mean()
            grey = (image @ _GREY)[..., None]
            image = (image - grey) * saturation + grey
        return np.clip(image, 0, 255).astype(np.float32)
