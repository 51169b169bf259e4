"""Named random streams: the same seed and keys give the same numbers on every machine."""

from __future__ import annotations

import zlib

import numpy as np


def crc(text: str) -> int:
    """A stable (unsalted) 32-bit key for a string."""
    return zlib.crc32(text.encode("utf-8"))


def rng_for(seed: int, *keys: str) -> np.random.Generator:
    """A generator for one named stream: same seed and keys, same numbers."""
    return np.random.default_rng([int(seed), *(crc(k) for k in keys)])


def pick(rng: np.random.Generator, items):
    """One element of ``items``."""
    return items[int(rng.integers(len(items)))]


def one_line(text: str) -> str:
    """One line, no tabs, single spaces."""
    return " ".join(text.replace("\t", " ").replace("\r", " ").replace("\n", " ").split())
