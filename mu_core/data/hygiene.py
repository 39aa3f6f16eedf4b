"""Data hygiene for bring-your-own datasets: every listed image is opened once; rows whose file is missing or
unreadable are dropped (and counted), and images repeated across splits are found, exactly (byte-identical) or
nearly (perceptual hash within NEAR_DISTANCE bits), because a test or unseen image that is also a training image
makes the utility and the attack figures lie. The MUFAC archive has over 250 such pairs."""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Sequence

import imagehash
import numpy as np
from PIL import Image

from mu_core.data.files import ImageSource, io_workers
from mu_core.data.split_names import TEST, TRAIN, UNSEEN
from mu_core.errors import DataError

# Largest Hamming distance between 64-bit perceptual hashes that counts as a near-duplicate. Measured on the ORL
# photos: JPEG re-encoding, brightness +10 and a 2x down-up resize move the hash by at most 2 bits, while photos of
# two different people were never closer than 6 bits (consecutive shots of one person can be 0-4 bits apart).
NEAR_DISTANCE = 4
SPLIT_ORDER = (TRAIN, TEST, UNSEEN)
HASH_SIDE = 64  # decode at no less than this many pixels per side for hashing (enough for phash's 32 x 32)

@dataclass(frozen=True)
class DuplicatePair:
    """Two samples in different splits showing the same image. `kind` is "exact" (identical bytes) or "near"
    (perceptual hashes `distance` bits apart)."""

    a: str
    b: str
    split_a: str
    split_b: str
    kind: str
    distance: int


@dataclass
class Scan:
    """Per-sample outcome of opening every image: a SHA-256 and a perceptual hash, or why it failed."""

    digests: list[str]
    phashes: np.ndarray          # uint64, 0 where the image failed
    missing: list[int]
    unreadable: list[tuple[int, str]]


def phash(image: Image.Image) -> int:
    """64-bit perceptual hash (imagehash.phash of the grey image) as an integer."""
    return int(str(imagehash.phash(image)), 16)


def scan_images(images: ImageSource) -> Scan:
    """Open each image once (in a few threads: decoding releases the GIL)."""

    def one(i: int) -> tuple[str, int, str | None, str]:
        try:
            raw, image = images.fingerprint(i, HASH_SIDE)
            return hashlib.sha256(raw).hexdigest(), phash(image), None, ""
        except FileNotFoundError:
            return "", 0, "missing", ""
        except DataError as e:
            return "", 0, "unreadable", str(e)

    with ThreadPoolExecutor(io_workers()) as pool:
        results = list(pool.map(one, range(len(images))))
    return Scan(digests=[r[0] for r in results],
                phashes=np.array([r[1] for r in results], dtype=np.uint64),
                missing=[i for i, r in enumerate(results) if r[2] == "missing"],
                unreadable=[(i, r[3]) for i, r in enumerate(results) if r[2] == "unreadable"])


def cross_split_duplicates(sample_ids: Sequence[str], splits: Sequence[str], digests: Sequence[str],
                           phashes: np.ndarray, near_distance: int = NEAR_DISTANCE) -> list[DuplicatePair]:
    """Every pair of samples in different splits that are exact or near duplicates, the earlier split first."""
    splits = np.asarray(splits)
    pairs: list[DuplicatePair] = []
    for si, first in enumerate(SPLIT_ORDER):
        a_idx = np.flatnonzero(splits == first)
        for second in SPLIT_ORDER[si + 1:]:
            b_idx = np.flatnonzero(splits == second)
            for start in range(0, len(a_idx), 1024):
                rows = a_idx[start:start + 1024]
                distance = np.bitwise_count(phashes[rows, None] ^ phashes[None, b_idx])
                for r, c in zip(*np.nonzero(distance <= near_distance)):
                    i, j = int(rows[r]), int(b_idx[c])
                    exact = digests[i] == digests[j]
                    pairs.append(DuplicatePair(sample_ids[i], sample_ids[j], first, second,
                                               "exact" if exact else "near", 0 if exact else int(distance[r, c])))
    return pairs


def later_copies(pairs: Sequence[DuplicatePair]) -> set[str]:
    """The samples --drop-duplicates removes: in each pair the copy in the later split (test before unseen), so
    that the training set, and with it the Original model's recipe, stays as published."""
    return {p.b for p in pairs}


def _examples(items: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return f" (e.g. {shown}{', ...' if len(items) > n else ''})" if items else ""


@dataclass
class HygieneReport:
    """What cleaning did to a bring-your-own dataset; `notes()` is what the user is shown.
    `digests` and `phashes` are aligned with the cleaned dataset's samples (for matching uploads later)."""

    listed: int
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    duplicates: list[DuplicatePair] = field(default_factory=list)
    dropped_duplicates: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list, repr=False)
    phashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64), repr=False)

    def duplicate_counts(self) -> dict[str, int]:
        """Pairs per kind and per split pair, e.g. {"exact": 250, "near": 13, "train-test": 120, ...}."""
        counts: dict[str, int] = {}
        for p in self.duplicates:
            for key in (p.kind, f"{p.split_a}-{p.split_b}"):
                counts[key] = counts.get(key, 0) + 1
        return counts

    def notes(self) -> list[str]:
        notes = []
        if self.invalid:
            notes.append(f"Dropped {len(self.invalid)} row(s) with unusable values{_examples(self.invalid, 2)}.")
        if self.missing:
            notes.append(f"Dropped {len(self.missing)} of {self.listed} listed images whose file is missing"
                         f"{_examples(self.missing)}.")
        if self.unreadable:
            notes.append(f"Dropped {len(self.unreadable)} unreadable image(s) (truncated or not an image)"
                         f"{_examples(self.unreadable, 2)}.")
        if self.duplicates:
            c = self.duplicate_counts()
            by_split = ", ".join(f"{k} {v}" for k, v in c.items() if "-" in k)
            action = (f"dropped the {len(self.dropped_duplicates)} later-split copies (--drop-duplicates)"
                      if self.dropped_duplicates else "kept; --drop-duplicates drops the later-split copy")
            notes.append(f"Found {len(self.duplicates)} duplicate image pair(s) across splits "
                         f"({c.get('exact', 0)} byte-identical, {c.get('near', 0)} near-identical: perceptual "
                         f"hash within {NEAR_DISTANCE} bits; {by_split}): {action}.")
        return notes

    def to_dict(self) -> dict:
        return {"listed": self.listed, "missing": self.missing, "unreadable": self.unreadable,
                "invalid": self.invalid, "dropped_duplicates": self.dropped_duplicates,
                "duplicate_counts": self.duplicate_counts(),
                "duplicates": [asdict(p) for p in self.duplicates]}
