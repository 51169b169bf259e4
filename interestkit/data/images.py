"""Load photos into square RGB pixel arrays with Pillow (no TensorFlow here).

``load_image`` returns float32 pixels in [0, 255], shape ``(size, size, 3)``: what the
image encoders take (normalisation lives inside their models). Every failure is an
``ImageError`` whose one-line message names the file (or ``<bytes>``).
"""

from __future__ import annotations

import hashlib
import io
import numbers
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import DataError
from .paths import broken_link

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")

#: Largest width * height accepted (Pillow's default limit). Checked from the header,
#: before any pixel is decoded. Pillow's own ``Image.MAX_IMAGE_PIXELS`` applies as well.
MAX_PIXELS = 89_478_485

_CHUNK = 1 << 20
_EXPECTED = "expected a JPEG, PNG, WebP, GIF or BMP image"
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
# Errors Pillow and its decoders raise on broken or unsupported files.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError,
                  KeyError, Image.DecompressionBombError)


class ImageError(DataError):
    """An image file is missing, unreadable, truncated, too large or not an image."""


@dataclass(frozen=True, eq=False)
class Decoded:
    """A photo decoded ahead of time (e.g. in a thread pool): its file's bytes and its pixels at ``size``.

    Accepted wherever a path or bytes are: ``load_image`` at the same size returns the
    pixels without decoding again, and ``file_sha256`` hashes the file's bytes, so cache
    keys do not change.
    """

    data: bytes
    pixels: np.ndarray
    size: int


@dataclass(frozen=True)
class Unreadable:
    """A photo refused ahead of time: using it raises its ``ImageError`` again (reported like any other)."""

    message: str


def decode_ahead(source, size: int, *, max_pixels: int | None = None):
    """``Decoded`` for a readable photo (under ``max_pixels``), ``Unreadable`` with the reason otherwise."""
    try:
        with _open_stream(source) as stream:
            data = stream.read()
        return Decoded(data, load_image(data, size, max_pixels=max_pixels), int(size))
    except ImageError as error:
        return Unreadable(str(error).replace("<bytes>: ", "", 1))
    except OSError as error:
        return Unreadable(f"cannot read file: {error.strerror or error}")


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _name(source) -> str:
    return "<bytes>" if isinstance(source, (bytes, bytearray, memoryview, Decoded, Unreadable)) else str(source)


def _fail(source, what: str) -> ImageError:
    return ImageError(_one_line(f"{_name(source)}: {what}"))


def _open_stream(source):
    """Return a binary file object for a path or bytes; raise ImageError if there is none."""
    if isinstance(source, Decoded):
        return io.BytesIO(source.data)
    if isinstance(source, Unreadable):
        raise _fail(source, source.message)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            raise _fail(source, f"empty data ({_EXPECTED})")
        return io.BytesIO(source)
    path = Path(source)
    if broken_link(path):
        raise _fail(source, broken_link(path))
    if not path.exists():
        raise _fail(source, "file not found")
    if not path.is_file():
        raise _fail(source, f"not a file ({_EXPECTED})")
    try:
        if path.stat().st_size == 0:
            raise _fail(source, f"empty file ({_EXPECTED})")
        return open(path, "rb")
    except OSError as exc:
        raise _fail(source, f"cannot read file: {exc.strerror or exc}") from exc


