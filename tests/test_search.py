"""Tuning against the verdict (mu_core.search): the search space from the declarations and the user's
restrictions, the command that reruns a trial, and a tiny study (16 px, 1 epoch, banks of 2) run in this process,
whose records carry what the preset rule and the compute curve read."""
from __future__ import annotations

import json
import shlex

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from mu_core import bank as B
from mu_core import search, tuning
from mu_core.cli import build_parser, main
from mu_core.cli_tune import study_from
from mu_core.errors import MUError
from mu_core.methods import REGISTRY


def test_space_follows_the_declarations():
    space = search.search_space(REGISTRY["finetune"])
    assert space["lr"] == FloatDistribution(1e-5, 0.5, log=True)
    assert space["epochs"] == IntDistribution(1, 20)
    assert space["augment"] == CategoricalDistribution((False, True))
    assert space["retain_share"] == FloatDistribution(0.05, 1.0)
    assert set(space) == {h.name for h in REGISTRY["finetune"].hparams}
    assert "lr" not in search.search_space(REGISTRY["finetune"], fixed={"lr": 0.1})
    scrub = search.search_space(REGISTRY["scrub"])
    assert "lr_decay_epochs" not in scrub  # a list of whole numbers is fixed, not searched
    assert scrub["train_from"] == CategoricalDistribution(REGISTRY["scrub"].hparam("train_from").choices)


def test_space_restricted_by_the_user_and_checked_against_the_declarations():
    space = search.search_space(REGISTRY["neggrad"], {"lr": "0.001:0.1:log", "epochs": "1,3", "train_from": "fc"})
    assert space == {"lr": FloatDistribution(0.001, 0.1, log=True), "epochs": CategoricalDistribution((1, 3)),
                     "train_from": CategoricalDistribution(("fc",))}
    with pytest.raises(MUError, match="lr must be a number from 1e-05 to 0.5"):
        search.search_space(REGISTRY["neggrad"], {"lr": "0.001:9"})
    with pytest.raises(MUError, match="low end must be below"):
        search.search_space(REGISTRY["neggrad"], {"lr": "0.1:0.01"})
    with pytest.raises(MUError, match="log scale needs a low end above 0"):
        search.search_space(REGISTRY["finetune"], {"momentum": "0:0.9:log"})
    with pytest.raises(MUError, match="fix it with --fix"):
        search.search_space(REGISTRY["scrub"], {"lr_decay_epochs": ""})
    with pytest.raises(MUError, match="both searched"):
        search.search_space(REGISTRY["neggrad"], {"lr": ""}, {"lr": 0.1})


def test_a_study_refuses_the_reported_seeds():
    with pytest.raises(MUError, match="reported seeds"):
        search.Study("neggrad", seeds=(2, 100)).check()


def test_the_recorded_command_reruns_exactly_that_trial():
    study = search.Study("scrub", seeds=(100, 101), references=6, space=(("lr", ""),), epochs=2, image_size=16)
    hparams = {**study.base(), "lr": 0.0123, "train_from": "fc"}
    argv = shlex.split(study.command(hparams, "bf16"))[3:]
    args = build_parser().parse_args(argv)
    again = study_from(args)
    assert again.distributions() == {} and again.base() == hparams
    assert (again.seeds, again.references, again.epochs, again.image_size) == (study.seeds, 6, 2, 16)
    assert again.precision == "bf16"


def test_a_tiny_study_writes_one_record_per_trial_and_continues(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setattr(B, "connect", lambda address=None: (_ for _ in ()).throw(B.RayUnavailable("not here")))
    argv = ["tune", "--method", "neggrad", "--epochs", "1", "--image-size", "16", "--seeds", "100",
            "--references", "2", "--trials", "2", "--space", "lr=0.0001:0.01:log", "--fix", "train_from=fc",
            "--fix", "epochs=1", "--in-process", "--out", str(tmp_path / "trials")]
    assert main(argv) == 0
    path = tmp_path / "trials" / "orl-person" / "neggrad.jsonl"
    records = tuning.read_trials(path)
    assert [r["trial"] for r in records] == [0, 1]
    for r in records:
        assert 0.0001 <= r["params"]["lr"] <= 0.01 and r["hparams"]["train_from"] == "fc"
        assert r["hparams"] == {**REGISTRY["neggrad"].declared_defaults(), "train_from": "fc", "epochs": 1,
                                "lr": r["params"]["lr"]}
        (seed,) = r["per_seed"]
        assert seed["seed"] == 100 and 0 < seed["compute_ratio"] < 1 and seed["seconds"] > 0
        assert set(seed["checks"]) == set(search.CHECK_NAMES)
        assert seed["forgotten"] is not True  # a bank of 2 cannot decide membership
        assert r["n_models"] == 2 and "--fix lr=" in r["command"] and r["date"]
        assert f"--precision {r['recipe']['precision']}" in r["command"]
    assert "trial 1:" in capsys.readouterr().out
    assert main(argv[:argv.index("--trials") + 1] + ["1"] + argv[argv.index("--trials") + 2:]) == 0
    assert [r["trial"] for r in tuning.read_trials(path)] == [0, 1, 2]
    json.loads(path.read_text().splitlines()[-1])
