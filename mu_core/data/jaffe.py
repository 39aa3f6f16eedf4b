"""JAFFE (Japanese Female Facial Expression): 213 grey photos of 10 women, 7 expressions read from the file names
(KA.AN1.39.tiff: person KA, expression AN).

Two splits:
- "identity" (default, dataset `jaffe`): identity-disjoint (6 women train, 2 test, 2 unseen), so forgetting a
  woman is a real identity-unlearning test;
- "piufr" (dataset `jaffe-piufr`): the PIU-FR paper's image-level split (stratified by expression: 70% train,
  then 25% / 75% of the rest as test / unseen; forget = the first 24 training images). It is NOT
  identity-disjoint: the same 10 women appear in train, test and unseen, so the attack's "non-members" are photos
  of people the model was trained on. It is there to compare with the paper's numbers.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mu_core.data.base import TEST, TRAIN, UNSEEN, Dataset, Scenario
from mu_core.data.files import FileImages, existing_dir, list_images
from mu_core.data.records import (DataOptions, Records, evenly_spaced, identity_disjoint_splits, prepare,
                                  records_dataset)
from mu_core.errors import DataError
from mu_core.recipe import Recipe

EXPRESSIONS = {"AN": "angry", "DI": "disgusted", "FE": "fearful", "HA": "happy", "NE": "neutral", "SA": "sad",
               "SU": "surprised"}
NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})\d*\.\d+\.[a-z]+$", re.IGNORECASE)
PIUFR_FORGET = 24
LAYOUT = "the JAFFE folder (e.g. jaffedbase/) holding the 213 files named like KA.AN1.39.tiff"
CREDIT = "Images: JAFFE (Lyons, Kamachi & Gyoba, 1998), for non-commercial research use."

# PIU-FR's JAFFE recipe: SGD lr 0.01, momentum 0.9, 100 epochs, batch 8, 128 px.
RECIPE = Recipe(epochs=100, batch_size=8, lr=0.01, optimizer="sgd", momentum=0.9, weight_decay=0.0,
                schedule="constant", image_size=128, augment="benchmark")


def _files(folder: Path) -> list[Path]:
    """Image files in the folder, or else in its subfolders (archives unpack into jaffedbase/ or jaffe/)."""
    found = list_images(folder)
    if not found:
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            found += list_images(sub)
    return found


def read_jaffe(folder: Path | None, options: DataOptions, split: str = "identity") -> Records:
    """Every JAFFE-named image with its base split ("identity" or "piufr", see the module's docstring)."""
    folder = existing_dir(folder, "JAFFE", LAYOUT)
    ids, labels, identities, paths, invalid = [], [], [], [], []
    codes = list(EXPRESSIONS)
    for path in _files(folder):
        match = NAME.match(path.name)
        if not match or match.group(2).upper() not in EXPRESSIONS:
            invalid.append(f"{path.name} does not follow the JAFFE naming PERSON.EXPRESSION<n>.<n>.tiff "
                           f"with an expression among {', '.join(codes)}")
            continue
        ids.append(path.name)
        labels.append(codes.index(match.group(2).upper()))
        identities.append(match.group(1).upper())
        paths.append(path)
    if not ids:
        raise DataError(f"No JAFFE images in {folder} (expected {LAYOUT}).")
    records = Records(ids, labels, identities, [TRAIN] * len(ids), FileImages(paths), invalid)
    if split == "piufr":
        order, splits = piufr_order(labels)
        records = records.take(order)
        records.splits = splits
    else:
        by_person = identity_disjoint_splits(identities)
        records.splits = [by_person[p] for p in identities]
    return records


def piufr_order(labels: list[int]) -> tuple[list[int], list[str]]:
    """PIU-FR's image-level split (sklearn stratified splits, random_state 42): the row order train, test, unseen
    and each row's split. sklearn is imported here, when a JAFFE folder is read, not whenever datasets are."""
    from sklearn.model_selection import train_test_split

    rows, y = np.arange(len(labels)), np.asarray(labels)
    try:
        train, rest = train_test_split(rows, test_size=0.3, stratify=y, random_state=42)
        test, unseen = train_test_split(rest, test_size=0.75, stratify=y[rest], random_state=42)
    except ValueError as e:
        raise DataError(f"Too few photos per expression for the PIU-FR split ({e}).") from None
    order = [*train, *test, *unseen]
    return [int(i) for i in order], [TRAIN] * len(train) + [TEST] * len(test) + [UNSEEN] * len(unseen)


def jaffe_dataset(folder: Path | None, options: DataOptions, split: str = "identity") -> Dataset:
    records, report = prepare(read_jaffe(folder, options, split), options)
    if split == "piufr":
        scenario = Scenario(
            "benchmark", "benchmark",
            f"PIU-FR's setting: forget the first {PIUFR_FORGET} training images (image level). Not an identity "
            "test: the attack's non-members are unseen photos of the same women.",
            f"first:{PIUFR_FORGET}", ("first", "photos", "people", "random"))
        name, title = "jaffe-piufr", "JAFFE: 7 expressions, PIU-FR image-level split"
    else:
        train_people = records.identities_in(TRAIN)
        scenario = Scenario(
            "benchmark", "benchmark",
            "Forget chosen women (all their training photos). Utility is measured on two other women, the attack "
            "compares the forgotten photos with two women never trained on.",
            "people:" + ",".join(evenly_spaced(train_people, 0.1)), ("people", "photos", "first", "random"))
        name, title = "jaffe", "JAFFE: 7 expressions, identity-disjoint split"
    return records_dataset(records, report, options, name=name, title=title, kind="multiclass",
                           class_names=list(EXPRESSIONS.values()), recipe=RECIPE,
                           scenarios={"benchmark": scenario}, default_scenario="benchmark", credit=CREDIT)
