"""The verdict's logic on constructed evaluations (each check able to pass and to fail), and a real tiny run's
result carrying a JSON-clean verdict."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np

from mu_core.evaluation import Evaluation, SplitOutputs
from mu_core.verdict import BankEvidence, bank_verdict, basic_verdict

CLASSES = 10
# 2 forgotten people (ids 0, 1) with 7 training and 3 unseen photos each; 8 others with test and retain photos.
SIZES = {"forget": 14, "unseen": 6, "test": 40, "retain": 80}
IDS = np.r_[np.repeat([0, 1], 7), np.repeat([0, 1], 3), np.repeat(np.arange(2, 10), 5), np.repeat(np.arange(2, 10), 10)]
DS = SimpleNamespace(identities=IDS, scenarios={"person": SimpleNamespace(kind="identity"),
                                                "photos": SimpleNamespace(kind="samples")})
COST = {"compute_ratio": 0.05, "time_ratio": 0.04}


def make_eval(forget_right: int = 0, unseen_right: int = 0, test_acc: float = 0.9, retain_acc: float = 1.0,
              forget_margin: float = -6.0, tight: bool = False, seed: int = 0, jitter: float = 0.3) -> Evaluation:
    """An evaluation whose forget photos get `forget_right` correct, whose true-class logit on the forget set sits
    at `forget_margin` (plus seeded jitter), and whose features cluster the forgotten people tightly or not."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(CLASSES, 32))
    splits, start = {}, 0
    for name, n in SIZES.items():
        idx = np.arange(start, start + n)
        start += n
        labels = IDS[idx]
        right = {"forget": forget_right, "unseen": unseen_right, "test": round(test_acc * n),
                 "retain": round(retain_acc * n)}[name]
        correct = np.r_[np.ones(right), np.zeros(n - right)]
        logits = rng.normal(scale=0.1, size=(n, CLASSES))
        wrong = (labels + 1) % CLASSES
        logits[np.arange(n), wrong] = 2.0
        logits[np.arange(n), labels] = np.where(correct == 1, 4.0, 0.0)
        if name == "forget":
            logits[np.arange(n), labels] = forget_margin + jitter * rng.normal(size=n)
            logits[correct == 1, labels[correct == 1]] = 4.0
        z = logits - logits.max(axis=1, keepdims=True)
        loss = -(z[np.arange(n), labels] - np.log(np.exp(z).sum(axis=1)))
        noise = 0.05 if (tight and name in ("forget", "unseen")) else 3.0
        features = (centres[labels] + noise * rng.normal(size=(n, 32))).astype(np.float32)
        splits[name] = SplitOutputs(indices=idx, labels=labels, logits=logits, loss=loss, confidence=loss * 0,
                                    entropy=loss * 0, pred=logits.argmax(axis=1), correct=correct,
                                    features=features)
    return Evaluation(splits)


ORIGINAL = make_eval(forget_right=14, unseen_right=6, forget_margin=8.0, tight=True, seed=1)
RETRAINED = make_eval(seed=2)


def checks(verdict) -> dict:
    return {c.name: c.passed for c in verdict.checks}


def test_a_model_like_retrained_passes_every_basic_check_but_membership_stays_open():
    v = basic_verdict(ORIGINAL, RETRAINED, make_eval(seed=3), DS, "person", COST)
    assert checks(v) == {"recognition": True, "utility": True, "membership": None, "identity_features": True,
                         "over_forgetting": True, "cost": None}
    assert v.forgotten is None and v.level == "basic" and v.n_models == 1
    assert "Cannot tell" in v.summary and "reference bank of 16" in v.check("membership").text


def test_the_original_fails_recognition_and_identity():
    v = basic_verdict(ORIGINAL, RETRAINED, ORIGINAL, DS, "person", COST)
    assert checks(v)["recognition"] is False and checks(v)["identity_features"] is False
    assert v.forgotten is False and v.summary.startswith("Not forgotten")
    assert "recognised in 14 of 14 (Original 14 of 14; Retrained 0 of 14" in v.check("recognition").text


def test_a_head_only_change_fails_the_identity_check_alone():
    head_only = make_eval(tight=True, seed=4)
    assert checks(basic_verdict(ORIGINAL, RETRAINED, head_only, DS, "person", COST)) == {
        "recognition": True, "utility": True, "membership": None, "identity_features": False,
        "over_forgetting": True, "cost": None}


def test_utility_and_over_forgetting_can_fail():
    v = basic_verdict(ORIGINAL, RETRAINED, make_eval(test_acc=0.4, retain_acc=0.5, seed=5), DS, "person", COST)
    assert checks(v)["utility"] is False and v.forgotten is False
    v = basic_verdict(ORIGINAL, RETRAINED, make_eval(forget_margin=-60.0, seed=6), DS, "person", COST)
    assert checks(v)["over_forgetting"] is False and "over-forgotten" in v.check("over_forgetting").text


