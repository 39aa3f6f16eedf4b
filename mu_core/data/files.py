"""Reading what users download: CSV tables, text tables, image folders and image files. Every problem becomes a
DataError that names the file (and column) at fault."""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
from PIL import Image

from mu_core.data.roots import CSV_SUFFIX, check_path_text, escapes_roots
from mu_core.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".webp")
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def io_workers() -> int:
    """Threads for decoding many images (PIL releases the GIL while decoding)."""
    return max(1, min(8, os.cpu_count() or 1))


def natural_key(text: str) -> tuple:
    """Sort key that orders "F2" before "F10" and "190" before "1250"."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def find_child(folder: Path, names: Sequence[str], what: str, layout: str) -> Path:
    """The first of `names` (relative paths) that exists under `folder`, or a DataError saying what is missing."""
    for name in names:
        if (folder / name).exists():
            return folder / name
    raise DataError(f"{folder} is not the expected layout: {what} is missing (looked for {', '.join(names)}; "
                    f"expected {layout}).")


def existing_dir(path: Path | None, source: str, layout: str, csv_ok: bool = False) -> Path:
    """The data folder given for `source` (or, with `csv_ok`, a .csv file), or a DataError saying what the folder
    must contain. A file of another kind is refused without being opened."""
    if path is None:
        raise DataError(f"The {source} dataset is read from a folder you downloaded: give it with --data-dir "
                        f"({layout}).")
    check_path_text(path, "data folder")
    if not path.exists():
        raise DataError(f"The data folder {path} does not exist.")
    if escapes_roots(path):
        raise DataError(f"{path} is a link that leads outside the allowed data roots; it is not read.")
    if path.is_dir() or (csv_ok and path.is_file() and path.suffix.lower() == CSV_SUFFIX):
        return path
    kind = f"a folder or a {CSV_SUFFIX} file" if csv_ok else "a folder"
    raise DataError(f"{path} is not a folder: the {source} dataset is read from {kind} ({layout}).")


def refuse_escape(path: Path, what: str = "file") -> None:
    """A DataError when `path` is a link inside the data roots that leads outside them (never followed)."""
    if escapes_roots(path):
        raise DataError(f"The {what} {path} is a link that leads outside the allowed data roots; it is not read.")


def relative_file(root: Path, relative: str) -> Path | None:
    """`root / relative` when `relative` names a path inside `root` (not absolute, no ".."), else None."""
    rel = Path(relative)
    if not relative or rel.is_absolute() or ".." in rel.parts:
        return None
    return root / rel


def read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts (header names and cells stripped), after checking the required columns. Errors
    name the columns wanted and count what was found; they never quote the file (it may not be a table at all)."""
    refuse_escape(path, "CSV file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                found = f"its first line has {len(header)} column{'s' if len(header) != 1 else ''}" if header \
                    else "it has no header line"
                raise DataError(f"{path} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                                f"({found}; the columns needed are {', '.join(required)}).")
            reader.fieldnames = header
            return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except UnicodeDecodeError:
        raise DataError(f"Cannot read the CSV file {path}: it is not UTF-8 text.") from None
    except (OSError, csv.Error) as e:
        raise DataError(f"Cannot read the CSV file {path}: {getattr(e, 'strerror', None) or type(e).__name__}.") \
            from None


def read_text_lines(path: Path) -> list[str]:
    """Non-empty lines of a text file."""
    refuse_escape(path, "text file")
    try:
        return [line for line in path.read_text(encoding="utf-8", errors="strict").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise DataError(f"Cannot read the text file {path}: it is not UTF-8 text.") from None
    except OSError as e:
        raise DataError(f"Cannot read the text file {path}: {e.strerror or type(e).__name__}.") from None


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside `folder`, in natural name order."""
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: natural_key(p.name))


def to_array(image: Image.Image) -> np.ndarray:
    """uint8 (H, W) for grey images, (H, W, 3) for everything else."""
    if image.mode != "L":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def decode_image(path: Path, min_side: int | None = None, data: bytes | None = None) -> np.ndarray:
    """Decode an image file (or its bytes `data`, already read); JPEGs may decode at a reduced scale that keeps at
    least `min_side` pixels per side (much faster for CelebA-HQ's 1024 px photos). Raises FileNotFoundError when
    the file is missing and DataError naming the file when it is truncated or not an image."""
    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as image:
            if min_side:
                image.draft(image.mode if image.mode in ("L", "RGB") else "RGB", (min_side, min_side))
            return to_array(image)
    except FileNotFoundError:
        raise
    except _DECODE_ERRORS as e:
        raise DataError(f"The image {path} cannot be read ({e}).") from None


class ImageSource(Protocol):
    """Pixels of a bring-your-own dataset, sample by sample."""

    def __len__(self) -> int: ...

    def __call__(self, i: int) -> np.ndarray: ...

    def scaled(self, i: int, size: int) -> np.ndarray: ...

    def fingerprint(self, i: int, min_side: int) -> tuple[bytes, Image.Image]: ...

    def take(self, indices: Sequence[int]) -> "ImageSource": ...

    def count_missing(self) -> int: ...


class FileImages:
    """Images stored as files: `loader(i)` decodes sample i at full size, `loader.scaled(i, size)` possibly at a
    reduced scale of at least `size` pixels; a missing file raises DataError naming it."""

    def __init__(self, paths: Sequence[Path]):
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __call__(self, i: int) -> np.ndarray:
        return self.scaled(i, 0)

    def _check(self, i: int) -> None:
        refuse_escape(self.paths[i], "image")

    def scaled(self, i: int, size: int) -> np.ndarray:
        self._check(i)
        try:
            return decode_image(self.paths[i], size or None)
        except FileNotFoundError:
            raise DataError(f"The image {self.paths[i]} has gone missing since the dataset was loaded.") from None

    def fingerprint(self, i: int, min_side: int) -> tuple[bytes, Image.Image]:
        """The file's bytes and a small decoded copy; FileNotFoundError when it is missing."""
        self._check(i)
        try:
            raw = self.paths[i].read_bytes()
        except FileNotFoundError:
            raise
        except OSError as e:
            raise DataError(f"The image {self.paths[i]} cannot be read ({e}).") from None
        return raw, Image.fromarray(decode_image(self.paths[i], min_side, raw))

    def take(self, indices: Sequence[int]) -> "FileImages":
        return FileImages([self.paths[i] for i in indices])

    def count_missing(self) -> int:
        return sum(not p.is_file() for p in self.paths)


class ArrayImages:
    """Images held in one uint8 array (N, H, W[, 3]), e.g. CIFAR-10's batches; `rows` selects and orders them."""

    def __init__(self, array: np.ndarray, rows: Sequence[int] | None = None):
        self.array = array
        self.rows = np.arange(len(array)) if rows is None else np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def __call__(self, i: int) -> np.ndarray:
        return self.array[self.rows[i]]

    def scaled(self, i: int, size: int) -> np.ndarray:
        return self(i)

    def fingerprint(self, i: int, min_side: int) -> tuple[bytes, Image.Image]:
        image = self(i)
        return image.tobytes(), Image.fromarray(image)

    def take(self, indices: Sequence[int]) -> "ArrayImages":
        return ArrayImages(self.array, self.rows[np.asarray(indices, dtype=np.int64)])

    def count_missing(self) -> int:
        return 0
