"""MUFAC (Machine Unlearning for Facial Age Classifier, Choi & Na 2023): Korean family faces, 8 age classes.

The archive's names are swapped: the "val" CSV is the benchmark's test set and the "test" CSV is its unseen set
(the MIA non-members). The three CSVs are disjoint by family. The benchmark forgets the first 1,500 rows of the
training CSV, which is ordered by family (in effect the first ~45 households; the last one may be split).
"""
from __future__ import annotations

from pathlib import Path

from mu_core.data.base import TEST, TRAIN, UNSEEN, Dataset, Scenario
from mu_core.data.files import FileImages, existing_dir, read_csv, relative_file
from mu_core.data.records import DataOptions, Records, prepare, records_dataset
from mu_core.errors import DataError
from mu_core.recipe import Recipe

FOLDER = "custom_korean_family_dataset_resolution_128"
# (CSV, image folder, base split): the swapped naming of the archive, resolved here once.
PARTS = (("custom_train_dataset.csv", "train_images", TRAIN),
         ("custom_val_dataset.csv", "val_images", TEST),
         ("custom_test_dataset.csv", "test_images", UNSEEN))
COLUMNS = ("family_id", "person_id", "age_class", "image_path")
AGE_RANGES = ["0-6", "7-12", "13-19", "20-30", "31-45", "46-55", "56-66", "67-80"]  # age_class a..h
BENCHMARK_FORGET = 1500
LAYOUT = (f"the folder {FOLDER} (or its parent) holding custom_train_dataset.csv, custom_val_dataset.csv, "
          "custom_test_dataset.csv and the folders train_images/, val_images/, test_images/")
CREDIT = "Images: AI-Hub Family Relationship Dataset, cropped to 128 px for MUFAC (Choi & Na, 2023)."

# The benchmark's Original/Retrained recipe (ndb796/MachineUnlearning, 01_MUFAC Base_Models notebook).
RECIPE = Recipe(epochs=30, batch_size=64, lr=0.01, optimizer="sgd", momentum=0.9, weight_decay=0.0,
                schedule="step", milestones=(10, 20), gamma=0.1, image_size=128, augment="benchmark")


def mufac_root(folder: Path | None) -> Path:
    """The MUFAC folder (given directly or as the parent), after checking that every CSV and image folder exists."""
    folder = existing_dir(folder, "MUFAC", LAYOUT)
    root = folder / FOLDER if (folder / FOLDER).is_dir() else folder
    for csv_name, images, _ in PARTS:
        for name in (csv_name, images):
            if not (root / name).exists():
                raise DataError(f"{root} is not the MUFAC layout: {name} is missing (expected {LAYOUT}).")
    return root


def age_label(value: str) -> int | None:
    """age_class "a".."h" (or "0".."7") -> 0..7."""
    value = value.strip().lower()
    if len(value) == 1 and "a" <= value <= "h":
        return ord(value) - ord("a")
    return int(value) if value.isdigit() and int(value) < len(AGE_RANGES) else None


def read_mufac(folder: Path | None, options: DataOptions) -> Records:
    """The rows of the three CSVs, train first, each in file order. Identities are "family/person"."""
    root = mufac_root(folder)
    ids, labels, identities, splits, paths, invalid = [], [], [], [], [], []
    for csv_name, images, split in PARTS:
        for line, row in enumerate(read_csv(root / csv_name, COLUMNS), start=2):
            label, path = age_label(row["age_class"]), relative_file(root / images, row["image_path"])
            if label is None or path is None or not row["family_id"] or not row["person_id"]:
                invalid.append(f"{csv_name} line {line}: family_id {row['family_id']!r}, person_id "
                               f"{row['person_id']!r}, age_class {row['age_class']!r}, image_path "
                               f"{row['image_path']!r} (age_class must be a-h; image_path a file in {images}/)")
                continue
            ids.append(f"{images}/{row['image_path']}")
            labels.append(label)
            identities.append(f"{row['family_id']}/{row['person_id']}")
            splits.append(split)
            paths.append(path)
    return Records(ids, labels, identities, splits, FileImages(paths), invalid)


def mufac_dataset(folder: Path | None, options: DataOptions) -> Dataset:
    records = read_mufac(folder, options)
    benchmark_forget = set(records.sample_ids[:BENCHMARK_FORGET])
    records, report = prepare(records, options)
    # The benchmark's forget rows that survived cleaning (and the subset) are a prefix of the training rows; when
    # they are all of it (a partial download), forget the same share as the benchmark instead (1,500 / 10,025).
    first = sum(1 for sid, split in zip(records.sample_ids, records.splits)
                if split == TRAIN and sid in benchmark_forget)
    default = f"first:{first}" if 0 < first < records.splits.count(TRAIN) else "first:15%"
    scenario = Scenario(
        "benchmark", "benchmark",
        f"The benchmark's forget set: the first {BENCHMARK_FORGET:,} rows of the training CSV (ordered by family, "
        "so about the first 45 households). Utility is measured on the test families (the archive's \"val\" CSV); "
        "the attack compares the forgotten images with the unseen families (the archive's \"test\" CSV). "
        "Forget a family with people:F0001 or one person with people:F0001/D instead.",
        default, ("first", "people", "photos", "random"))
    return records_dataset(records, report, options, name="mufac", title="MUFAC: Korean family faces, 8 age classes",
                           kind="multiclass", class_names=AGE_RANGES, recipe=RECIPE,
                           scenarios={"benchmark": scenario}, default_scenario="benchmark", credit=CREDIT)
