"""The one preset rule (mu_core.tuning.pick) on hand-made trial records, and the shipped presets file: it is what
the rule gives from the stored trial records, and the methods read it."""
from __future__ import annotations

import json

import pytest

from mu_core import tuning
from mu_core.methods import REGISTRY
from mu_core.methods.base import PRESETS_FILE, stored_presets
from mu_core.yardstick import BASELINE


def trial(number: int, ratios: list[float | None], forgotten: list[bool | None], fq: float = 0.5,
          method: str = "finetune", **hparams) -> dict:
    return {"trial": number, "method": method, "dataset": "orl", "scenario": "person",
            "hparams": {**REGISTRY[method].declared_defaults(), **hparams},
            "per_seed": [{"seed": 100 + i, "forgotten": f, "compute_ratio": r, "forget_quality": fq}
                         for i, (r, f) in enumerate(zip(ratios, forgotten))]}


def test_pick_takes_the_cheapest_trial_forgotten_on_every_seed():
    records = [trial(0, [0.01, 0.01], [True, False]),        # cheapest, but not forgotten on seed 101
               trial(1, [0.05, 0.20], [True, True]),         # its ratio is its largest: 0.20
               trial(2, [0.08, 0.09], [True, True]),         # picked
               trial(3, [0.02, 0.02], [True, None])]         # cannot tell on one seed: not forgotten everywhere
    assert tuning.pick(records)["trial"] == 2
    assert tuning.smallest_passing_ratio(records) == 0.09


def test_pick_breaks_ties_on_forget_quality_and_gives_none_when_nothing_forgets():
    records = [trial(0, [0.1], [True], fq=0.4), trial(1, [0.10000001], [True], fq=0.6), trial(2, [0.2], [True], 0.9)]
    assert tuning.pick(records)["trial"] == 1
    assert tuning.pick([trial(0, [0.1], [False]), trial(1, [0.1], [None])]) is None
    assert tuning.pick([]) is None and tuning.smallest_passing_ratio([]) is None


def test_preset_keeps_the_values_that_differ_from_the_declared_defaults():
    declared = REGISTRY["finetune"].declared_defaults()
    record = trial(0, [0.1], [True], lr=0.02, epochs=declared["epochs"])
    assert tuning.preset_values("finetune", record) == {"lr": 0.02}


def test_generate_replaces_studied_entries_keeps_the_others_and_drops_a_study_that_never_forgets(tmp_path):
    current = {"finetune": {"orl/person": {"values": {"lr": 0.3}, "source": "old"},
                            "orl/photos": {"values": {"lr": 0.2}, "source": "old"}},
               "neggrad": {"orl/person": {"values": {"lr": 0.1}, "source": "old"}}}
    folder = tmp_path / "orl-person"
    folder.mkdir()
    (folder / "finetune.jsonl").write_text("\n".join(json.dumps(r) for r in [
        trial(0, [0.3], [True], lr=0.05), trial(1, [0.1], [True], lr=0.01), trial(2, [0.01], [False])]) + "\n")
    (folder / "neggrad.jsonl").write_text(json.dumps(trial(0, [0.1], [False], method="neggrad")) + "\n")
    out = tuning.generate(tmp_path, current)
    assert out["finetune"]["orl/person"]["values"] == {"lr": 0.01}
    assert "trial 1" in out["finetune"]["orl/person"]["source"]
    assert out["finetune"]["orl/photos"] == current["finetune"]["orl/photos"]
    assert "neggrad" not in out  # studied, nothing forgot: declared defaults


def test_the_baseline_gets_no_preset_even_where_a_trial_forgets(tmp_path):
    """Retrained for the same compute is the yardstick: its budget is the compute it is compared at, not tuned."""
    folder = tmp_path / "orl-person"
    folder.mkdir()
    (folder / f"{BASELINE}.jsonl").write_text(json.dumps(trial(0, [0.99], [True], method=BASELINE, budget=0.99)) + "\n")
    assert tuning.generate(tmp_path, {}) == {}


def test_the_shipped_presets_are_what_the_rule_gives_from_the_stored_trial_records():
    shipped = json.loads(PRESETS_FILE.read_text())["presets"]
    assert tuning.generate(tuning.TRIALS_ROOT, shipped) == shipped
    studied = {(p.stem, p.parent.name) for p in tuning.TRIALS_ROOT.glob("*/*.jsonl")}
    for method, entries in shipped.items():
        for data, entry in entries.items():
            if (method, data.replace("/", "-")) in studied:
                assert entry["source"].startswith("docs/tuning/trials/")
            else:  # carried over from the earlier grid searches, whose tables stay in docs/tuning
                assert (PRESETS_FILE.parent.parent / entry["source"].split(":")[0]).exists()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_methods_read_their_presets_from_the_file(name):
    method = REGISTRY[name]
    stored = stored_presets().get(name, {})
    assert set(method.presets) == set(stored)
    for data, entry in stored.items():
        assert method.presets[data] == {k: method.hparam(k).validate(v) for k, v in entry["values"].items()}


def test_only_rows_run_at_the_current_settings_describe_a_method():
    from mu_core.results import ModelResult

    def row(method: str, hparams: dict) -> ModelResult:
        return ModelResult(method=method, hparams=hparams, seed=0, seconds=1.0, time_ratio=0.1, metrics={})

    scrub = REGISTRY["scrub"].defaults("orl", "person")
    changed = {**scrub, "lr": scrub["lr"] * 2}
    as_stored = json.loads(json.dumps(scrub))  # the lr decay epochs come back from JSON as a list
    rows = [row("original", {}), row("scrub", as_stored), row("gisa", {**REGISTRY["gisa"].defaults(), "epochs": 9})]
    kept, stale = tuning.at_current_settings(rows, "orl", "person")
    assert [r.method for r in kept] == ["original", "scrub"] and stale == ["gisa"]
    assert tuning.at_current_settings([row("scrub", changed)], "orl", "person") == ([], ["scrub"])
