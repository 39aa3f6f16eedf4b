"""Helpers for method tests: a small experiment (the first people of the built-in faces), a multi-label variant of
it, and running a method on a copy of an Original while checking that it reports exactly the steps it announced."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mu_core.experiment import Experiment, build_experiment
from mu_core.methods import UnlearnContext, get_method
from mu_core.models import clone
from mu_core.training import Tracker, seed_everything


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Checkpoints of one test module in a temporary folder, never the user's cache (import it as a fixture)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MU_CHECKPOINTS", str(tmp_path_factory.mktemp("checkpoints")))
        yield


def small_experiment(scenario: str = "person", people: int = 8, seed: int = 0) -> Experiment:
    """The scenario's default splits restricted to the first `people` people, trained for 2 epochs at 32 px. For
    person: forget = people 2 and 7 (14 photos), retain 42; for photos: forget 8 photos, retain 48."""
    full = build_experiment(scenario=scenario, seed=seed, epochs=2, image_size=32)
    ids, s = full.dataset.identities, full.splits
    keep = {name: getattr(s, name)[ids[getattr(s, name)] < people]
            for name in ("train", "forget", "retain", "test", "unseen")}
    return dataclasses.replace(full, splits=dataclasses.replace(s, **keep))


def with_attributes(exp: Experiment) -> Experiment:
    """The same faces as a multi-label task: three 0/1 attributes per person (bits of the person number)."""
    ds = exp.dataset
    attributes = ((ds.identities[:, None] >> np.arange(3)) & 1).astype(np.float32)
    return dataclasses.replace(exp, dataset=dataclasses.replace(
        ds, name=f"{ds.name}_attributes", kind="multilabel", class_names=["b0", "b1", "b2"], labels=attributes,
        _tensors=ds._tensors))


def new_context(exp: Experiment, original, progress=None) -> UnlearnContext:
    """What run_method gives a method: a trainable copy and a frozen eval-mode copy of `original`."""
    teacher = clone(original).eval().requires_grad_(False)
    return UnlearnContext(exp, clone(original).train(), teacher, seed_everything(exp.seed), Tracker(1, progress))


def run_checked(exp: Experiment, original, name: str, overrides: dict) -> tuple[UnlearnContext, list]:
    """Run method `name` with `overrides`; returns its context and every progress report."""
    seen: list = []
    method = get_method(name)
    ctx = new_context(exp, original, seen.append)
    method.apply(ctx, method.resolve(overrides))
    assert seen and seen[-1].step == seen[-1].total == ctx.tracker.total
    assert all(p.total == ctx.tracker.total for p in seen)
    return ctx, seen
