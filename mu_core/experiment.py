"""An experiment = a dataset, a scenario with its forget set, a seed and a training recipe; everything the
engine computes (baselines, unlearning runs, evaluations) is keyed by it."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mu_core.checkpoint_import import ImportedCheckpoint, import_checkpoint
from mu_core.data import DataOptions, Dataset, Splits, load_dataset, make_splits
from mu_core.errors import MUError
from mu_core.recipe import Recipe
from mu_core.training import default_device, resolve_precision

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit


def check_seed(seed: object, what: str = "--seed") -> int:
    """A seed as an int in 0..MAX_SEED, else MUError naming the range."""
    text = str(seed).strip()
    if isinstance(seed, bool) or not (isinstance(seed, int) or (text.isascii() and text.isdigit())) \
            or not 0 <= int(text) <= MAX_SEED:
        raise MUError(f"{what} must be a whole number from 0 to {MAX_SEED}, got {text[:40]!r}.")
    return int(text)


def check_device(text: str | None, what: str = "--device") -> torch.device:
    """The torch device named by `text` (cpu, cuda, cuda:N, mps), or the default; MUError when it does not exist."""
    if text is None or not str(text).strip():
        return default_device()
    text = str(text).strip()
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise MUError(f"{what} must be cpu or cuda (or cuda:N), got {text[:40]!r}.") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise MUError(f"{what} asks for {text}, but no CUDA device is available here; use cpu.")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise MUError(f"{what} asks for {text}, but this machine has {torch.cuda.device_count()} CUDA "
                          "device(s), numbered from 0.")
    elif device.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise MUError(f"{what} asks for mps, which is not available here; use cpu.")
    elif device.type != "cpu":
        raise MUError(f"{what} must be cpu or cuda (or cuda:N), got {text[:40]!r}.")
    return device


def checkpoint_root() -> Path:
    """Where trained weights live: $MU_CHECKPOINTS, else checkpoints/ in the repository."""
    return Path(os.environ.get("MU_CHECKPOINTS", REPO_ROOT / "checkpoints"))


@dataclass
class Experiment:
    dataset: Dataset
    splits: Splits
    seed: int
    recipe: Recipe
    device: torch.device
    checkpoint_dir: Path
    original: ImportedCheckpoint | None = None  # a published checkpoint used as the Original instead of training

    @property
    def image_size(self) -> int:
        return self.recipe.image_size

    def data(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images (N, 3, S, S) and labels of a split ("train", "forget", "retain", "test", "unseen")."""
        idx = getattr(self.splits, split)
        return self.dataset.images(self.image_size)[torch.from_numpy(idx)], self.dataset.label_tensor(idx)

    def fingerprint(self, model: str) -> dict:
        """What a cached model depends on. Original: dataset, train split, seed, recipe (or the imported file);
        Retrained: also the forget set."""
        fp = {"model": model, "dataset": self.dataset.name, "dataset_fingerprint": self.dataset.fingerprint()}
        if model == "original" and self.original is not None:
            return {**fp, "imported_sha256": self.original.sha256}  # an imported Original: its file only
        fp.update(train_split=_hash(self.splits.train), seed=self.seed, recipe=self.recipe.to_dict())
        if model == "retrained":
            fp.update(scenario=self.splits.scenario, forget_fingerprint=self.splits.fingerprint(),
                      forget=self.splits.forget_spec)
        return json.loads(json.dumps(fp))  # the form it takes in a checkpoint's JSON (tuples become lists)

    def original_source(self) -> dict:
        """Which Original the experiment's results compare with (recorded in every result)."""
        if self.original is not None:
            return self.original.describe()
        return {"trained": self.checkpoint_stem("original").name}

    def checkpoint_stem(self, model: str) -> Path:
        key = hashlib.sha256(json.dumps(self.fingerprint(model), sort_keys=True).encode()).hexdigest()[:16]
        return self.checkpoint_dir / self.dataset.name / f"{model}-seed{self.seed}-{key}"


def _hash(indices: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest()[:16]


def build_experiment(dataset: str = "orl", scenario: str | None = None, forget_spec: str | None = None, seed: int = 0,
                     epochs: int | None = None, image_size: int | None = None, data_dir: str | None = None,
                     device: str | None = None, data_options: DataOptions | None = None,
                     original: str | Path | None = None, precision: str | None = None) -> Experiment:
    """Resolve user choices into an Experiment; every bad choice raises a MUError with a clear message.
    `original` is a published `.pth` to use as the Original model (checked against the dataset right away);
    `precision` is fp32, bf16 or auto (None: the dataset recipe's, fp32)."""
    seed, torch_device = check_seed(seed), check_device(device)
    ds = load_dataset(dataset, data_dir, data_options)
    splits = make_splits(ds, scenario, forget_spec)
    recipe = ds.recipe.with_overrides(epochs=epochs, image_size=image_size,
                                      precision=resolve_precision(precision, torch_device))
    imported = import_checkpoint(original, ds) if original else None
    return Experiment(ds, splits, seed, recipe, torch_device, checkpoint_root(), imported)
