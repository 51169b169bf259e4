"""Synthetic photos: per-interest background hue, motif colour and shape type, drawn at random."""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image, ImageDraw

from ...taxonomy import INTERESTS
from .streams import crc

# --------------------------------------------------------------------------- styles

#: shape types the photos draw (see ``_SHAPE_DRAWERS``)
SHAPES = ("circles", "stripes", "squares", "triangles", "rings", "checker",
          "crosses", "stars", "zigzag", "dots", "bars", "diagonals")

#: hand-picked looks for the default interests: (background hue, motif hue, shape)
STYLES = {
    "Golf": (125, 60, "circles"),       # green lawn, pale yellow balls
    "Cooking": (25, 50, "rings"),       # orange, golden rings
    "Pets": (55, 10, "triangles"),      # olive, brick-red ears
    "Travel": (205, 180, "stripes"),    # sky blue, cyan horizon lines
    "Music": (275, 310, "bars"),        # purple, pink equaliser bars
    "Fitness": (0, 30, "squares"),      # red, orange plates
    "Art": (320, 55, "stars"),          # magenta, yellow stars
    "Vehicle": (235, 50, "checker"),    # indigo, amber chequer flag
}


def style_of(interest: str) -> tuple[float, float, str]:
    """Return ``(background hue, motif hue, shape)`` for an interest (degrees)."""
    if interest in STYLES:
        return STYLES[interest]
    if interest in INTERESTS:  # spread the taxonomy: golden-angle hues, shapes in turn
        i = INTERESTS.index(interest)
        hue = (i * 137.508) % 360
        return hue, (hue + 150) % 360, SHAPES[i % len(SHAPES)]
    key = crc(interest)
    hue = key % 360
    return hue, (hue + 150) % 360, SHAPES[(key // 360) % len(SHAPES)]


# --------------------------------------------------------------------------- images


def _rgb(hue: float, sat: float, val: float) -> tuple[int, int, int]:
    """HSV (hue in degrees, sat/val in 0..1) to an 8-bit RGB tuple."""
    r, g, b = colorsys.hsv_to_rgb((hue % 360) / 360.0, min(max(sat, 0), 1), min(max(val, 0), 1))
    return int(r * 255), int(g * 255), int(b * 255)


def _background(hue: float, rng: np.random.Generator, size: int) -> Image.Image:
    """A vertical gradient around the interest's background hue."""
    h = hue + rng.uniform(-10, 10)
    top = np.array(_rgb(h, rng.uniform(0.45, 0.75), rng.uniform(0.55, 0.8)), dtype=np.float32)
    bottom = np.array(_rgb(h + rng.uniform(-15, 15), rng.uniform(0.45, 0.8), rng.uniform(0.3, 0.55)),
                      dtype=np.float32)
    if rng.random() < 0.5:
        top, bottom = bottom, top
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    pixels = top * (1 - ramp) + bottom * ramp
    pixels = np.broadcast_to(pixels, (size, size, 3))
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


class _Palette:
    """Colours for the motif: mostly the interest's motif hue, sometimes a random one."""

    def __init__(self, hue: float, rng: np.random.Generator, secondary: float = 0.25):
        self.hue, self.rng, self.secondary = hue, rng, secondary

    def __call__(self) -> tuple[int, int, int]:
        rng = self.rng
        if rng.random() < self.secondary:
            return _rgb(rng.uniform(0, 360), rng.uniform(0.2, 0.9), rng.uniform(0.3, 1.0))
        return _rgb(self.hue + rng.uniform(-12, 12), rng.uniform(0.55, 0.95), rng.uniform(0.8, 1.0))


def _rotated(cx, cy, radius, sides, angle, star=False):
    """Vertices of a regular polygon (or a star) around ``(cx, cy)``."""
    points = []
    count = sides * 2 if star else sides
    for k in range(count):
        r = radius * (0.45 if star and k % 2 else 1.0)
        a = angle + 2 * math.pi * k / count
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


def _draw_circles(d, rng, s, colour):
    for _ in range(int(rng.integers(3, 8))):
        r = rng.uniform(0.06, 0.16) * s
        x, y = rng.uniform(0, s, 2)
        d.ellipse([x - r, y - r, x + r, y + r], fill=colour())


def _draw_rings(d, rng, s, colour):
    for _ in range(int(rng.integers(2, 6))):
        r = rng.uniform(0.1, 0.25) * s
        x, y = rng.uniform(0.1 * s, 0.9 * s, 2)
        d.ellipse([x - r, y - r, x + r, y + r], outline=colour(), width=max(2, int(r * 0.3)))


def _draw_squares(d, rng, s, colour):
    for _ in range(int(rng.integers(3, 7))):
        r = rng.uniform(0.08, 0.18) * s
        x, y = rng.uniform(0, s, 2)
        d.polygon(_rotated(x, y, r, 4, rng.uniform(0, 0.3) + math.pi / 4), fill=colour())


def _draw_triangles(d, rng, s, colour):
    for _ in range(int(rng.integers(3, 7))):
        r = rng.uniform(0.1, 0.2) * s
        x, y = rng.uniform(0, s, 2)
        d.polygon(_rotated(x, y, r, 3, -math.pi / 2 + rng.uniform(-0.4, 0.4)), fill=colour())


def _draw_stars(d, rng, s, colour):
    for _ in range(int(rng.integers(2, 6))):
        r = rng.uniform(0.1, 0.22) * s
        x, y = rng.uniform(0, s, 2)
        d.polygon(_rotated(x, y, r, 5, rng.uniform(0, 2 * math.pi), star=True), fill=colour())


def _draw_stripes(d, rng, s, colour):
    """Horizontal bands across the whole picture."""
    y = rng.uniform(0, 0.15) * s
    while y < s:
        w = rng.uniform(0.04, 0.09) * s
        tilt = rng.uniform(-0.06, 0.06) * s
        d.polygon([(0, y), (s, y + tilt), (s, y + tilt + w), (0, y + w)], fill=colour())
        y += w + rng.uniform(0.07, 0.16) * s


def _draw_diagonals(d, rng, s, colour):
    """Parallel bands at about 45 degrees."""
    step = rng.uniform(0.14, 0.24) * s
    w = step * rng.uniform(0.3, 0.5)
    off = rng.uniform(0, step)
    for k in range(-12, 12):
        x = off + k * step
        d.polygon([(x, 0), (x + w, 0), (x + w + s, s), (x + s, s)], fill=colour())


def _draw_checker(d, rng, s, colour):
    """A chequered patch covering part of the picture."""
    cell = rng.uniform(0.08, 0.14) * s
    x0, y0 = rng.uniform(0, 0.3 * s, 2)
    x1, y1 = x0 + rng.uniform(0.55, 0.9) * s, y0 + rng.uniform(0.55, 0.9) * s
    fill, other = colour(), _rgb(0, 0, rng.uniform(0.0, 0.15))
    i = 0
    y = y0
    while y < y1:
        x, j = x0, 0
        while x < x1:
            d.rectangle([x, y, x + cell, y + cell], fill=fill if (i + j) % 2 == 0 else other)
            x += cell
            j += 1
        y += cell
        i += 1


def _draw_crosses(d, rng, s, colour):
    for _ in range(int(rng.integers(3, 7))):
        r = rng.uniform(0.08, 0.17) * s
        w = r * 0.35
        x, y = rng.uniform(0, s, 2)
        c = colour()
        d.rectangle([x - r, y - w, x + r, y + w], fill=c)
        d.rectangle([x - w, y - r, x + w, y + r], fill=c)


def _draw_zigzag(d, rng, s, colour):
    for _ in range(int(rng.integers(2, 4))):
        y = rng.uniform(0.1, 0.9) * s
        amp = rng.uniform(0.05, 0.1) * s
        step = rng.uniform(0.08, 0.14) * s
        points = [(x, y + (amp if k % 2 else -amp)) for k, x in enumerate(np.arange(-step, s + step, step))]
        d.line(points, fill=colour(), width=max(2, int(0.05 * s)))


def _draw_dots(d, rng, s, colour):
    """A regular grid of small dots."""
    step = rng.uniform(0.12, 0.18) * s
    r = step * rng.uniform(0.18, 0.3)
    off = rng.uniform(0, step, 2)
    c = colour()
    for y in np.arange(off[1], s, step):
        for x in np.arange(off[0], s, step):
            d.ellipse([x - r, y - r, x + r, y + r], fill=c if rng.random() > 0.1 else colour())


def _draw_bars(d, rng, s, colour):
    """Vertical bars rising from the bottom, like an equaliser."""
    n = int(rng.integers(5, 9))
    w = s / n
    for k in range(n):
        h = rng.uniform(0.2, 0.85) * s
        d.rectangle([k * w + 0.15 * w, s - h, (k + 1) * w - 0.15 * w, s], fill=colour())


_SHAPE_DRAWERS = {
    "circles": _draw_circles, "stripes": _draw_stripes, "squares": _draw_squares,
    "triangles": _draw_triangles, "rings": _draw_rings, "checker": _draw_checker,
    "crosses": _draw_crosses, "stars": _draw_stars, "zigzag": _draw_zigzag,
    "dots": _draw_dots, "bars": _draw_bars, "diagonals": _draw_diagonals,
}
assert set(_SHAPE_DRAWERS) == set(SHAPES)


def _distractor(d, rng, s):
    """A small shape of a random type and colour: visual noise shared by all classes."""
    r = rng.uniform(0.05, 0.1) * s
    x, y = rng.uniform(0, s, 2)
    c = _rgb(rng.uniform(0, 360), rng.uniform(0, 0.8), rng.uniform(0.2, 1.0))
    if rng.random() < 0.5:
        d.ellipse([x - r, y - r, x + r, y + r], fill=c)
    else:
        d.polygon(_rotated(x, y, r, int(rng.integers(3, 7)), rng.uniform(0, 6.3)), fill=c)


def make_image(interest: str, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """Return one synthetic RGB photo of ``interest``, ``size`` x ``size`` pixels.

    The interest sets the background hue, the motif hue and the shape type; positions,
    sizes, secondary colours, distractors, brightness and noise are random.
    """
    bg_hue, motif_hue, shape = style_of(interest)
    scale = 2  # draw large, then downsample: smooth edges
    big = size * scale
    img = _background(bg_hue, rng, big)
    draw = ImageDraw.Draw(img)
    _SHAPE_DRAWERS[shape](draw, rng, big, _Palette(motif_hue, rng))
    for _ in range(int(rng.integers(0, 3))):
        _distractor(draw, rng, big)
    img = img.resize((size, size), Image.Resampling.BOX)
    pixels = np.asarray(img, dtype=np.float32) * rng.uniform(0.8, 1.2)
    pixels += rng.normal(0.0, rng.uniform(4, 12), size=pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8), "RGB")
