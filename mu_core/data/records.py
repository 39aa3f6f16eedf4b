"""What every bring-your-own source shares: the rows it lists (`Records`), the load options (`DataOptions`), the
deterministic subset by identity, the hygiene pass and the assembly into a `Dataset`."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from mu_core.data.base import TEST, TRAIN, UNSEEN, Dataset, Scenario
from mu_core.data.files import ImageSource, natural_key
from mu_core.data.hygiene import HygieneReport, cross_split_duplicates, later_copies, scan_images
from mu_core.errors import DataError
from mu_core.recipe import Recipe
from mu_core.task import TaskKind


@dataclass(frozen=True)
class DataOptions:
    """How to load a bring-your-own source.
    subset: keep this share (0-1] of the identities (families for MUFAC), chosen evenly in name order, so the
      splits stay identity-disjoint; for quick runs on a CPU.
    drop_duplicates: drop images that repeat (exactly or nearly) an image of an earlier split.
    attributes: MUCAC attributes to predict (one = the binary task, several = multi-label)."""

    subset: float | None = None
    drop_duplicates: bool = False
    attributes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.subset is not None and not 0 < self.subset <= 1:
            raise DataError(f"--subset is the share of identities to keep, above 0 and at most 1; got {self.subset}.")

    def is_default(self) -> bool:
        return self == DataOptions()


def identity_group(name: str) -> str:
    """The family of a "family/person" identity name (the name itself when it has no family)."""
    return name.split("/", 1)[0]


@dataclass
class Records:
    """The rows a source lists, before any image is opened. Identity names may be "family/person"."""

    sample_ids: list[str]
    labels: list                 # an int per sample, or a tuple of 0/1 per sample for multi-label
    identities: list[str]
    splits: list[str]            # TRAIN, TEST or UNSEEN
    images: ImageSource
    invalid: list[str] = field(default_factory=list)  # rows the reader skipped, each with why

    def __len__(self) -> int:
        return len(self.sample_ids)

    def take(self, indices: Sequence[int]) -> "Records":
        return Records([self.sample_ids[i] for i in indices], [self.labels[i] for i in indices],
                       [self.identities[i] for i in indices], [self.splits[i] for i in indices],
                       self.images.take(indices), list(self.invalid))

    def identities_in(self, split: str) -> list[str]:
        """The identity names with samples in `split`, in natural order."""
        return sorted({p for p, s in zip(self.identities, self.splits) if s == split}, key=natural_key)

    def summary(self) -> dict:
        """Counts for a quick check of a data folder (no image is decoded)."""
        return {"rows": len(self), "splits": dict(Counter(self.splits)),
                "identities": len(set(self.identities)), "skipped_rows": len(self.invalid),
                "missing_files": self.images.count_missing()}


def subset_by_identity(records: Records, fraction: float) -> Records:
    """Keep every identity group whose position j (natural name order) satisfies floor((j+1)f) > floor(jf):
    an evenly spread, deterministic share f of the groups, whole groups only."""
    groups = sorted({identity_group(n) for n in records.identities}, key=natural_key)
    keep = {g for j, g in enumerate(groups) if math.floor((j + 1) * fraction) > math.floor(j * fraction)}
    rows = [i for i, name in enumerate(records.identities) if identity_group(name) in keep]
    if not rows:
        raise DataError(f"--subset {fraction:g} keeps none of the {len(groups)} identities; use a larger share.")
    return records.take(rows)


def prepare(records: Records, options: DataOptions) -> tuple[Records, HygieneReport]:
    """Subset, then open every image once: drop repeated rows and missing or unreadable images (counted), find
    duplicates across splits and drop them when asked."""
    if options.subset:
        records = subset_by_identity(records, options.subset)
    seen: set[str] = set()
    unique = []
    invalid = list(records.invalid)
    for i, sid in enumerate(records.sample_ids):
        if sid in seen:
            invalid.append(f"{sid} is listed twice")
        else:
            seen.add(sid)
            unique.append(i)
    records = records.take(unique)
    scan = scan_images(records.images)
    failed = set(scan.missing) | {i for i, _ in scan.unreadable}
    report = HygieneReport(listed=len(records), missing=[records.sample_ids[i] for i in scan.missing],
                           unreadable=[message for _, message in scan.unreadable], invalid=invalid)
    good = [i for i in range(len(records)) if i not in failed]
    if not good:
        raise DataError(f"None of the {len(records)} images listed could be read (for example "
                        f"{records.sample_ids[0] if len(records) else 'none listed'}): is the data folder right?")
    records = records.take(good)
    digests, phashes = [scan.digests[i] for i in good], scan.phashes[good]
    report.duplicates = cross_split_duplicates(records.sample_ids, records.splits, digests, phashes)
    if options.drop_duplicates and report.duplicates:
        drop = later_copies(report.duplicates)
        keep = [i for i, sid in enumerate(records.sample_ids) if sid not in drop]
        report.dropped_duplicates = sorted(drop, key=natural_key)
        records, digests, phashes = records.take(keep), [digests[i] for i in keep], phashes[keep]
    report.digests, report.phashes = digests, phashes
    if TRAIN not in records.splits:
        raise DataError("No training images are left after dropping the unusable ones.")
    return records, report


def records_dataset(records: Records, report: HygieneReport, options: DataOptions, *, name: str, title: str,
                    kind: TaskKind, class_names: list[str], recipe: Recipe, scenarios: dict[str, Scenario],
                    default_scenario: str, credit: str = "") -> Dataset:
    """The cleaned rows as a Dataset; identities are numbered in natural name order."""
    identity_names = sorted(set(records.identities), key=natural_key)
    position = {n: i for i, n in enumerate(identity_names)}
    if options.subset and options.subset < 1:
        title += f" [subset: {options.subset:g} of the identities]"
    return Dataset(
        name=name, title=title, kind=kind, class_names=list(class_names), sample_ids=list(records.sample_ids),
        labels=np.asarray(records.labels, dtype=np.int64),
        identities=np.array([position[n] for n in records.identities], dtype=np.int64),
        identity_names=identity_names, base_splits=np.asarray(records.splits),
        load_image=records.images, load_scaled=records.images.scaled, recipe=recipe, scenarios=scenarios,
        default_scenario=default_scenario, credit=credit, notes=report.notes(), hygiene=report)


def evenly_spaced(names: Sequence[str], share: float) -> list[str]:
    """About `share` of `names` (at least one), spread evenly through them."""
    count = max(1, round(len(names) * share))
    return [names[int(k * len(names) / count)] for k in range(count)]



def identity_disjoint_splits(identities: Sequence[str]) -> dict[str, str]:
    """Each identity's base split: in natural name order, positions 2 and 4 of every five go to test and unseen,
    the rest to train (60/20/20, spread evenly, no person in two splits)."""
    names = sorted(set(identities), key=natural_key)
    if len(names) < 5:
        raise DataError(f"An identity-disjoint split needs at least 5 people; this data has {len(names)}.")
    return {n: {2: TEST, 4: UNSEEN}.get(j % 5, TRAIN) for j, n in enumerate(names)}
