"""Properties every registered method must have, on tiny data: it changes the weights, leaves the Original
untouched, is reproducible for a seed, stops on cancel and stops with a clear error on divergence."""
from __future__ import annotations

import threading

import pytest
import torch

from mu_core import pipeline
from mu_core.errors import Cancelled, Diverged
from mu_core.methods import REGISTRY, get_method
from mu_core.models import TOP_DOWN_BLOCKS, weights_sha256
from mu_core.run_spec import spec_for
from tests.methodkit import checkpoints, small_experiment  # noqa: F401  (checkpoints is a fixture)

NAMES = sorted(REGISTRY)
TRAIN_FROM = [name for name in NAMES if "train_from" in REGISTRY[name].declared_defaults()]


@pytest.fixture(scope="module")
def setup(checkpoints):  # noqa: F811
    exp = small_experiment()
    return exp, pipeline.score_baselines(exp)


@pytest.mark.parametrize("name", NAMES)
def test_method_changes_weights_keeps_original_and_is_reproducible(setup, name):
    exp, baselines = setup
    before = weights_sha256(baselines["original"].model)
    first = pipeline.run_method(exp, spec_for(exp, name, {}), baselines)
    second = pipeline.run_method(exp, spec_for(exp, name, {}), baselines)
    assert weights_sha256(baselines["original"].model) == before
    assert weights_sha256(first.model) != before
    assert weights_sha256(first.model) == weights_sha256(second.model)
    assert first.result.method == name and first.result.seconds > 0
    assert set(first.result.hparams) == {h.name for h in get_method(name).hparams}


@pytest.mark.parametrize("name", NAMES)
def test_method_stops_on_cancel(setup, name):
    exp, baselines = setup
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        cancel.set()

    with pytest.raises(Cancelled):
        pipeline.run_method(exp, spec_for(exp, name, {}), baselines, progress, cancel)
    assert len(seen) == 1


@pytest.mark.parametrize("name", NAMES)
def test_method_stops_with_clear_error_on_divergence(setup, name, monkeypatch):
    exp, baselines = setup
    before = weights_sha256(baselines["original"].model)
    copies = []
    real_clone = pipeline.clone

    def poisoned_clone(model):
        copy = real_clone(model)
        if not copies:  # the trainable copy: its outputs become NaN, as in a diverged run
            copy.fc.register_forward_hook(lambda module, inputs, output: output * float("nan"))
        copies.append(copy)
        return copy

    monkeypatch.setattr(pipeline, "clone", poisoned_clone)
    with pytest.raises(Diverged, match="Nothing was stored|nothing was stored"):
        pipeline.run_method(exp, spec_for(exp, name, {}), baselines)
    assert weights_sha256(baselines["original"].model) == before


@pytest.mark.parametrize("first", ["fc", "layer4"])
@pytest.mark.parametrize("name", TRAIN_FROM)
def test_train_from_changes_only_that_block_and_those_above(setup, name, first):
    """Weights and BatchNorm statistics below the block stay as they were; the block and those above it move."""
    exp, baselines = setup
    before = baselines["original"].model.state_dict()
    overrides = {"train_from": first, **({"epochs": 2} if "epochs" in REGISTRY[name].declared_defaults() else {})}
    after = pipeline.run_method(exp, spec_for(exp, name, overrides), baselines).model.state_dict()
    moved = {key.split(".")[0] for key in before if not torch.equal(before[key], after[key])}
    assert first in moved and moved <= set(TOP_DOWN_BLOCKS[:TOP_DOWN_BLOCKS.index(first) + 1])

