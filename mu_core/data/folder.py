"""A generic face folder: one subfolder of photos per person (a face-recognition task, like the built-in faces),
or a CSV with the columns image_path, label, identity (and optionally split: train, test or unseen).

Without a split column: when every label is the person (recognition), each person's last 30% of photos (in name
order) are test photos; otherwise (a label such as age or expression) the people are split identity-disjointly
60/20/20 into train, test and unseen (see records.identity_disjoint_splits).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from mu_core.data.base import TEST, TRAIN, UNSEEN, Dataset, Scenario, recognition_scenarios
from mu_core.data.files import FileImages, existing_dir, list_images, natural_key, read_csv, relative_file
from mu_core.data.orl import RECIPE
from mu_core.data.records import (DataOptions, Records, evenly_spaced, identity_disjoint_splits, prepare,
                                  records_dataset)
from mu_core.data.roots import escapes_roots
from mu_core.errors import DataError

COLUMNS = ("image_path", "label", "identity")
SPLITS = (TRAIN, TEST, UNSEEN)
TEST_SHARE = 0.3
LAYOUT = ("a folder with one subfolder of photos per person, or a CSV file (or a folder holding exactly one) with "
          "the columns image_path, label, identity and optionally split (train/test/unseen); image paths are "
          "relative to the CSV's folder")


def _csv_file(path: Path) -> Path | None:
    if path.is_file():  # existing_dir let only a .csv file through
        return path
    found = sorted(path.glob("*.csv"))
    if len(found) > 1:
        raise DataError(f"{path} holds several CSV files ({', '.join(p.name for p in found)}); give the one to use "
                        "as the data path.")
    return found[0] if found else None


def _rows(path: Path) -> tuple[list[dict], Path, list[str], bool]:
    """Rows {file, id, label, identity[, split]}, the listing's path, the rows skipped and whether splits are given."""
    csv_path = _csv_file(path)
    if csv_path is None:
        folders = sorted((p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")),
                         key=lambda p: natural_key(p.name))
        outside = [p for p in folders if escapes_roots(p)]
        skipped = [f"{p.name} links outside the allowed data roots; it was not read" for p in outside]
        people = [p for p in folders if p not in outside]
        rows = [{"file": f, "id": f"{p.name}/{f.name}", "label": p.name, "identity": p.name}
                for p in people for f in list_images(p)]
        if not rows:
            raise DataError(f"{path} has no subfolders with photos and no CSV file (expected {LAYOUT})"
                            + (f"; {len(outside)} subfolder(s) link outside the allowed data roots." if outside
                               else "."))
        return rows, path, skipped, False
    table = read_csv(csv_path, COLUMNS)
    has_split = bool(table) and "split" in table[0]
    rows, invalid = [], []
    for line, row in enumerate(table, start=2):
        file = relative_file(csv_path.parent, row["image_path"])
        split = row.get("split", TRAIN).lower()
        if file is None or not row["label"] or not row["identity"] or split not in SPLITS:
            invalid.append(f"{csv_path.name} line {line}: needs an image_path inside {csv_path.parent}, a label, "
                           f"an identity and a split among {', '.join(SPLITS)}")
            continue
        rows.append({"file": file, "id": row["image_path"], "label": row["label"], "identity": row["identity"],
                     "split": split})
    if not rows:
        raise DataError(f"{csv_path} lists no usable image ({invalid[0] if invalid else 'it has no rows'}).")
    return rows, csv_path, invalid, has_split


class _Listing(NamedTuple):
    records: Records
    class_names: list[str]
    source: Path
    recognition: bool  # every label is the person: a face-recognition task


def _read(folder: Path | None) -> _Listing:
    """The rows with their base splits (see the module's docstring) and class names."""
    rows, source, invalid, has_split = _rows(existing_dir(folder, "face folder", LAYOUT, csv_ok=True))
    recognition = all(r["label"] == r["identity"] for r in rows)
    if not has_split and recognition:
        for person in {r["identity"] for r in rows}:
            mine = sorted((r for r in rows if r["identity"] == person), key=lambda r: natural_key(r["id"]))
            n_test = min(len(mine) - 1, max(1, round(len(mine) * TEST_SHARE)))
            for k, row in enumerate(mine):
                row["split"] = TEST if k >= len(mine) - n_test else TRAIN
    elif not has_split:
        by_person = identity_disjoint_splits([r["identity"] for r in rows])
        for row in rows:
            row["split"] = by_person[row["identity"]]
    class_names = sorted({r["label"] for r in rows}, key=natural_key)
    label = {name: k for k, name in enumerate(class_names)}
    records = Records([r["id"] for r in rows], [label[r["label"]] for r in rows], [r["identity"] for r in rows],
                      [r["split"] for r in rows], FileImages([r["file"] for r in rows]), invalid)
    return _Listing(records, class_names, source, recognition)


def read_folder(folder: Path | None, options: DataOptions) -> Records:
    return _read(folder).records


def _spec(kind: str, names: list[str], every: list[str]) -> str:
    """A forget selection naming `names`, by index where a name would not survive the comma syntax."""
    return f"{kind}:" + ",".join(n if "," not in n else str(every.index(n)) for n in names)


def folder_dataset(folder: Path | None, options: DataOptions) -> Dataset:
    listing = _read(folder)
    records, report = prepare(listing.records, options)
    people = sorted(set(records.identities), key=natural_key)
    if listing.recognition:
        with_test = records.identities_in(TEST)
        first_photo = {}
        for i, (p, s) in enumerate(zip(records.identities, records.splits)):
            if s == TRAIN:
                first_photo.setdefault(p, i)
        scenarios = recognition_scenarios(_spec("people", evenly_spaced(with_test or people, 0.2), people),
                                          "photos:" + ",".join(str(i) for i in first_photo.values()))
        default = "person"
    elif UNSEEN in records.splits:
        train_people = records.identities_in(TRAIN)
        scenarios = {"benchmark": Scenario(
            "benchmark", "benchmark",
            "Forget chosen people (all their training photos). Utility is measured on the test people, the attack "
            "compares the forgotten photos with the unseen people.",
            _spec("people", evenly_spaced(train_people, 0.1), people), ("people", "photos", "first", "random"))}
        default = "benchmark"
    else:
        scenarios = {"photos": Scenario(
            "photos", "samples",
            "Forget chosen training photos (default: a random 10%); the attack compares them with the test photos.",
            "random:10%", ("photos", "people", "random", "first"))}
        default = "photos"
    kind = "binary" if len(listing.class_names) == 2 else "multiclass"
    return records_dataset(records, report, options, name="folder", title=f"Face folder: {listing.source.name}",
                           kind=kind, class_names=listing.class_names, recipe=RECIPE, scenarios=scenarios,
                           default_scenario=default)
