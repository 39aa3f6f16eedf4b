"""Photos uploaded in the dashboard: decoded safely into uint8 arrays, or refused with a message for the user.

The size limit is checked on the header, before any pixel is decoded. The file is identified by calling the
format plugins directly rather than `PIL.Image.open`, whose decompression-bomb check warns or raises against the
process-wide `Image.MAX_IMAGE_PIXELS` (changing that global, or the warning filters, is not safe with several
browser sessions uploading at once); this module applies its own limit per call instead."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageFile, ImageOps

from mu_core.data.files import to_array
from mu_core.errors import DataError

FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "PPM")  # PPM also reads PGM
ACCEPTED = "JPEG, PNG, GIF, BMP, TIFF, WebP, PGM/PPM"  # FORMATS as users know them
MAX_PIXELS = 40_000_000
MIN_SIDE = 16
MAX_SIDE = 16383  # WebP's limit (the dashboard's thumbnails are WebP); larger sides are refused
MAX_ASPECT = 20   # a face photo is not a strip: wider (or taller) than 20:1 is refused, so thumbnails stay in range
_NOT_THIS_FORMAT = (SyntaxError, IndexError, TypeError, ValueError, struct.error, EOFError)
_DAMAGED = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_WHITE = 255


def read_upload(name: str, data: bytes, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> np.ndarray:
    """Decode an uploaded photo into uint8 (H, W) grey or (H, W, 3) RGB, upright (EXIF orientation applied),
    first frame only. Transparency is composited on white; CMYK, palette, 16-bit and float images are converted.
    Raises DataError naming `name` when the file is not an image, is damaged or truncated, is larger than
    `max_pixels` (checked before decoding) or smaller than `min_side` pixels on a side."""
    if not data:
        raise DataError(f"{name} is empty.")
    try:
        image = _identify(name, data)
        width, height = image.size
        if width * height > max_pixels:
            raise DataError(f"{name} is too large: {width} x {height} pixels ({width * height / 1e6:.0f} megapixels; "
                            f"at most {max_pixels / 1e6:.0f} are accepted). Downscale it and upload it again.")
        if min(width, height) < min_side:
            raise DataError(f"{name} is too small: {width} x {height} pixels (at least {min_side} x {min_side} are "
                            "needed to see a face).")
        if max(width, height) > MAX_SIDE:
            raise DataError(f"{name} is {width} x {height} pixels: sides of at most {MAX_SIDE} pixels are accepted "
                            "(WebP's limit, used for the thumbnails). Downscale it and upload it again.")
        if max(width, height) > MAX_ASPECT * min(width, height):
            raise DataError(f"{name} is {width} x {height} pixels, a strip rather than a photo of a face: at most "
                            f"{MAX_ASPECT} times as wide as high (or as high as wide) is accepted. Crop it to the "
                            "face.")
        image.load()
        return to_array(_to_l_or_rgb(ImageOps.exif_transpose(image)))
    except _BOMB:
        raise DataError(f"{name} claims an enormous size once decoded (a decompression bomb?); it was refused.") \
            from None
    except _DAMAGED as e:
        if _text_bomb(e):
            raise _bomb_error(name) from None
        raise DataError(f"{name} is damaged or truncated and cannot be decoded ({e}). Upload the complete file.") \
            from None


def _identify(name: str, data: bytes) -> ImageFile.ImageFile:
    """Read the header with the first accepted format's plugin (no pixel data is decoded yet)."""
    Image.init()
    prefix = data[:16]
    for fmt in FORMATS:
        factory, accept = Image.OPEN[fmt]
        if accept is not None and accept(prefix) is not True:
            continue
        try:
            return factory(io.BytesIO(data), "")
        except _NOT_THIS_FORMAT as e:
            if _text_bomb(e):
                raise _bomb_error(name) from None
            continue
    raise DataError(f"{name} is not an image this app can read (accepted: {ACCEPTED}).")


def _text_bomb(e: BaseException) -> bool:
    """PIL's refusal of a PNG text (or ICC) chunk that decompresses to more than its limit: a ValueError
    "Decompressed data too large" (also raised as "Decompressed Data Too Large")."""
    return isinstance(e, ValueError) and "decompressed data too large" in str(e).lower()


def _bomb_error(name: str) -> DataError:
    return DataError(f"{name} holds a compressed text chunk that expands to an enormous size (a decompression "
                     "bomb); it was refused without being decoded.")


def _to_l_or_rgb(image: Image.Image) -> Image.Image:
    """Mode "L" for grey images, "RGB" for everything else."""
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_scale_to_uint8(np.asarray(image), mode), "L")
    if mode in ("LA", "La"):
        return _on_white(image, "L")
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in image.info):
        return _on_white(image, "RGB")
    return image.convert("RGB")  # palette without transparency, CMYK, YCbCr, LAB, HSV, RGBX


def _on_white(image: Image.Image, mode: str) -> Image.Image:
    """Composite an image with transparency onto a white background."""
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (_WHITE,) * 4), rgba).convert(mode)


def _scale_to_uint8(pixels: np.ndarray, mode: str) -> np.ndarray:
    """16-bit images span 0..65535 (scaled by 1/257); 32-bit integer or float images are stretched over their
    own range unless they already fit in 0..255 (integers) or 0..1 (floats)."""
    values = pixels.astype(np.float64)
    if mode.startswith("I;16"):
        scaled = values / 257.0
    elif mode == "F" and values.min() >= 0.0 and values.max() <= 1.0:
        scaled = values * 255.0
    elif values.min() >= 0.0 and values.max() <= 255.0:
        scaled = values
    else:
        low, high = values.min(), values.max()
        scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)
