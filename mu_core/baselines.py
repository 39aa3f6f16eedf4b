"""The Original (trained on train) and Retrained (same recipe on retain only) models, trained once and cached as
checkpoints keyed by the experiment's fingerprint. A cached file that is corrupt (unreadable, not a JSON object, a
field missing, weights not matching their hash) or belongs to something else is never used: the model is retrained
and a note says why. A checkpoint folder that cannot be written is reported before any training starts."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch.nn as nn

from mu_core.compute import training_flops
from mu_core.errors import CheckpointError
from mu_core.evaluation import Evaluation, evaluate, model_metrics, scalar_metrics
from mu_core.experiment import Experiment
from mu_core.models import build_model, check_writable, load_checkpoint, read_meta, save_checkpoint
from mu_core.training import CancelFlag, ProgressFn, fit, seed_everything

BASELINES = ("original", "retrained")


@dataclass
class Baseline:
    name: str
    model: nn.Module
    meta: dict
    cached: bool
    notes: list[str] = field(default_factory=list)
    evaluation: Evaluation | None = None  # kept when the model was just trained, so it is evaluated once
    metrics: dict | None = None           # model_metrics of that evaluation, so they are computed once too

    @property
    def seconds(self) -> float:
        return float(self.meta["seconds"])


def is_cached(exp: Experiment, name: str) -> bool:
    """True when a checkpoint with this experiment's exact fingerprint exists (its weights are checked on load)."""
    try:
        meta = read_meta(exp.checkpoint_stem(name))
    except CheckpointError:
        return False
    return meta is not None and meta.get("fingerprint") == exp.fingerprint(name)


def get_baseline(exp: Experiment, name: str, progress: ProgressFn | None = None,
                 cancel: CancelFlag | None = None) -> Baseline:
    """Load the cached `name` model ("original" or "retrained") or train it (and cache it)."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}")
    stem, expected = exp.checkpoint_stem(name), exp.fingerprint(name)
    model, notes = build_model(exp.dataset.num_classes), []
    try:
        meta = read_meta(stem)
        if meta is not None and meta.get("fingerprint") != expected:
            notes.append(f"The checkpoint {stem.name} was made for another dataset or forget set; retraining.")
        elif meta is not None:
            load_checkpoint(stem, model)
            return Baseline(name, model.to(exp.device).eval(), meta, cached=True)
    except CheckpointError as e:
        notes.append(f"{e} Retraining.")
    check_writable(stem.parent)  # before minutes of training, not after
    if name == "original" and exp.original is not None:
        return _import(exp, notes)
    return _train(exp, name, progress, cancel, notes)


def _train(exp: Experiment, name: str, progress, cancel, notes: list[str]) -> Baseline:
    split = "train" if name == "original" else "retain"
    generator = seed_everything(exp.seed)
    model = build_model(exp.dataset.num_classes)
    x, y = exp.data(split)
    started = time.perf_counter()
    fit(model, x, y, exp.recipe, exp.dataset.kind, generator=generator, device=exp.device, progress=progress,
        cancel=cancel, stage=f"Training {name.capitalize()}")
    seconds = time.perf_counter() - started
    return _store(exp, name, model, seconds, split, notes, {"flops": _recipe_flops(exp, split)})


def _recipe_flops(exp: Experiment, split: str) -> int:
    return training_flops(exp.recipe, len(getattr(exp.splits, split)), exp.dataset.num_classes, exp.dataset.kind)


def baseline_flops(exp: Experiment, baseline: Baseline) -> int | None:
    """FLOPs of training a baseline: stored in its checkpoint, or counted from the recipe for a checkpoint stored
    before FLOPs were counted; None for an imported Original (its training is unknown)."""
    if "flops" in baseline.meta:
        return int(baseline.meta["flops"])
    if baseline.name == "original" and exp.original is not None:
        return None
    return _recipe_flops(exp, baseline.meta.get("trained_on", "train" if baseline.name == "original" else "retain"))


def _import(exp: Experiment, notes: list[str]) -> Baseline:
    """The published checkpoint as the Original, stored once as a safetensors checkpoint (its `seconds` are the
    import's, not a training time)."""
    started = time.perf_counter()
    model = exp.original.load_into(build_model(exp.dataset.num_classes))
    return _store(exp, "original", model, time.perf_counter() - started, "train", notes, exp.original.describe())


def _store(exp: Experiment, name: str, model: nn.Module, seconds: float, split: str, notes: list[str],
           extra: dict | None = None) -> Baseline:
    model.to(exp.device).eval()
    ev = evaluate(model, exp.dataset, exp.splits, exp.device, exp.image_size)
    metrics = model_metrics(ev, exp.dataset)
    meta = {"fingerprint": exp.fingerprint(name), "dataset": exp.dataset.name, "seed": exp.seed,
            "recipe": exp.recipe.to_dict(), "trained_on": split, "n_train": len(getattr(exp.splits, split)),
            "seconds": seconds, "device": str(exp.device), "forget": exp.splits.forget_spec,
            "metrics": scalar_metrics(metrics),
            **(extra or {})}
    save_checkpoint(exp.checkpoint_stem(name), model, meta)
    return Baseline(name, model, meta, cached=False, notes=notes, evaluation=ev, metrics=metrics)
