"""Original/Retrained caching: reuse, corrupt files, foreign fingerprints, interruption."""
import json
import threading

import pytest
import torch

from mu_core.baselines import get_baseline, is_cached
from mu_core.errors import Cancelled
from mu_core.experiment import build_experiment
from mu_core.models import weights_sha256
from tests.conftest import TINY


def test_baselines_are_cached_and_reloaded_identically(tiny_exp, tiny_baselines):
    assert is_cached(tiny_exp, "original") and is_cached(tiny_exp, "retrained")
    again = get_baseline(tiny_exp, "original")
    assert again.cached and weights_sha256(again.model) == weights_sha256(tiny_baselines["original"].model)
    meta = json.loads(tiny_exp.checkpoint_stem("retrained").with_suffix(".json").read_text())
    assert meta["fingerprint"]["forget"] == tiny_exp.splits.forget_spec and meta["trained_on"] == "retain"
    assert meta["n_train"] == 224 and meta["seconds"] > 0 and "test_acc" in meta["metrics"]


def test_training_is_deterministic_for_a_seed(tiny_exp, tmp_path, monkeypatch):
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path))
    exp = build_experiment(seed=0, device=str(tiny_exp.device), **TINY)
    fresh = get_baseline(exp, "original")
    assert not fresh.cached
    assert weights_sha256(fresh.model) == get_baseline(tiny_exp, "original").meta["weights_sha256"]


def test_corrupt_checkpoint_is_never_used(tmp_path, monkeypatch):
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path))
    exp = build_experiment(seed=3, device="cpu", epochs=1, image_size=32)
    first = get_baseline(exp, "original")
    weights = exp.checkpoint_stem("original").with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated
    again = get_baseline(exp, "original")
    assert not again.cached and "corrupt or truncated" in again.notes[0]
    assert weights_sha256(again.model) == weights_sha256(first.model)
    assert is_cached(exp, "original")


def test_checkpoint_of_another_forget_set_is_retrained(tmp_path, monkeypatch):
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path))
    a = build_experiment(seed=3, device="cpu", epochs=1, image_size=32, forget_spec="people:1,3")
    b = build_experiment(seed=3, device="cpu", epochs=1, image_size=32, forget_spec="people:2,3")
    get_baseline(a, "retrained")
    assert not is_cached(b, "retrained")
    # a file copied over the other's name is detected by its recorded fingerprint
    for suffix in (".safetensors", ".json"):
        b.checkpoint_stem("retrained").with_suffix(suffix).write_bytes(
            a.checkpoint_stem("retrained").with_suffix(suffix).read_bytes())
    again = get_baseline(b, "retrained")
    assert not again.cached and "another dataset or forget set" in again.notes[0]


def test_cancelled_training_leaves_no_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path))
    exp = build_experiment(seed=4, device="cpu", epochs=2, image_size=32)
    cancel = threading.Event()

    def progress(p):
        if p.step == 2:
            cancel.set()

    with pytest.raises(Cancelled):
        get_baseline(exp, "original", progress, cancel)
    assert not any(tmp_path.rglob("*.*")), list(tmp_path.rglob("*"))
    assert not is_cached(exp, "original")


def test_interrupt_while_writing_leaves_old_file(tmp_path, monkeypatch):
    from mu_core import models
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path))
    model = models.build_model(3)
    stem = tmp_path / "m"
    models.save_checkpoint(stem, model, {"x": 1})
    before = stem.with_suffix(".safetensors").read_bytes()

    def boom(state, path):
        open(path, "wb").write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "save_file", boom)
    with torch.no_grad():
        model.fc.weight.add_(1)
    with pytest.raises(KeyboardInterrupt):
        models.save_checkpoint(stem, model, {"x": 2})
    assert stem.with_suffix(".safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]


def test_a_baseline_just_trained_is_evaluated_once(tmp_path, monkeypatch):
    """Training stores the model with its evaluation; scoring reuses it instead of a second pass."""
    from mu_core import baselines as B
    from mu_core import pipeline
    from mu_core.experiment import build_experiment
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path))
    exp = build_experiment(seed=0, device="cpu", epochs=1, image_size=16)
    calls = []
    real = B.evaluate

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(B, "evaluate", counted)
    monkeypatch.setattr(pipeline, "evaluate", counted)
    pipeline.score_baselines(exp)
    assert len(calls) == 2  # Original and Retrained, once each
    calls.clear()
    pipeline.score_baselines(exp)  # from the cache: loaded models are evaluated once each too
    assert len(calls) == 2
