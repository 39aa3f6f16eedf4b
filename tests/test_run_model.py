"""A finished run keeps its weights (model.safetensors) and its model loads back for the probe; `python -m mu_core
report RUN_ID --out DIR` writes the run's evidence pack."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mu_core.cli import main
from mu_core.errors import MUError
from mu_core.evidence_pack import find_chromium
from mu_core.models import build_model, weights_sha256
from mu_core.results import ModelResult
from mu_core.run_model import load_run_model, weights_bytes
from mu_core.store import WEIGHTS, RunStore

EXP = SimpleNamespace(dataset=SimpleNamespace(num_classes=5), device=torch.device("cpu"))
FORGOTTEN = [{"sample_id": "s5/1", "identity": "s5", "image_sha256": "c" * 64}]


def stored_run(store: RunStore, model: torch.nn.Module | None) -> str:
    run_id = store.start("orl", "person", "people:4", 0, "finetune", {"epochs": 1})
    verdict = {"forgotten": False, "level": "basic", "n_models": 1, "summary": "Not forgotten.", "checks": []}
    store.finish(run_id, ModelResult("finetune", {"epochs": 1}, 0, 1.0, 0.1, {"test_acc": 0.9}, verdict=verdict),
                 {"dataset": "orl", "scenario": "person", "forget": "people:4", "seed": 0,
                  "forgotten": FORGOTTEN},
                 {"forget.loss": np.ones(3), "unseen.loss": np.zeros(3)},
                 {WEIGHTS: weights_bytes(model)} if model is not None else None)
    return run_id


def test_weights_are_kept_and_load_back_identical(tmp_path):
    store = RunStore(tmp_path)
    model = build_model(5)
    run_id = stored_run(store, model)
    assert store.weights_file(run_id).name == WEIGHTS
    loaded = load_run_model(store, run_id, EXP)
    assert weights_sha256(loaded) == weights_sha256(model) and not loaded.training
    old = stored_run(store, None)
    assert store.weights_file(old) is None
    with pytest.raises(MUError, match="kept no weights"):
        load_run_model(store, old, EXP)


def test_report_command_writes_the_pack(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MU_RUNS", str(tmp_path / "runs"))
    run_id = stored_run(RunStore(tmp_path / "runs"), None)
    out = tmp_path / "pack"
    pdf = find_chromium() is not None
    assert main(["report", run_id, "--out", str(out)] + ([] if pdf else ["--no-pdf"])) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["run_id"] == run_id and manifest["verdict"]["forgotten"] is False
    assert "Not forgotten" in (out / "report.html").read_text()
    if pdf:
        assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    assert main(["report", "nope", "--out", str(out)]) == 2
    assert "No run 'nope'" in capsys.readouterr().err