def test_identity_does_not_apply_in_the_photos_scenario_and_cost_never_decides():
    v = basic_verdict(ORIGINAL, RETRAINED, make_eval(tight=True, seed=7), DS, "photos", {"compute_ratio": 50.0})
    identity = v.check("identity_features")
    assert identity.passed is None and identity.text.startswith("Not applicable")
    assert checks(v)["recognition"] is True and v.forgotten is None  # membership still open, identity does not block
    assert "5000.0% of the compute" in v.check("cost").text


def bank(n: int, unlearned_margin: float, deterministic: bool = False) -> BankEvidence:
    retrained = [make_eval(seed=100 + k) for k in range(n)]
    unlearned = [make_eval(forget_margin=unlearned_margin, seed=200 + (0 if deterministic else k), jitter=0.3)
                 for k in range(n)]
    return BankEvidence(retrained, unlearned)


def test_bank_membership_passes_for_a_retrained_like_method_and_everything_is_forgotten():
    v = bank_verdict(ORIGINAL, RETRAINED, make_eval(seed=3), DS, "person", COST, bank(8, -6.0))
    assert checks(v) == {"recognition": True, "utility": True, "membership": True, "identity_features": True,
                         "over_forgetting": True, "cost": None}
    assert v.forgotten is True and v.level == "bank" and v.n_models == 8 and v.summary.startswith("Forgotten")
    value = v.check("membership").value
    assert value["n_models"] == 8 and value["epsilon_ceiling"] == 2 and value["forget_quality"] > 0
    # at N = 8 even Retrained against Retrained scores low: the floor, not 1, is what a method can reach
    assert 0 < v.check("membership").floor < 0.5 and value["forget_quality_half"] >= v.check("membership").floor


def test_bank_membership_fails_when_the_confidence_stays_apart():
    v = bank_verdict(ORIGINAL, RETRAINED, make_eval(seed=3), DS, "person", COST, bank(8, 2.0))
    assert checks(v)["membership"] is False and v.forgotten is False
    assert v.check("membership").value["forget_quality"] == 0 and v.check("membership").value["remembered"] == 14


def test_a_deterministic_method_gets_the_cap_and_fails_membership():
    v = bank_verdict(ORIGINAL, RETRAINED, make_eval(seed=3), DS, "person", COST, bank(8, -6.0, deterministic=True))
    assert checks(v)["membership"] is False and "peaky" in v.check("membership").text


def test_a_bank_too_small_for_a_noise_floor_cannot_tell():
    v = bank_verdict(ORIGINAL, RETRAINED, make_eval(seed=3), DS, "person", COST, bank(3, -6.0))
    assert checks(v)["membership"] is None and v.forgotten is None and "at least 6" in v.check("membership").text


def test_the_verdict_is_strict_json():
    v = basic_verdict(ORIGINAL, RETRAINED, make_eval(seed=3), DS, "person", {"compute_ratio": None,
                                                                             "time_ratio": float("nan")})
    payload = json.loads(json.dumps(v.to_dict(), allow_nan=False))
    assert set(payload) == {"forgotten", "level", "n_models", "checks", "summary"}
    assert [c["name"] for c in payload["checks"]] == ["recognition", "utility", "membership", "identity_features",
                                                      "over_forgetting", "cost"]
    assert all(set(c) == {"name", "pass", "value", "reference", "floor", "text"} for c in payload["checks"])


def test_a_real_run_carries_its_verdict_and_new_metrics(tiny_exp, tiny_baselines):
    from mu_core.pipeline import audit_record, run_method
    from mu_core.run_spec import spec_for
    scored = run_method(tiny_exp, spec_for(tiny_exp, "finetune", {"epochs": 1}), tiny_baselines)
    result = json.loads(json.dumps(scored.result.to_dict(), allow_nan=False))
    assert result["verdict"]["level"] == "basic" and result["verdict"]["forgotten"] in (None, False)
    assert result["metrics"]["compute_ratio"] > 0 and result["metrics"]["identity_n_genuine"] > 0
    assert tiny_baselines["original"].result.verdict["checks"][0]["name"] == "recognition"
    assert audit_record(tiny_exp, scored, tiny_baselines["original"].model, "r")["verdict"] == result["verdict"]


def test_bank_metrics_under_registry_keys():
    from mu_core.metric_registry import REGISTRY
    from mu_core.verdict import bank_metrics
    near, far = bank_metrics(bank(8, -6.0)), bank_metrics(bank(8, 2.0))
    assert near["forget_quality"] > far["forget_quality"] == 0 and near["klom_forget"] < far["klom_forget"]
    assert near["forget_quality_n_models"] == 8 and near["epsilon_ceiling"] == 2 and near["klom_bins"] == 6
    assert near["forget_quality_floor"] > 0 and near["klom_forget_floor"] >= 0
    assert all(k in REGISTRY for k in near if not k.endswith(("_n_models", "_bins")))
    assert bank_metrics(bank(3, -6.0))["forget_quality_floor"] is None
