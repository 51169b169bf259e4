"""Tests for interestkit.data.images: formats, orientation, modes, cropping, errors, bombs."""

import hashlib
import struct
import time
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from interestkit.data import images
from interestkit.errors import DataError
from interestkit.data.images import ImageError, file_sha256, load_image, load_images

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _save(img, path, **kwargs):
    img.save(path, **kwargs)
    return path


def _noise(width, height, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _close(pixel, colour, tol=40):
    return np.all(np.abs(np.asarray(pixel, dtype=np.float32) - colour) <= tol)


def _assert_one_line_naming(exc_info, path):
    message = str(exc_info.value)
    assert str(path) in message
    assert "\n" not in message and "\r" not in message


# -- formats -------------------------------------------------------------------------


@pytest.mark.parametrize("ext,kwargs", [(".jpg", {"quality": 95}), (".png", {}),
                                        (".webp", {"quality": 95}), (".bmp", {}), (".gif", {})])
def test_each_format_loads_to_square_float32(tmp_path, ext, kwargs):
    path = _save(Image.new("RGB", (80, 60), GREEN), tmp_path / f"a{ext}", **kwargs)
    pixels = load_image(path, 32)
    assert pixels.shape == (32, 32, 3) and pixels.dtype == np.float32
    assert pixels.min() >= 0 and pixels.max() <= 255
    assert _close(pixels.mean(axis=(0, 1)), GREEN)
    assert ext in images.IMAGE_EXTENSIONS


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (40, 40), c) for c in (RED, GREEN, BLUE)]
    path = _save(frames[0], tmp_path / "anim.gif", save_all=True,
                 append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as img:
        assert img.n_frames == 3
    assert _close(load_image(path, 16).mean(axis=(0, 1)), RED)


def test_bytes_input_matches_path(tmp_path):
    path = _save(_noise(50, 30), tmp_path / "n.png")
    np.testing.assert_array_equal(load_image(path.read_bytes(), 24), load_image(path, 24))
    np.testing.assert_array_equal(load_image(str(path), 24), load_image(path, 24))


# -- orientation and cropping ----------------------------------------------------------


def test_exif_orientation_6_is_applied(tmp_path):
    # Stored landscape 60x40, blue with a red top-left quadrant. Orientation 6 means
    # "rotate 90 degrees clockwise to display": displayed portrait 40x60, red patch in
    # the top-right. The centre 40x40 crop keeps it in its top-right quadrant.
    img = Image.new("RGB", (60, 40), BLUE)
    img.paste(RED, (0, 0, 30, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(img, tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    pixels = load_image(path, 32)
    top_left, top_right = pixels[4, 4], pixels[4, 27]
    bottom_left, bottom_right = pixels[27, 4], pixels[27, 27]
    assert _close(top_right, RED)
    for pixel in (top_left, bottom_left, bottom_right):
        assert _close(pixel, BLUE)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_wide_image_is_centre_cropped_not_stretched(tmp_path, ext):
    img = Image.new("RGB", (2000, 500), RED)
    img.paste(GREEN, (750, 0, 1250, 500))  # the centre 500x500 square
    img.paste(BLUE, (1250, 0, 2000, 500))
    path = _save(img, tmp_path / f"wide{ext}")
    pixels = load_image(path, 64)
    assert pixels.shape == (64, 64, 3)
    inner = pixels[:, 2:-2]  # the resampling filter may touch the crop's outer columns
    assert all(_close(p, GREEN, tol=30) for p in inner.reshape(-1, 3)[::37])
    assert _close(pixels.mean(axis=(0, 1)), GREEN, tol=20)


def test_tall_image_keeps_its_middle(tmp_path):
    img = Image.new("RGB", (100, 300), RED)
    img.paste(BLUE, (0, 100, 100, 200))
    pixels = load_image(_save(img, tmp_path / "tall.png"), 20)
    assert _close(pixels[1:-1].mean(axis=(0, 1)), BLUE, tol=5)


def test_small_image_is_upscaled(tmp_path):
    pixels = load_image(_save(Image.new("RGB", (5, 3), RED), tmp_path / "tiny.png"), 40)
    assert pixels.shape == (40, 40, 3) and _close(pixels.mean(axis=(0, 1)), RED, tol=1)


# -- colour modes ------------------------------------------------------------------------


def test_greyscale_becomes_grey_rgb(tmp_path):
    pixels = load_image(_save(Image.new("L", (8, 8), 100), tmp_path / "g.png"), 8)
    assert np.all(pixels == 100)


def test_rgba_transparent_pixels_become_white(tmp_path):
    img = Image.new("RGBA", (4, 4), (10, 20, 30, 255))
    img.paste((255, 0, 0, 0), (0, 0, 2, 4))  # left half: fully transparent red
    pixels = load_image(_save(img, tmp_path / "rgba.png"), 4)
    assert np.all(pixels[:, :2] == 255)
    assert np.all(pixels[:, 2:] == np.array([10, 20, 30], dtype=np.float32))


def test_la_half_transparent_is_composited_over_white(tmp_path):
    pixels = load_image(_save(Image.new("LA", (4, 4), (0, 128)), tmp_path / "la.png"), 4)
    assert np.allclose(pixels, 127, atol=2)


@pytest.mark.parametrize("ext", [".png", ".gif"])
def test_palette_with_transparency(tmp_path, ext):
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 200, 50, 25] + [0] * (254 * 3))
    img.paste(0, (0, 0, 2, 4))  # index 0 is transparent
    path = _save(img, tmp_path / f"p{ext}", transparency=0)
    pixels = load_image(path, 4)
    assert np.all(pixels[:, :2] == 255)
    assert np.all(pixels[:, 2:] == np.array([200, 50, 25], dtype=np.float32))


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = _save(Image.new("RGB", (16, 16), RED).convert("CMYK"), tmp_path / "c.jpg", quality=95)
    with Image.open(path) as img:
        assert img.mode == "CMYK"
    assert _close(load_image(path, 16).mean(axis=(0, 1)), RED)


def test_16_bit_greyscale_is_scaled(tmp_path):
    img = Image.new("I;16", (8, 8), 0)
    img.paste(65535, (4, 0, 8, 8))
    pixels = load_image(_save(img, tmp_path / "deep.png"), 8)
    assert np.all(pixels[:, :4] == 0) and np.all(pixels[:, 4:] == 255)


# -- errors ------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.jpg"
    with pytest.raises(ImageError, match="not found") as exc_info:
        load_image(path, 8)
    _assert_one_line_naming(exc_info, path)
    assert isinstance(exc_info.value, DataError)


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("hello\nthis is not a photo\n")
    with pytest.raises(ImageError, match="not a readable image") as exc_info:
        load_image(path, 8)
    _assert_one_line_naming(exc_info, path)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty") as exc_info:
        load_image(path, 8)
    _assert_one_line_naming(exc_info, path)


def test_directory_is_refused(tmp_path):
    with pytest.raises(ImageError, match="not a file"):
        load_image(tmp_path, 8)


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp"])
def test_truncated_file(tmp_path, ext):
    whole = _save(_noise(200, 150), tmp_path / f"whole{ext}")
    path = tmp_path / f"half{ext}"
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as exc_info:
        load_image(path, 32)
    _assert_one_line_naming(exc_info, path)


def test_bad_bytes_name_bytes():
    with pytest.raises(ImageError, match="<bytes>"):
        load_image(b"GIF89a nonsense", 8)
    with pytest.raises(ImageError, match="<bytes>.*empty"):
        load_image(b"", 8)


def test_bad_size_is_a_value_error(tmp_path):
    path = _save(Image.new("RGB", (4, 4)), tmp_path / "a.png")
    with pytest.raises(ValueError):
        load_image(path, 0)


# -- decompression bombs -------------------------------------------------------------------


def _png_declaring(tmp_path, width, height, name="bomb.png"):
    """A real 1x1 PNG whose IHDR is patched to declare width x height (CRC fixed)."""
    path = _save(Image.new("RGB", (1, 1), RED), tmp_path / name)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def test_patched_header_is_believed(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's own check off
    with Image.open(_png_declaring(tmp_path, 100_000, 100_000)) as img:
        assert img.size == (100_000, 100_000)


# 100000^2 is past Pillow's error threshold, 10000^2 only past its warning threshold.
@pytest.mark.parametrize("side", [100_000, 10_000])
def test_decompression_bomb_header_is_refused_quickly(tmp_path, side):
    path = _png_declaring(tmp_path, side, side)
    filters = list(warnings.filters)
    start = time.perf_counter()
    with pytest.raises(ImageError, match="decompression bomb") as exc_info:
        load_image(path, 32)
    assert time.perf_counter() - start < 1.0
    _assert_one_line_naming(exc_info, path)
    assert warnings.filters == filters  # the warning filter was scoped


def test_own_pixel_limit_refuses_before_decoding(tmp_path):
    # 5000x5000 is under Pillow's limit; the file holds one pixel, so decoding would fail
    # differently. The refusal must come from the header check.
    path = _png_declaring(tmp_path, 5000, 5000)
    with pytest.raises(ImageError, match=r"5000x5000.*decompression bomb"):
        load_image(path, 32, max_pixels=1_000_000)


def test_lowered_max_pixels_on_real_image(tmp_path, monkeypatch):
    path = _save(Image.new("RGB", (100, 100), RED), tmp_path / "real.png")
    with pytest.raises(ImageError, match="more than the limit of 5000"):
        load_image(path, 16, max_pixels=5000)
    assert load_image(path, 16, max_pixels=10_000).shape == (16, 16, 3)
    monkeypatch.setattr(images, "MAX_PIXELS", 9_999)
    with pytest.raises(ImageError, match="limit of 9999"):
        load_image(path, 16)


# -- batches and hashes ------------------------------------------------------------------


def test_load_images_skip_and_raise(tmp_path):
    good = [_save(Image.new("RGB", (20, 10), c), tmp_path / f"{i}.png")
            for i, c in enumerate((RED, GREEN))]
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    pixels, kept, failures = load_images([good[0], bad, good[1]], 8)
    assert pixels.shape == (2, 8, 8, 3) and pixels.dtype == np.float32
    assert kept == [0, 2]
    assert len(failures) == 1 and failures[0][0] == bad and str(bad) in failures[0][1]
    assert _close(pixels[1].mean(axis=(0, 1)), GREEN)
    with pytest.raises(ImageError, match="bad.jpg"):
        load_images([good[0], bad, good[1]], 8, on_error="raise")
    with pytest.raises(ValueError):
        load_images(good, 8, on_error="ignore")


def test_load_images_all_bad_or_empty(tmp_path):
    pixels, kept, failures = load_images([tmp_path / "x.jpg"], 8)
    assert pixels.shape == (0, 8, 8, 3) and kept == [] and len(failures) == 1
    assert load_images([], 8)[0].shape == (0, 8, 8, 3)


def test_file_sha256(tmp_path):
    data = np.random.default_rng(1).bytes(3 * (1 << 20) + 123)  # spans several chunks
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert file_sha256(path) == file_sha256(str(path)) == file_sha256(data) == expected
    with pytest.raises(ImageError, match="missing.bin"):
        file_sha256(tmp_path / "missing.bin")


def test_pillow_bomb_warning_is_an_error_even_with_a_high_limit(tmp_path):
    # 10000x10000 passes a raised max_pixels but is past Pillow's warning threshold:
    # the warning must refuse it, not let it decode 100 million pixels.
    path = _png_declaring(tmp_path, 10_000, 10_000)
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(path, 32, max_pixels=10**12)
