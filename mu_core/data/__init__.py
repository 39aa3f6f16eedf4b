"""Data sources. `load_dataset(name)` returns a `Dataset`; `make_splits` applies a scenario and forget set."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

from mu_core.data.base import Dataset, Scenario
from mu_core.data.orl import orl_dataset
from mu_core.data.splits import Splits, make_splits, parse_forget
from mu_core.errors import DataError

# name -> (builder taking the data folder or None, one-line description). Bring-your-own sources register here.
SOURCES: dict[str, tuple[Callable[[Path | None], Dataset], str]] = {
    "orl": (lambda _dir: orl_dataset(), "Built-in faces: ORL / AT&T, 40 people x 10 photos (no download)"),
}


@functools.lru_cache(maxsize=8)
def _load(name: str, data_dir: str | None) -> Dataset:
    builder, _ = SOURCES[name]
    return builder(Path(data_dir) if data_dir else None)


def load_dataset(name: str = "orl", data_dir: str | Path | None = None) -> Dataset:
    """A dataset by name (cached per name and folder, since preparing images costs time)."""
    if name not in SOURCES:
        raise DataError(f"Unknown dataset {name!r}; available: {', '.join(SOURCES)}.")
    return _load(name, str(Path(data_dir).resolve()) if data_dir else None)


__all__ = ["Dataset", "Scenario", "Splits", "SOURCES", "load_dataset", "make_splits", "parse_forget"]
