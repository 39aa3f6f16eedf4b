"""MUCAC (Machine Unlearning for Celebrity Attribute Classifier, Choi & Na 2023): CelebA-HQ faces with the
benchmark's identity-range splits, as a multi-label task (Male, Smiling, Young; BCE; accuracy = the mean of the
per-attribute accuracies; the MIA signal is the BCE averaged over the attributes) or a binary task on one attribute
(two logits, cross-entropy). Any CelebA attribute can be chosen; the benchmark uses these three.
"""
from __future__ import annotations

from pathlib import Path

from mu_core.data.base import TEST, TRAIN, UNSEEN, Dataset, Scenario
from mu_core.data.files import FileImages, existing_dir, find_child, read_text_lines
from mu_core.data.records import DataOptions, Records, prepare, records_dataset
from mu_core.errors import DataError
from mu_core.recipe import Recipe

BENCHMARK_ATTRIBUTES = ("Male", "Smiling", "Young")  # the multi-label head's logit order [gender, smiling, young]
TEST_BELOW, FORGET_BELOW, UNSEEN_FROM = 190, 1250, 4855  # identity thresholds of the benchmark's splits
IMAGE_DIRS = ("CelebAMask-HQ/CelebA-HQ-img", "CelebA-HQ-img")
IDENTITY_FILES = ("CelebA-HQ-identity.txt", "CelebAMask-HQ/CelebA-HQ-identity.txt")
ATTRIBUTE_FILES = ("CelebA-HQ-attribute.txt", "CelebAMask-HQ/CelebA-HQ-attribute.txt",
                   "CelebAMask-HQ-attribute-anno.txt", "CelebAMask-HQ/CelebAMask-HQ-attribute-anno.txt")
LAYOUT = ("a folder holding CelebAMask-HQ/CelebA-HQ-img/<n>.jpg (the 30,000 CelebA-HQ images), "
          "CelebA-HQ-identity.txt (lines '<file> <identity>') and CelebA-HQ-attribute.txt (CelebA format)")
CREDIT = "Images: CelebA-HQ (Karras et al. 2018) from CelebA (Liu et al. 2015), as split for MUCAC (Choi & Na, 2023)."

# The benchmark's recipes (ndb796/MachineUnlearning, 02_MUCAC Base_Models notebooks).
MULTILABEL_RECIPE = Recipe(epochs=8, batch_size=64, lr=0.01, optimizer="sgd", momentum=0.0, weight_decay=0.0,
                           schedule="constant", image_size=128, augment="benchmark")
BINARY_RECIPE = Recipe(epochs=10, batch_size=64, lr=0.01, optimizer="sgd", momentum=0.9, weight_decay=0.0,
                       schedule="constant", image_size=128, augment="benchmark")

SCENARIO = Scenario(
    "benchmark", "benchmark",
    f"The benchmark's identity-range split: identities {TEST_BELOW}-{FORGET_BELOW - 1} are forgotten (about 39% of "
    f"training), {FORGET_BELOW}-{UNSEEN_FROM - 1} retained; utility is measured on identities below {TEST_BELOW}; "
    f"the attack compares the forgotten images with identities {UNSEEN_FROM} and above.",
    f"people:{TEST_BELOW}-{FORGET_BELOW - 1}", ("people", "photos", "first", "random"))


def identity_split(identity: int) -> str:
    if identity < TEST_BELOW:
        return TEST
    return UNSEEN if identity >= UNSEEN_FROM else TRAIN


