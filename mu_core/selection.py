"""The dashboard's forget selection (people or photos picked in a gallery) and the engine's forget syntax
(`people:...`, `photos:...`), both ways. Specs are canonical (sorted, by index where the data allows it), so the
same selection always names the same cached Retrained model as the command line."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from mu_core.data import Dataset
from mu_core.data.splits import parse_forget, select_forget, write_spec
from mu_core.errors import DataError

KINDS = ("people", "photos")


def chosen(ds: Dataset, spec: str) -> tuple[str, list[int]]:
    """(kind, indices) a spec selects: identity indices for people:..., sample indices for photos:...
    People without training photos are left out (there is nothing of theirs to forget)."""
    kind, items = parse_forget(spec)
    if kind not in KINDS:
        raise DataError(f"The gallery selects people or photos, not {kind}:...")
    samples = select_forget(ds, kind, items)
    if kind == "people":
        return kind, sorted(int(i) for i in np.unique(ds.identities[samples]))
    return kind, sorted(int(i) for i in samples)


def spec_for(ds: Dataset, kind: str, indices: Iterable[int]) -> str | None:
    """The canonical spec of identity indices (kind "people") or sample indices ("photos"); None when empty.
    The same spelling `make_splits` gives the set (see splits.write_spec), so the gallery and the command line name
    one cached Retrained model."""
    if kind not in KINDS:
        raise DataError(f"The gallery selects people or photos, not {kind}.")
    if not list(indices := [int(i) for i in indices]):
        return None
    spec = write_spec(ds, kind, indices)
    if spec is None:
        raise DataError(f"This selection of {kind} cannot be written in the forget syntax (names with commas?).")
    return spec
