"""A model's result as a typed object: its JSON form is the one of stored runs and docs/results/, the store writes
it as strict JSON and still reads rows written with bare NaN."""
from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import pytest

from mu_core.results import ModelResult
from mu_core.store import RunStore
from tests.appkit import ROOT

VERDICT = {"forgotten": False, "level": "basic", "n_models": 1, "summary": "Not forgotten.",
           "checks": [{"name": "recognition", "pass": False, "value": 1.0, "reference": 0.0, "floor": None,
                       "text": "recognised in 7 of 7"}]}
FULL = ModelResult("finetune", {"epochs": 2, "lr": 0.01}, 1, 3.5, 0.07,
                   {"test_acc": 0.9, "mia_accuracy": 0.55, "per_class_acc": {"s1": 1.0}, "mia_n_members": 56},
                   {"kind": "trained", "fingerprint": "abc"}, VERDICT)


def shipped_row() -> dict:
    return json.loads((ROOT / "docs" / "results" / "bank-person.json").read_text())["rows"][0]


def test_typed_to_dict_to_typed_is_identical():
    assert ModelResult.from_dict(FULL.to_dict()) == FULL
    bare = ModelResult("retrained", {"recipe": {"epochs": 30}}, 0, 60.0, 1.0, {"test_acc": 0.95})
    assert ModelResult.from_dict(bare.to_dict()) == bare
    assert set(bare.to_dict()) == {"method", "hparams", "seed", "seconds", "time_ratio", "metrics"}


def test_a_shipped_result_loads_and_writes_back_the_same_json():
    row = shipped_row()
    result = ModelResult.from_dict(row)
    assert result.method == row["method"] and result.verdict == row["verdict"]
    assert result.value("test_acc") == row["metrics"]["test_acc"] and result.value("seconds") == row["seconds"]
    assert json.dumps(result.to_dict(), sort_keys=True) == json.dumps(row, sort_keys=True)


def test_a_dict_missing_a_name_is_refused():
    row = shipped_row()
    del row["metrics"]
    with pytest.raises(ValueError, match="not a model result: no metrics"):
        ModelResult.from_dict(row)


def test_measured_computes_the_time_ratio_and_changes_make_new_results():
    result = ModelResult.measured("neggrad", {"lr": 0.1}, 0, 2.0, 40.0, {"test_acc": 0.8})
    assert result.time_ratio == 0.05
    assert ModelResult.measured("neggrad", {}, 0, 2.0, 0.0, {}).time_ratio is None
    more = result.with_metrics({"relearn_steps": 12}).with_verdict(VERDICT)
    assert more.metrics == {"test_acc": 0.8, "relearn_steps": 12} and more.verdict == VERDICT
    assert result.metrics == {"test_acc": 0.8} and result.verdict is None
    with pytest.raises(AttributeError):
        result.seed = 3


def stored_text(store: RunStore, run_id: str) -> tuple[str, str]:
    with sqlite3.connect(store.db) as con:
        return con.execute("SELECT result, audit FROM runs WHERE id=?", (run_id,)).fetchone()


def test_the_store_writes_no_nan_and_reads_the_result_back_typed(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.start("orl", "person", "people:4", 0, "finetune", {"lr": float("nan")})
    result = FULL.with_metrics({"mia_accuracy": float("nan"), "nomus": np.float64("inf"), "flops": np.int64(7)})
    store.finish(run_id, result, {"metrics": {"nomus": float("nan")}}, {"forget.loss": np.ones(2)})
    for text in stored_text(store, run_id):
        assert "NaN" not in text and "Infinity" not in text
    run = store.get(run_id)
    assert isinstance(run["result"], ModelResult) and run["damaged"] is None
    assert run["result"].metrics["mia_accuracy"] is None and run["result"].metrics["nomus"] is None
    assert run["result"].metrics["flops"] == 7 and run["result"].verdict == VERDICT
    assert run["audit"]["metrics"]["nomus"] is None and run["hparams"] == {"lr": None}


def test_an_old_row_with_bare_nan_still_loads(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.start("orl", "person", "people:4", 0, "finetune", {})
    store.finish(run_id, FULL, {}, {"forget.loss": np.ones(2)})
    old = json.dumps({**shipped_row(), "metrics": {"test_acc": 0.9, "mia_accuracy": float("nan")}})
    assert "NaN" in old
    with sqlite3.connect(store.db) as con:
        con.execute("UPDATE runs SET result=? WHERE id=?", (old, run_id))
    run = store.get(run_id)
    assert run["damaged"] is None and math.isnan(run["result"].metrics["mia_accuracy"])


def test_a_stored_result_that_is_not_a_model_result_marks_the_run_damaged(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.start("orl", "person", "people:4", 0, "finetune", {})
    store.finish(run_id, FULL, {}, {"forget.loss": np.ones(2)})
    with sqlite3.connect(store.db) as con:
        con.execute("UPDATE runs SET result=? WHERE id=?", ('{"metrics": {}}', run_id))
    run = store.get(run_id)
    assert run["result"] is None and "not a model result" in run["damaged"]


def test_an_audit_stored_under_the_old_forget_selection_key_reads_as_forget(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.start("orl", "person", "people:4", 0, "finetune", {})
    store.finish(run_id, FULL, {"forget": "people:4"}, {"forget.loss": np.ones(2)})
    with sqlite3.connect(store.db) as con:
        con.execute("UPDATE runs SET audit=? WHERE id=?", (json.dumps({"forget_selection": "people:4"}), run_id))
    assert store.get(run_id)["audit"] == {"forget": "people:4"}
