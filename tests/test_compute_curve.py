""""Retrained for the same compute" (retrain_budget) stops at its step budget with its compute ratio at the budget;
the compute-vs-forgetting curve is drawn from trial records with that baseline in black."""
from __future__ import annotations

import pytest
import torch

from mu_core import pipeline
from mu_core.experiment import build_experiment
from mu_core.methods import REGISTRY
from mu_core.methods.retrain_budget import budget_steps
from mu_core.models import build_model
from mu_core.plots_compute import PANELS, compute_curve, frontier, share
from mu_core.run_spec import spec_for
from mu_core.training import fit, seed_everything
from mu_core.yardstick import BASELINE


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MU_CHECKPOINTS", str(tmp_path_factory.mktemp("checkpoints")))
        exp = build_experiment(seed=0, epochs=4, image_size=16, device="cpu")
        yield exp, pipeline.score_baselines(exp)


def test_retrain_budget_stops_at_its_steps_with_the_compute_ratio_of_its_budget(setup):
    exp, baselines = setup
    steps = budget_steps(len(exp.splits.retain), exp.recipe, 0.25)
    assert steps == 4  # 224 retain photos in batches of 64: 4 steps an epoch, 16 in the recipe's 4 epochs
    seen = []
    run = pipeline.run_method(exp, spec_for(exp, "retrain_budget", {"budget": 0.25}), baselines, seen.append)
    assert [p.step for p in seen] == [1, 2, 3, 4] and seen[-1].total == 4
    assert run.metrics["compute_ratio"] == pytest.approx(0.25, abs=0.01)
    full = pipeline.run_method(exp, spec_for(exp, "retrain_budget", {"budget": 1.0}), baselines)
    assert full.metrics["compute_ratio"] == pytest.approx(1.0, abs=0.02)
    assert run.metrics["forget_acc"] <= baselines["original"].metrics["forget_acc"]


def test_fit_compresses_the_schedule_into_the_step_budget(setup):
    exp, _ = setup
    x, y = exp.data("retain")
    lrs = []
    seed_everything(0)
    model = build_model(exp.dataset.num_classes)
    fit(model, x, y, exp.recipe, exp.dataset.kind, generator=torch.Generator().manual_seed(0),
        device=torch.device("cpu"), steps=6, progress=lambda p: lrs.append(p.step))
    assert lrs == [1, 2, 3, 4, 5, 6]  # 1.5 of the recipe's epochs, stopped mid-epoch


def record(trial: int, ratio: float, forgotten: list[bool], membership: list[bool]) -> dict:
    return {"trial": trial, "params": {"lr": 0.1}, "per_seed": [
        {"seed": 100 + i, "forgotten": f, "compute_ratio": ratio,
         "checks": {"recognition": True, "utility": True, "membership": m, "identity_features": f,
                    "over_forgetting": True}} for i, (f, m) in enumerate(zip(forgotten, membership))]}


def test_frontier_and_shares():
    assert frontier([(0.3, 0.5), (0.1, 0.0), (0.2, 1.0), (0.05, 0.5)]) == ([0.05, 0.2, 0.3], [0.5, 1.0, 1.0])
    assert frontier([]) == ([], [])
    r = record(0, 0.1, [True, False], [True, True])
    assert share(r, "forgotten") == 0.5 and share(r, "membership") == 1.0


def test_compute_curve_has_a_panel_per_check_and_the_baseline_dashed():
    records = {"neggrad": [record(0, 0.01, [False, False], [False, True]), record(1, 0.05, [True, True], [True, True])],
               BASELINE: [record(0, 0.1, [False, False], [False, False]), record(1, 0.5, [True, True], [True, True])]}
    fig = compute_curve(records, {BASELINE: "Retrained for the same compute"})
    assert [a.text for a in fig.layout.annotations] == list(PANELS.values())
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(fig.data) == 2 * 2 * len(PANELS)
    baseline = [t for t in lines if t.name == "Retrained for the same compute"]
    assert len(baseline) == len(PANELS) and all(t.line.dash == "dash" for t in baseline)
    first = next(t for t in fig.data if t.name == "neggrad" and t.mode == "markers")
    assert list(first.x) == [0.01, 0.05] and list(first.y) == [0.0, 1.0]
    axes = [fig.layout[name] for name in fig.layout if name.startswith("xaxis")]
    assert len(axes) == len(PANELS) and all(axis.type == "log" for axis in axes)  # top row too, not only the titled


def test_every_method_has_a_colour_of_its_own():
    records = {name: [record(0, 0.1, [False, False], [False, False])] for name in REGISTRY}
    fig = compute_curve(records)
    colours = {t.name: t.line.color for t in fig.data if t.mode == "lines"}
    assert len(colours) == len(REGISTRY) == len(set(colours.values()))
