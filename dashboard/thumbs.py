"""Small thumbnails as data URIs (what st.dataframe's ImageColumn and st.image accept), cached per dataset. WebP:
the gallery of 400 faces weighs about a third of what it does in PNG."""
from __future__ import annotations

import base64
import io

import numpy as np
import streamlit as st
from PIL import Image

from mu_core.data import Dataset

HEIGHT = 56
QUALITY = 85


def image_uri(image: np.ndarray, height: int = HEIGHT) -> str:
    """A uint8 grey (H, W) or RGB (H, W, 3) image, scaled to `height` pixels high, as a WebP data URI."""
    picture = Image.fromarray(np.ascontiguousarray(image))
    width = max(1, round(picture.width * height / max(1, picture.height)))
    buffer = io.BytesIO()
    picture.resize((width, height), Image.Resampling.BILINEAR).save(buffer, format="WEBP", quality=QUALITY)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@st.cache_data(show_spinner=False, max_entries=256)
def thumbnails(_ds: Dataset, data_key: str, indices: tuple[int, ...], height: int = HEIGHT) -> list[str]:
    """Thumbnails of samples `indices` of a dataset (identified for the cache by `data_key`)."""
    return [image_uri(_ds.load_image(int(i)), height) for i in indices]


def thumbnail(ds: Dataset, data_key: str, index: int, height: int = HEIGHT) -> str:
    return thumbnails(ds, data_key, (int(index),), height)[0]