def _read_attributes(path: Path) -> tuple[list[str], dict[str, list[int]], list[str]]:
    """CelebA attribute file: an optional count line, the attribute names, then '<file> v1 ... vK' with -1/1."""
    lines = read_text_lines(path)
    if lines and lines[0].strip().isdigit():
        lines = lines[1:]
    if not lines:
        raise DataError(f"{path} has no attribute names line (expected the CelebA attribute format).")
    names, rows, invalid = lines[0].split(), {}, []
    for line in lines[1:]:
        tokens = line.split()
        values = [1 if t == "1" else 0 if t in ("-1", "0") else None for t in tokens[1:]]
        if len(values) != len(names) or None in values:
            invalid.append(f"{path.name}: line {line[:40]!r} does not hold {len(names)} values of -1/1")
            continue
        rows[tokens[0]] = values
    return names, rows, invalid


def _chosen(names: list[str], wanted: tuple[str, ...], path: Path) -> list[int]:
    """Column numbers of the wanted attributes (matched without regard to case)."""
    lookup = {n.lower(): i for i, n in enumerate(names)}
    unknown = [a for a in wanted if a.lower() not in lookup]
    if unknown:
        raise DataError(f"No attribute {', '.join(map(repr, unknown))} in {path.name}; the attributes are: "
                        f"{', '.join(names)}.")
    return [lookup[a.lower()] for a in wanted]


def _read(folder: Path | None, options: DataOptions) -> tuple[Records, list[str]]:
    """One row per line of the identity file that has an attribute line, in identity-file order; and the chosen
    attributes' names as the attribute file spells them."""
    folder = existing_dir(folder, "MUCAC", LAYOUT)
    images = find_child(folder, IMAGE_DIRS, "the CelebA-HQ image folder", LAYOUT)
    identity_file = find_child(folder, IDENTITY_FILES, "the identity file", LAYOUT)
    attribute_file = find_child(folder, ATTRIBUTE_FILES, "the attribute file", LAYOUT)
    names, attributes, invalid = _read_attributes(attribute_file)
    columns = _chosen(names, options.attributes or BENCHMARK_ATTRIBUTES, attribute_file)
    ids, labels, identities, splits, paths = [], [], [], [], []
    for n, line in enumerate(read_text_lines(identity_file), start=1):
        tokens = line.split()
        if len(tokens) != 2 or not tokens[1].isdigit():
            if n > 1:  # a first line that does not parse is a header
                invalid.append(f"{identity_file.name} line {n}: {line[:40]!r} is not '<file> <identity>'")
            continue
        file, identity = tokens[0], int(tokens[1])
        if file not in attributes:
            invalid.append(f"{file}: no line in {attribute_file.name}")
            continue
        values = [attributes[file][c] for c in columns]
        ids.append(file)
        labels.append(tuple(values) if len(columns) > 1 else values[0])
        identities.append(str(identity))
        splits.append(identity_split(identity))
        paths.append(images / file)
    records = Records(ids, labels, identities, splits, FileImages(paths), invalid)
    return records, [names[c] for c in columns]


def read_mucac(folder: Path | None, options: DataOptions) -> Records:
    return _read(folder, options)[0]


def mucac_dataset(folder: Path | None, options: DataOptions) -> Dataset:
    """Multi-label on the chosen attributes (default: the benchmark's three), or binary when one is chosen."""
    records, attributes = _read(folder, options)
    records, report = prepare(records, options)
    if len(attributes) == 1:
        name, title, kind = f"mucac-{attributes[0].lower()}", f"MUCAC binary: {attributes[0]} (CelebA-HQ)", "binary"
        class_names, recipe = [f"not {attributes[0]}", attributes[0]], BINARY_RECIPE
    else:
        custom = tuple(attributes) != BENCHMARK_ATTRIBUTES
        name = "mucac" + ("-" + "-".join(a.lower() for a in attributes) if custom else "")
        title, kind = f"MUCAC multi-label: {', '.join(attributes)} (CelebA-HQ)", "multilabel"
        class_names, recipe = list(attributes), MULTILABEL_RECIPE
    return records_dataset(records, report, options, name=name, title=title, kind=kind, class_names=class_names,
                           recipe=recipe, scenarios={"benchmark": SCENARIO}, default_scenario="benchmark",
                           credit=CREDIT)
