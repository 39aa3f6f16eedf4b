"""scripts/recommend.py's rule on constructed benchmark rows, and mu_core.face_verdicts' signal (the official
logit-scaled confidence recovered from the stored loss)."""
from __future__ import annotations

import importlib.util

import numpy as np
import torch

from mu_core import evidence as E
from mu_core.face_verdicts import face_verdicts, signal_from_loss
from tests.appkit import ROOT

spec = importlib.util.spec_from_file_location("recommend", ROOT / "scripts" / "recommend.py")
recommend = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recommend)


def row(method: str, seed: int, forget: float, test: float, time_ratio: float, **hparams) -> dict:
    return {"method": method, "seed": seed, "time_ratio": time_ratio, "hparams": hparams,
            "metrics": {"forget_acc": forget, "unseen_acc": forget, "test_acc": test}}


def rows(*methods: tuple) -> list[dict]:
    out = []
    for seed in (0, 1):
        out += [row("original", seed, 1.0, 0.9, 1.0), row("retrained", seed, 0.0, 0.9, 1.0)]
        out += [row(name, seed, *values, **hparams) for name, values, hparams in methods]
    return out


def test_the_cheapest_method_passing_on_every_seed_is_recommended():
    found = recommend.recommend(rows(("finetune", (1.0, 0.9, 0.05), {}),
                                     ("slow", (0.0, 0.9, 0.5), {}),
                                     ("fast", (0.0, 0.9, 0.02), {}),
                                     ("head_only", (0.0, 0.9, 0.01), {"train_from": "fc"}),
                                     ("wrecks", (0.0, 0.5, 0.01), {})), identity=True)
    assert found["method"] == "fast" and found["passed"] == ["fast", "slow"]
    found = recommend.recommend(rows(("head_only", (0.0, 0.9, 0.01), {"train_from": "fc"})), identity=False)
    assert found["method"] == "head_only"  # people stay enrolled: their features are meant to know them


def test_a_stored_verdict_decides_and_none_passing_says_so():
    data = rows(("a", (0.0, 0.9, 0.02), {}))
    for r in data:
        if r["method"] == "a":
            r["verdict"] = {"forgotten": False}
    assert recommend.recommend(data, identity=True) == {"method": None, "cost": None, "passed": [], "seeds": [0, 1]}


def test_face_signal_from_the_loss_equals_the_official_one():
    logits = np.random.default_rng(0).normal(0, 3, (20, 5))
    targets = np.arange(20) % 5
    loss = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(targets), reduction="none").numpy()
    assert np.allclose(signal_from_loss(loss), E.logit_scaled_confidence(logits, targets))
    original, retrained = np.array([0.01, 0.01, 0.01]), np.array([3.0, 3.0, 3.0])
    assert face_verdicts(np.array([0.02, 2.9, 30.0]), retrained, original) == [E.REMEMBERED, E.INSIDE,
                                                                               E.OVER_FORGOTTEN]
