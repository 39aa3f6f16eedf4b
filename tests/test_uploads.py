"""Uploaded photos: every bad or odd file is generated here with PIL (or crafted byte by byte)."""
from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from mu_core.errors import DataError
from mu_core.uploads import MAX_PIXELS, read_upload


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def gradient(size: int = 64) -> np.ndarray:
    """An RGB test pattern (uint8 (size, size, 3))."""
    ramp = np.linspace(0, 255, size, dtype=np.uint8)
    return np.stack([np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size)),
                     np.full((size, size), 128, np.uint8)], axis=2)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_claiming(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header claims width x height RGB pixels, with a few bytes of pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + png_chunk(b"IEND", b""))


def test_plain_rgb_and_grey_images_round_trip():
    rgb = gradient()
    assert np.array_equal(read_upload("face.png", encode(Image.fromarray(rgb), "PNG")), rgb)
    grey = rgb[:, :, 0]
    out = read_upload("face.bmp", encode(Image.fromarray(grey), "BMP"))
    assert out.dtype == np.uint8 and out.shape == (64, 64) and np.array_equal(out, grey)
    jpeg = read_upload("face.jpg", encode(Image.fromarray(rgb), "JPEG", quality=95))
    assert jpeg.shape == (64, 64, 3) and np.abs(jpeg.astype(int) - rgb).mean() < 3


@pytest.mark.parametrize("data", [b"", b"hello, this is not an image", b"%PDF-1.7\n" + b"x" * 100,
                                  b"\x89PNG\r\n\x1a\n" + b"\0" * 10])
def test_not_an_image(data):
    with pytest.raises(DataError, match="upload.bin is (empty|not an image)"):
        read_upload("upload.bin", data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_images(fmt):
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    with pytest.raises(DataError, match="damaged or truncated"):
        read_upload(f"cut.{fmt.lower()}", data[: len(data) // 2])


@pytest.mark.parametrize("side", [100_000, 7_000])  # beyond PIL's own bomb limits, and just above ours
def test_decompression_bomb_refused_from_the_header(side):
    data = png_header_claiming(side, side)
    assert len(data) < 200
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL's own DecompressionBombWarning must not appear either
        with pytest.raises(DataError, match="too large") as error:
            read_upload("bomb.png", data)
    assert f"{side} x {side}" in str(error.value)
    assert side * side > MAX_PIXELS


@pytest.mark.parametrize("size", [(1, 1), (15, 200)])
def test_too_small(size):
    with pytest.raises(DataError, match="too small"):
        read_upload("tiny.png", encode(Image.new("RGB", size, (10, 20, 30)), "PNG"))


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.fromarray(gradient()).convert("CMYK")
    out = read_upload("print.jpg", encode(cmyk, "JPEG", quality=95))
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - np.asarray(cmyk.convert("RGB"), dtype=int)).mean() < 4


def test_rgba_png_is_composited_on_white():
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:16, :, 3] = 255   # top half opaque red-ish, bottom half fully transparent
    rgba[16:24, :, 3] = 128  # a half-transparent band
    out = read_upload("cutout.png", encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out.shape == (32, 32, 3)
    assert (out[:16] == [200, 0, 0]).all()
    assert (out[24:] == 255).all()
    assert np.allclose(out[16:24, :, 1], 127, atol=1) and np.allclose(out[16:24, :, 0], 227, atol=1)


def test_la_png_is_grey_on_white():
    la = np.stack([np.full((32, 32), 50, np.uint8), np.tile([0, 255], (32, 16)).astype(np.uint8)], axis=2)
    out = read_upload("grey-alpha.png", encode(Image.fromarray(la, "LA"), "PNG"))
    assert out.shape == (32, 32)
    assert (out[:, 0::2] == 255).all() and (out[:, 1::2] == 50).all()


def test_16_bit_png_is_scaled_to_8_bits():
    values = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    out = read_upload("scan.png", encode(image, "PNG"))
    assert out.shape == (32, 32) and out.dtype == np.uint8
    assert out[0, 0] == 0 and out[-1, -1] == 255
    assert np.abs(out.astype(int) - values / 257).max() <= 0.5 + 1e-9


def test_palette_gif_becomes_rgb():
    rgb = gradient()
    palette = Image.fromarray(rgb).quantize(64)
    out = read_upload("animated.gif", encode(palette, "GIF"))
    assert out.shape == (64, 64, 3)
    assert np.array_equal(out, np.asarray(palette.convert("RGB")))


def test_palette_png_with_transparency_is_composited_on_white():
    image = Image.new("P", (20, 20), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * (254 * 3))
    image.paste(1, (0, 0, 20, 10))
    out = read_upload("icon.png", encode(image, "PNG", transparency=0))
    assert (out[:10] == [255, 0, 0]).all() and (out[10:] == 255).all()


def test_exif_orientation_is_applied():
    image = Image.fromarray(gradient()[:, :40])  # 64 high, 40 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    out = read_upload("phone.jpg", encode(image, "JPEG", exif=exif))
    assert out.shape == (40, 64, 3)
