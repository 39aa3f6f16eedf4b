"""scripts/recommend.py's rule on constructed benchmark rows, and mu_core.face_verdicts' signal (the official
logit-scaled confidence recovered from the stored loss)."""
from __future__ import annotations

import importlib.util

import numpy as np
import torch

from mu_core import evidence as E
from mu_core.face_verdicts import face_verdicts, signal_from_loss
from mu_core.results import ModelResult
from tests.appkit import ROOT

spec = importlib.util.spec_from_file_location("recommend", ROOT / "scripts" / "recommend.py")
recommend = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recommend)


def row(method: str, seed: int, forgotten: bool | None, failed: tuple[str, ...] = (), compute: float = 0.05,
        forget_quality: float | None = None) -> ModelResult:
    checks = [{"name": n, "pass": n not in failed} for n in ("recognition", "utility", "identity_features")]
    verdict = None if forgotten is None else {"forgotten": forgotten, "level": "bank", "checks": checks}
    return ModelResult(method, {}, seed, 1.0, compute, {"compute_ratio": compute, "forget_quality": forget_quality},
                       verdict=verdict)


def rows(*methods: tuple) -> list[ModelResult]:
    out = []
    for seed in (0, 1):
        out += [row("original", seed, False, ("recognition",), 1.25), row("retrained", seed, None, (), 1.0)]
        out += [row(name, seed, *values) for name, values in methods]
    return out


def test_the_cheapest_method_forgotten_on_every_seed_is_recommended():
    found = recommend.recommend(rows(("slow", (True, (), 0.5)), ("fast", (True, (), 0.02)),
                                     ("fails", (False, ("identity_features",), 0.01))))
    assert found["method"] == "fast" and found["passed"] == ["fast", "slow"] and found["closest"] is None


def test_a_method_forgotten_on_one_seed_only_is_not_recommended():
    data = rows(("a", (True, (), 0.02)))
    next(r for r in data if r.method == "a" and r.seed == 1).verdict["forgotten"] = False
    assert recommend.recommend(data)["method"] is None


def test_none_forgotten_names_the_closest_and_what_it_failed():
    found = recommend.recommend(rows(("head", (False, ("identity_features",), 0.03)),
                                     ("whole", (False, ("recognition", "identity_features"), 0.01))))
    assert found["method"] is None and found["closest"] == "head" and found["failed"] == ["identity_features"]


def test_among_equally_failing_methods_the_closest_has_the_highest_forgetting_quality_then_the_lowest_cost():
    found = recommend.recommend(rows(("cheap", (False, ("identity_features",), 0.01, 0.002)),
                                     ("nearer", (False, ("identity_features",), 0.05, 0.10)),
                                     ("nearer_dearer", (False, ("identity_features",), 0.08, 0.10))))
    assert found["closest"] == "nearer"


def test_rows_without_a_verdict_are_not_judged_and_never_recommended():
    found = recommend.recommend(rows(("old", (None, (), 0.01))))
    assert found["method"] is None and found["closest"] is None and found["level"] == "none"


def test_face_signal_from_the_loss_equals_the_official_one():
    logits = np.random.default_rng(0).normal(0, 3, (20, 5))
    targets = np.arange(20) % 5
    loss = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(targets), reduction="none").numpy()
    assert np.allclose(signal_from_loss(loss), E.logit_scaled_confidence(logits, targets))
    original, retrained = np.array([0.01, 0.01, 0.01]), np.array([3.0, 3.0, 3.0])
    assert face_verdicts(np.array([0.02, 2.9, 30.0]), retrained, original) == [E.REMEMBERED, E.INSIDE,
                                                                               E.OVER_FORGOTTEN]
