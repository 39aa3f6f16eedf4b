"""AppTest tests of the Runs page's exports and tables: strict JSON (null, never NaN), a CSV rounded to 4
significant digits, readable leaderboard and history cells (a dash where a value is missing, hyperparameters as
k=v text), and the audit picker on the latest finished run rather than a newer cancelled one."""
from __future__ import annotations

import csv
import io
import json
import math

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from dashboard import metric_tables
from mu_core.pipeline import execute_run
from mu_core.run_spec import spec_for
from mu_core.settings import experiment
from mu_core.store import RunStore
from tests.appkit import app_env, assert_clean, open_app  # noqa: F401

pytestmark = pytest.mark.usefixtures("app_env")
QUICK = {"epochs": 1, "batch_size": 256}
NOT_A_NUMBER = ("mia_accuracy", "forgetting_score", "nomus")  # what a one-person forget set stores as NaN


def refuse(constant: str):
    raise ValueError(f"not JSON: {constant}")


@pytest.fixture
def stored(monkeypatch, tmp_path, tiny_baselines) -> dict[str, str]:
    """A store with a finished run whose attack metrics are NaN, then a newer cancelled run."""
    monkeypatch.setenv("MU_RUNS", str(tmp_path))
    store = RunStore(tmp_path)
    exp = experiment()
    done = execute_run(exp, spec_for(exp, "finetune", QUICK), tiny_baselines, store)[0]
    run = store.get(done)
    result, audit = run["result"], run["audit"]
    for key in NOT_A_NUMBER:
        audit["metrics"][key] = float("nan")
    store.finish(done, result.with_metrics({key: float("nan") for key in NOT_A_NUMBER}), audit)
    cancelled = store.start("orl", exp.splits.scenario, exp.splits.forget_spec, exp.seed, "finetune", QUICK)
    store.fail(cancelled, "cancelled", "Cancelled by the user; nothing was stored.")
    return {"done": done, "cancelled": cancelled}


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """The data of every download button the app draws, by file name."""
    files, real = {}, MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        files[filename] = path_or_data
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return files


def test_exports_are_strict_json_and_a_rounded_csv(stored, downloads):
    open_app("runs")
    runs = json.loads(downloads["runs.json"], parse_constant=refuse)
    done = next(r for r in runs if r["id"] == stored["done"])
    assert all(done["result"]["metrics"][key] is None for key in NOT_A_NUMBER)
    assert isinstance(done["result"]["metrics"]["test_acc"], float)
    audit = json.loads(downloads[f"audit-{stored['done']}.json"], parse_constant=refuse)
    assert audit["metrics"]["nomus"] is None

    rows = {r["Run"]: r for r in csv.DictReader(io.StringIO(downloads["runs.csv"].decode()))}
    seconds = done["result"]["seconds"]
    assert rows[stored["done"]]["Seconds"] == str(float(f"{seconds:.4g}")) != str(seconds)
    numbers = [rows[stored["done"]][metric_tables.heading(key)] for key in metric_tables.RUN_METRICS]
    assert all(len(cell.replace("0.", "", 1).replace(".", "").lstrip("0")) <= 4 for cell in numbers if cell)
    assert rows[stored["done"]]["NoMUS"] == "" and rows[stored["cancelled"]]["Test acc"] == ""
    assert {"epochs=1", "batch_size=256"} <= set(rows[stored["done"]]["Hyperparameters"].split(", "))


def test_leaderboard_and_history_cells_are_readable_and_the_audit_picker_shows_the_latest_finished_run(stored):
    at = open_app("runs")
    board, history = at.dataframe[0].value, at.dataframe[-1].value
    cells = [str(v) for frame in (board, history) for v in frame.to_numpy().ravel()]
    assert not [c for c in cells if c in ("None", "nan", "NaN") or c.startswith("{")]
    row = board.iloc[0]
    assert row["NoMUS"] == "–" and row["MIA accuracy"] == "–" and len(row["Test acc"]) == 5  # 0.xyz
    assert {"epochs=1", "batch_size=256"} <= set(row["Hyperparameters"].split(", "))
    assert list(history.set_index("Run").loc[stored["cancelled"], ["Test acc", "NoMUS"]]) == ["–", "–"]
    picker = next(s for s in at.selectbox if s.label == "Run")
    assert picker.value == stored["done"]
    assert "was asked to forget **" in "\n".join(m.value for m in at.markdown)
    picker.set_value(stored["cancelled"]).run()
    assert_clean(at)
    warning = next(w.value for w in at.warning if "cancelled" in w.value)
    assert ".." not in warning and warning.count("stored") == 1
