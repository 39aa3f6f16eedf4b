"""What every data source provides: samples with a stable id, label, identity and image; task kind and class
names; base splits; forget scenarios; and a training recipe."""
from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from mu_core.data.files import io_workers
from mu_core.data.split_names import TEST, TRAIN, UNSEEN  # noqa: F401  (re-exported for the sources)
from mu_core.data.transforms import to_square_tensor
from mu_core.recipe import Recipe
from mu_core.task import TaskKind

if TYPE_CHECKING:
    from mu_core.data.hygiene import HygieneReport


@dataclass
class Dataset:
    """A labelled image collection. Sample i has id `sample_ids[i]`, label `labels[i]` (an int, or a 0/1 vector
    for multi-label), identity `identity_names[identities[i]]` and base split `base_splits[i]`
    (train, test or unseen: the benchmark's D_unseen, when the source has one)."""

    name: str
    title: str
    kind: TaskKind
    class_names: list[str]
    sample_ids: list[str]
    labels: np.ndarray
    identities: np.ndarray
    identity_names: list[str]
    base_splits: np.ndarray
    load_image: Callable[[int], np.ndarray]  # raw uint8 image (H, W) or (H, W, 3)
    recipe: Recipe
    scenarios: dict[str, "Scenario"]
    default_scenario: str
    credit: str = ""
    notes: list[str] = field(default_factory=list)  # what hygiene did (dropped rows, duplicates), shown to users
    # A faster loader (bring-your-own files): sample i decoded at a reduced scale of at least `size` pixels a side.
    load_scaled: Callable[[int, int], np.ndarray] | None = None
    hygiene: "HygieneReport | None" = None  # what cleaning found and dropped (bring-your-own sources)
    _tensors: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __len__(self) -> int:
        return len(self.sample_ids)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.base_splits == split)

    def images(self, size: int) -> torch.Tensor:
        """Every sample as uint8 (N, 3, size, size), prepared once per size and kept in memory."""
        with self._lock:
            if size not in self._tensors:
                def prepared(i: int) -> torch.Tensor:
                    raw = self.load_scaled(i, size) if self.load_scaled else self.load_image(i)
                    return to_square_tensor(raw, size)

                with ThreadPoolExecutor(io_workers()) as pool:
                    self._tensors[size] = torch.stack(list(pool.map(prepared, range(len(self)))))
            return self._tensors[size]

    def label_tensor(self, indices: np.ndarray) -> torch.Tensor:
        y = torch.from_numpy(np.asarray(self.labels[indices]))
        return y.float() if self.kind == "multilabel" else y.long()

    def label_name(self, label) -> str:
        if self.kind == "multilabel":
            return ", ".join(n for n, v in zip(self.class_names, label) if v) or "none"
        return self.class_names[int(label)]

    def fingerprint(self) -> str:
        """Changes whenever the samples, labels, identities or base splits change."""
        h = hashlib.sha256(self.name.encode())
        for part in (self.sample_ids, self.identity_names, self.class_names):
            h.update("\x1f".join(part).encode())
        for array in (np.asarray(self.labels), self.identities, self.base_splits.astype(str)):
            h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class Scenario:
    """How a forget selection turns into splits. `kind`:
    - "identity": forget = all train photos of the chosen people; test = the other people's held-out photos;
      MIA non-members ("unseen") = the forgotten people's own held-out photos.
    - "samples": forget = chosen train photos; test and MIA non-members = the held-out test photos.
    - "benchmark": forget = a selection of train rows; test = the test split; non-members = the unseen split.
    """

    name: str
    kind: str
    description: str
    default_forget: str
    selections: tuple[str, ...]  # forget syntaxes accepted, e.g. ("people",) or ("photos",)


def recognition_scenarios(default_people: str, default_photos: str) -> dict[str, Scenario]:
    """The two scenarios of a face-recognition dataset (every person is a class, with train and test photos)."""
    return {
        "person": Scenario(
            "person", "identity",
            "Forget everything about chosen people: all their training photos. Utility is measured on the other "
            "people's test photos; the attack compares the forgotten training photos with the same people's unseen "
            "photos.", default_people, ("people",)),
        "photos": Scenario(
            "photos", "samples",
            "Forget chosen individual training photos; the people stay enrolled. The attack compares the forgotten "
            "photos with the test photos.", default_photos, ("photos",)),
    }
