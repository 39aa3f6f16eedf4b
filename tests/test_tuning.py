"""The presets of the built-in faces are what the tuning rule picks from the recorded grid searches."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mu_core.cli import main
from mu_core.methods import REGISTRY
from mu_core.tuning import pick, preset_from_tables

TUNING = Path(__file__).resolve().parent.parent / "docs" / "tuning"


@pytest.mark.parametrize("scenario", ["person", "photos"])
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_presets_are_what_the_rule_picks_from_the_recorded_tables(name, scenario):
    method = REGISTRY[name]
    assert method.presets[f"orl/{scenario}"] == preset_from_tables(method, TUNING / f"orl-{scenario}")


def row(gap: float, nomus: float, seconds: float, a: int, seed: int = 100) -> dict:
    return {"gap": gap, "nomus": nomus, "seconds": seconds, "hparams": {"a": a}, "seed": seed}


UNREACHABLE = {100: 1.0, 101: 1.0}  # Retrained NoMUS by seed that puts no setting below on target


def test_pick_prefers_the_lowest_gap_in_budget_then_nomus_and_falls_back_to_near_fastest():
    rows = [row(0.10, 0.8, 7.0, 1), row(0.1005, 0.9, 7.5, 2), row(0.01, 0.9, 9.0, 3)]
    # within 8 s; a tie on gap goes to the higher NoMUS
    assert pick(rows, UNREACHABLE, budget=8.0)["hparams"] == {"a": 2}
    assert pick(rows, UNREACHABLE, budget=7.0)["hparams"] == {"a": 1}
    slow = [row(0.2, 0.8, 10.0, 1), row(0.1, 0.8, 12.0, 2), row(0.0, 0.8, 13.0, 3)]
    # nothing in budget: within 1.25 x the fastest 10 s
    assert pick(slow, UNREACHABLE, budget=8.0)["hparams"] == {"a": 2}


def test_pick_averages_over_seeds_among_the_settings_run_on_the_most_of_them():
    rows = [row(0.00, 0.9, 5.0, 1),  # seed 100 only: out, however good
            row(0.02, 0.9, 5.0, 2), row(0.10, 0.9, 7.0, 2, seed=101),  # mean 0.06
            row(0.06, 0.9, 5.0, 3), row(0.05, 0.9, 5.0, 3, seed=101),  # mean 0.055: picked
            row(0.01, 0.9, 5.0, 4), row(0.03, 0.9, 5.0, 4)]  # twice on seed 100 counts once (its first row)
    assert pick(rows, UNREACHABLE, budget=8.0)["hparams"] == {"a": 3}
    rows[3]["seconds"] = 7.5  # a setting's seconds are those of its slowest seed
    assert pick(rows, UNREACHABLE, budget=7.0)["hparams"] == {"a": 2}


def test_pick_prefers_the_settings_on_target_and_else_takes_the_lowest_gap():
    retrained = {100: 0.9, 101: 0.8}  # the bar is their mean minus 0.02: 0.83
    rows = [row(0.01, 0.80, 5.0, 1), row(0.01, 0.80, 5.0, 1, seed=101),  # the lowest gap, NoMUS under the bar
            row(0.04, 0.84, 5.0, 2), row(0.04, 0.84, 5.0, 2, seed=101),  # on target: picked
            row(0.05, 0.95, 5.0, 3), row(0.07, 0.95, 5.0, 3, seed=101)]  # mean gap 0.06: over 0.05
    assert pick(rows, retrained)["hparams"] == {"a": 2}
    rows[2]["nomus"] = rows[3]["nomus"] = 0.82
    assert pick(rows, retrained)["hparams"] == {"a": 1}


def test_tune_grids_start_from_the_declared_defaults_not_the_preset(tiny_baselines, tmp_path, capsys):
    """A tuning table must not depend on the presets of the day: NegGrad's person preset (SGD momentum 0.9) is not
    used for the keys the grid leaves alone."""
    method = REGISTRY["neggrad"]
    assert method.presets["orl/person"]["momentum"] != method.hparam("momentum").default
    out = tmp_path / "tune.json"
    assert main(["tune", "--method", "neggrad", "--seed", "0", "--epochs", "2", "--image-size", "32",
                 "--grid", "lr=0.002,0.003", "--json", str(out)]) == 0
    capsys.readouterr()
    rows = json.loads(out.read_text())["rows"][2:]
    declared = method.declared_defaults()
    assert sorted(r["hparams"]["lr"] for r in rows) == [0.002, 0.003]
    assert all(r["hparams"] == {**declared, "lr": r["hparams"]["lr"]} for r in rows)


def test_tune_rejects_a_bad_grid_value_before_training_the_baselines(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path / "checkpoints"))
    assert main(["tune", "--method", "neggrad", "--seed", "7", "--grid", "lr=0.001,9"]) != 0
    assert "lr must be a number from 1e-05 to 0.5, got '9'" in capsys.readouterr().err
    assert not any((tmp_path / "checkpoints").rglob("*.safetensors"))
