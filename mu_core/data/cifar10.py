"""CIFAR-10 from the standard python-format folder `cifar-10-batches-py` (data_batch_1..5, test_batch,
batches.meta), for random-sample forgetting. Each image counts as its own identity (there are no people).

The batches are Python pickles. They are read with an unpickler that accepts only numpy arrays and plain
Python values, so a tampered file cannot run code.
"""
from __future__ import annotations

import codecs
import pickle
from pathlib import Path

import numpy as np

from mu_core.data.base import TEST, TRAIN, Dataset, Scenario
from mu_core.data.files import ArrayImages, existing_dir
from mu_core.data.records import DataOptions, Records, prepare, records_dataset
from mu_core.errors import DataError
from mu_core.recipe import Recipe

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
LAYOUT = f"the folder {FOLDER} (or its parent) with data_batch_1..5 and test_batch"
CREDIT = "Images: CIFAR-10 (Krizhevsky, 2009)."

# Not a benchmark recipe (the CIFAR-10 demo had none): ResNet-18 from scratch at the native 32 px.
RECIPE = Recipe(epochs=30, batch_size=128, lr=0.1, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
                schedule="onecycle", image_size=32, augment="faces")

SCENARIO = Scenario(
    "random", "samples",
    "Forget a random 10% of the training images (drawn with a fixed seed); the attack compares them with the test "
    "images.", "random:10%", ("random", "photos", "first"))

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")


def load_batch(path: Path) -> dict:
    """One batch file as a dict (str keys), or a DataError naming the file."""
    try:
        with open(path, "rb") as f:
            batch = _ArraysOnly(f, encoding="latin1").load()
    except FileNotFoundError:
        raise DataError(f"{path.parent} is not the CIFAR-10 python layout: {path.name} is missing "
                        f"(expected {LAYOUT}).") from None
    except (OSError, EOFError, ValueError, pickle.UnpicklingError, AttributeError, TypeError) as e:
        raise DataError(f"Cannot read the CIFAR-10 batch {path}: {e}.") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path} is not a CIFAR-10 batch (no dictionary inside).")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _images(batch: dict, path: Path) -> tuple[np.ndarray, list[int]]:
    data, labels = batch.get("data"), batch.get("labels")
    if data is None or labels is None:
        missing = " and ".join(k for k in ("data", "labels") if batch.get(k) is None)
        raise DataError(f"{path} lacks the {missing} entr{'ies' if ' and ' in missing else 'y'} of a CIFAR-10 batch.")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise DataError(f"{path} does not hold N x 3072 uint8 images with N labels (got {data.shape}).")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), [int(v) for v in labels]


def cifar_root(folder: Path | None) -> Path:
    folder = existing_dir(folder, "CIFAR-10", LAYOUT)
    return folder / FOLDER if (folder / FOLDER).is_dir() else folder


def class_names(root: Path) -> list[str]:
    """Names from batches.meta when it is there, else the standard ten."""
    if not (root / "batches.meta").is_file():
        return CLASSES
    names = load_batch(root / "batches.meta").get("label_names")
    return [str(n) for n in names] if names is not None and len(names) == len(CLASSES) else CLASSES


def read_cifar10(folder: Path | None, options: DataOptions) -> Records:
    root = cifar_root(folder)
    arrays, ids, labels, splits, invalid = [], [], [], [], []
    for name, split in [(b, TRAIN) for b in TRAIN_BATCHES] + [(TEST_BATCH, TEST)]:
        images, batch_labels = _images(load_batch(root / name), root / name)
        for k, label in enumerate(batch_labels):
            if not 0 <= label < len(CLASSES):
                invalid.append(f"{name} image {k}: label {label} is not 0-9")
                continue
            arrays.append(images[k])
            ids.append(f"{name}/{k:05d}")
            labels.append(label)
            splits.append(split)
    stacked = np.stack(arrays) if arrays else np.zeros((0, 32, 32, 3), np.uint8)
    return Records(ids, labels, list(ids), splits, ArrayImages(stacked), invalid)


def cifar10_dataset(folder: Path | None, options: DataOptions) -> Dataset:
    records, report = prepare(read_cifar10(folder, options), options)
    return records_dataset(records, report, options, name="cifar10", title="CIFAR-10: 10 object classes",
                           kind="multiclass", class_names=class_names(cifar_root(folder)), recipe=RECIPE,
                           scenarios={"random": SCENARIO}, default_scenario="random", credit=CREDIT)
