"""Relearn time: steps of fine-tuning on the forget set until the Original's recognition is back."""
from __future__ import annotations

import copy

import pytest
import torch

from mu_core import relearn as R
from mu_core.data.transforms import to_float


@pytest.fixture(scope="module")
def forget(tiny_exp):
    return tiny_exp.data("forget")


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _fresh(model):
    fresh = copy.deepcopy(model)
    torch.manual_seed(1)
    for module in fresh.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return fresh


@pytest.fixture(scope="module")
def memorised(tiny_baselines, forget, tiny_exp):
    """A copy of the tiny Original fitted on the forget set until it recognises every photo."""
    model = copy.deepcopy(tiny_baselines["original"].model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = (t.to(tiny_exp.device) for t in forget)
    for _ in range(300):
        if R._forget_accuracy(model, x, y, tiny_exp.dataset.kind) == 1.0:
            return model
        model.train()
        loss = torch.nn.functional.cross_entropy(model(to_float(x)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    raise AssertionError("the tiny model did not memorise the forget set")


def test_a_model_that_recognises_the_forget_set_relearns_in_zero_steps(tiny_exp, memorised, forget):
    got = R.relearn_steps(memorised, *forget, tiny_exp.recipe, tiny_exp.dataset.kind, R.TARGET_SHARE,
                          tiny_exp.device)
    assert got == R.Relearn(0, False, R.TARGET_SHARE)


def test_an_untrained_model_takes_more_steps_than_a_trained_one_and_is_never_mutated(tiny_exp, memorised, forget):
    fresh = _fresh(memorised)
    before = _state(fresh)
    args = (tiny_exp.recipe, tiny_exp.dataset.kind, 1.0, tiny_exp.device)
    trained, untrained = R.relearn_steps(memorised, *forget, *args), R.relearn_steps(fresh, *forget, *args)
    assert untrained.steps > trained.steps and not untrained.capped
    after = _state(fresh)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_the_cap_is_reported_as_such(tiny_exp, tiny_baselines, forget):
    fresh = _fresh(tiny_baselines["original"].model)
    got = R.relearn_steps(fresh, *forget, tiny_exp.recipe, tiny_exp.dataset.kind, 1.01, tiny_exp.device,
                          max_steps=3)
    assert got.steps == 3 and got.capped


def test_relearn_metrics_compare_with_the_retrained_model(tiny_exp, tiny_baselines, memorised):
    m = R.relearn_metrics(tiny_exp, memorised, tiny_baselines["retrained"].model, 1.0)
    assert m["relearn_steps"] == 0 and not m["relearn_capped"] and m["relearn_retrained_steps"] > 0
    assert m["relearn_ratio"] == pytest.approx(0.01 / (m["relearn_retrained_steps"] + 0.01))
    assert R.relearn_ratio(3, 3) == 1.0 and R.relearn_ratio(0, 9) < 0.01


def test_unlearn_relearn_flag_prints_and_writes_relearn_time(tmp_path, monkeypatch, capsys):
    import json

    from mu_core.cli import main
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path / "ck"))
    monkeypatch.setenv("MU_RUNS", str(tmp_path / "runs"))
    out = tmp_path / "run.json"
    assert main(["unlearn", "--method", "finetune", "--forget", "people:s5", "--epochs", "1", "--image-size", "16",
                 "--set", "epochs=1", "--relearn", "--json", str(out)]) == 0
    assert "relearn time:" in capsys.readouterr().out
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["relearn_steps"] >= 0 and metrics["relearn_retrained_steps"] >= 0
    assert metrics["relearn_ratio"] == pytest.approx((metrics["relearn_steps"] + 0.01)
                                                     / (metrics["relearn_retrained_steps"] + 0.01))