def _check_pixels(img, source, max_pixels: int) -> None:
    width, height = img.size
    if width * height > max_pixels:
        raise _fail(source, f"image is {width}x{height} = {width * height} pixels, more than "
                            f"the limit of {max_pixels} (refused without decoding: possible "
                            "decompression bomb)")


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparency is composited over white."""
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode.startswith("I") or img.mode == "F":  # 16/32-bit integer or float greyscale
        grey = np.asarray(img, dtype=np.float32)
        if img.mode.startswith("I;16") or (grey.size and grey.max() > 255):
            grey = grey / 257.0  # 16-bit range 0..65535 -> 0..255
        grey = np.clip(grey, 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    return img.convert("RGB")


def _square(img: Image.Image, size: int) -> Image.Image:
    """Centre square of ``img`` resized to ``size`` x ``size`` (crop box, one resample)."""
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    box = (left, top, left + side, top + side)
    return img.resize((size, size), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)


def load_image(source, size: int, *, max_pixels: int | None = None) -> np.ndarray:
    """Load one image as a ``(size, size, 3)`` float32 array of RGB values in [0, 255].

    ``source`` is a path (``str``/``Path``) or the encoded file as ``bytes``. JPEG, PNG,
    WebP, GIF (first frame) and BMP are read; the EXIF orientation is applied; greyscale,
    palette, CMYK and 16-bit images become RGB; transparent pixels become white.

    Aspect ratio: the shorter side is resized to ``size`` and the longer side is
    centre-cropped to ``size``, so the centre of the photo is kept and nothing is
    stretched (a 2000x500 panorama keeps its middle 500x500 square).

    Images with more than ``max_pixels`` pixels (default: module ``MAX_PIXELS``) are
    refused from their header, before decoding. Truncated files are refused too.
    Raises ``ImageError`` (a ``DataError``) with a one-line message naming the file.
    """
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"load_image: size must be a positive int, got {size!r}")
    size = int(size)
    if isinstance(source, Decoded) and source.size == size:
        return source.pixels
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    with _open_stream(source) as stream, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(stream) as img:  # reads the header only
                _check_pixels(img, source, limit)
                if img.format == "JPEG":
                    img.draft("RGB", (size, size))  # cheap DCT downscale, still >= size
                img.load()
                img = ImageOps.exif_transpose(img)
                pixels = np.asarray(_square(_to_rgb(img), size), dtype=np.float32)
        except ImageError:
            raise
        except Image.UnidentifiedImageError as exc:
            raise _fail(source, f"not a readable image ({_EXPECTED})") from exc
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise _fail(source, f"refused as a possible decompression bomb: {exc}") from exc
        except _DECODE_ERRORS as exc:
            said = "truncated" in str(exc)
            broken = isinstance(exc, (OSError, SyntaxError, EOFError)) and not said
            hint = "; the file may be truncated or corrupt" if broken else ""
            raise _fail(source, f"cannot decode image ({type(exc).__name__}: {exc}){hint}") from exc
    return pixels


def load_images(sources, size: int, on_error: str = "skip", *, max_pixels: int | None = None):
    """Load many images; return ``(pixels, kept, failures)``.

    ``pixels`` is ``(n_kept, size, size, 3)`` float32, ``kept`` the indices into
    ``sources`` of the rows, ``failures`` a list of ``(source, message)``.
    ``on_error="skip"`` reports bad files in ``failures``; ``"raise"`` raises the first
    ``ImageError``.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"load_images: on_error must be 'skip' or 'raise', got {on_error!r}")
    rows, kept, failures = [], [], []
    for index, source in enumerate(sources):
        try:
            rows.append(load_image(source, size, max_pixels=max_pixels))
        except ImageError as exc:
            if on_error == "raise":
                raise
            failures.append((source, str(exc)))
            continue
        kept.append(index)
    pixels = np.stack(rows) if rows else np.empty((0, size, size, 3), dtype=np.float32)
    return pixels, kept, failures


def file_sha256(path_or_bytes) -> str:
    """Hex SHA-256 of a file's content (read in 1 MiB chunks) or of ``bytes``: a cache key."""
    digest = hashlib.sha256()
    if isinstance(path_or_bytes, Decoded):
        path_or_bytes = path_or_bytes.data
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        digest.update(path_or_bytes)
        return digest.hexdigest()
    with _open_stream(path_or_bytes) as handle:  # the same errors as decoding: not found, not a file...
        try:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        except OSError as exc:
            raise _fail(path_or_bytes, f"cannot read file: {exc.strerror or exc}") from exc
    return digest.hexdigest()
