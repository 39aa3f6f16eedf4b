"""The run store under faults: a damaged database, a read-only store, damaged artifacts, an old schema, two
processes sharing one store, a run killed with kill -9, Ctrl-C."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
import pytest

from mu_core import pipeline
from mu_core.cli import main
from mu_core.results import ModelResult
from mu_core.run_spec import spec_for
from mu_core.store import DB_NAME, RunDamaged, RunStore, StoreDamaged, StoreReadOnly

ARGS = ("orl", "person", "people:2", 0, "finetune", {"epochs": 1})
RESULT = ModelResult("finetune", {"epochs": 1}, 0, 1.0, 0.1, {"test_acc": 0.9})


def finished_run(store: RunStore) -> str:
    run_id = store.start(*ARGS)
    store.finish(run_id, RESULT, {"run_id": run_id}, {"forget.loss": np.arange(3.0)})
    return run_id


def test_a_damaged_database_is_reported_and_left_untouched(tmp_path):
    db = tmp_path / DB_NAME
    db.write_bytes(b"this is not a database" * 100)
    before = db.read_bytes()
    store = RunStore(tmp_path)
    assert not store.writable and str(db) in store.damaged and "move it aside" in store.damaged
    with pytest.raises(StoreDamaged):
        store.list()
    with pytest.raises(StoreDamaged):
        store.start(*ARGS)
    assert store.mark_interrupted() == 0
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [DB_NAME]


def test_the_cli_reports_a_damaged_database_in_one_error_line(tmp_path, monkeypatch, capsys):
    (tmp_path / DB_NAME).write_bytes(b"\0garbage" * 512)
    monkeypatch.setenv("MU_RUNS", str(tmp_path))
    assert main(["evaluate", "--model", "20260101-000000-abcdef"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: The run database") and "damaged" in err[0]


def test_a_store_that_cannot_be_created_opens_read_only(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    store = RunStore(blocker / "runs")  # a folder under a regular file cannot exist, whoever runs the test
    assert not store.writable and "cannot be written" in store.read_only and store.damaged is None
    assert store.list() == [] and store.get("nope") is None
    with pytest.raises(StoreReadOnly, match="no new run can be stored"):
        store.start(*ARGS)


@pytest.fixture
def read_only_folder(tmp_path, monkeypatch):
    """A store folder with one finished run, then made read-only: by permissions where they bind (not root),
    else by making every attempt to create a file in it fail as a read-only file system does."""
    run_id = finished_run(RunStore(tmp_path))
    if os.geteuid() != 0:
        (tmp_path / DB_NAME).chmod(0o444)
        tmp_path.chmod(0o555)
        yield tmp_path, run_id
        tmp_path.chmod(0o755)
        (tmp_path / DB_NAME).chmod(0o644)
        return

    def refused(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    yield tmp_path, run_id


def test_a_read_only_store_can_be_browsed_but_not_written(read_only_folder):
    root, run_id = read_only_folder
    before = (root / DB_NAME).read_bytes()
    store = RunStore(root)
    assert not store.writable and store.read_only and store.damaged is None
    assert [r["id"] for r in store.list()] == [run_id] and store.get(run_id)["status"] == "done"
    assert store.outputs(run_id)["forget.loss"].tolist() == [0, 1, 2]
    with pytest.raises(StoreReadOnly):
        store.start(*ARGS)
    assert (root / DB_NAME).read_bytes() == before


def test_damaged_artifacts_mark_their_run_and_leave_the_others_usable(tmp_path):
    store = RunStore(tmp_path)
    missing, truncated, good = finished_run(store), finished_run(store), finished_run(store)
    (store.artifact_dir(missing) / "outputs.npz").unlink()
    npz = store.artifact_dir(truncated) / "outputs.npz"
    npz.write_bytes(npz.read_bytes()[:40])
    runs = {r["id"]: r for r in store.list()}
    assert "missing" in runs[missing]["damaged"] and "unreadable" in runs[truncated]["damaged"]
    assert runs[good]["damaged"] is None and runs[good]["status"] == "done"
    for run_id in (missing, truncated):
        with pytest.raises(RunDamaged, match=f"Run {run_id} is damaged"):
            store.outputs(run_id)
    assert store.outputs(good)["forget.loss"].tolist() == [0, 1, 2]


def test_an_old_database_gets_the_owner_columns_and_its_running_runs_are_interrupted(tmp_path):
    with sqlite3.connect(tmp_path / DB_NAME) as con:
        con.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, created REAL NOT NULL, finished REAL, status TEXT NOT "
                    "NULL, dataset TEXT NOT NULL, scenario TEXT NOT NULL, forget TEXT NOT NULL, seed INTEGER NOT "
                    "NULL, method TEXT NOT NULL, hparams TEXT NOT NULL, result TEXT, audit TEXT, message TEXT)")
        con.execute("INSERT INTO runs VALUES ('old', 1, NULL, 'running', 'orl', 'person', 'people:2', 0, "
                    "'finetune', '{}', NULL, NULL, NULL)")
    store = RunStore(tmp_path)
    run = store.get("old")
    assert run["status"] == "interrupted" and {"pid", "pid_started", "host"} <= set(run)
    assert store.get(store.start(*ARGS))["pid"] == os.getpid()


HOLDER = textwrap.dedent("""
    import sys, time
    from mu_core.store import RunStore
    print(RunStore(sys.argv[1]).start("orl", "person", "people:2", 0, "finetune", {}), flush=True)
    time.sleep(600)
""")


def test_a_live_run_of_another_process_is_left_alone_until_that_process_is_killed(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        run_id = holder.stdout.readline().strip()
        store = RunStore(tmp_path)  # what a dashboard starting beside the CLI does
        assert store.mark_interrupted() == 0
        run = store.get(run_id)
        assert run["status"] == "running" and run["pid"] == holder.pid and run["message"] is None
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        run = RunStore(tmp_path).get(run_id)
        assert run["status"] == "interrupted" and f"process {holder.pid}" in run["message"]
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)


def test_a_killed_run_is_interrupted_even_before_it_is_reaped(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              cwd=os.path.dirname(os.path.dirname(__file__)))
    run_id = holder.stdout.readline().strip()
    os.kill(holder.pid, signal.SIGKILL)
    try:
        store = RunStore(tmp_path)
        for _ in range(100):  # the kernel takes a moment to turn it into a zombie
            if store.get(run_id)["status"] != "running":
                break
            time.sleep(0.05)
        assert store.get(run_id)["status"] == "interrupted"
    finally:
        holder.wait(10)


def test_finish_clears_a_stale_message(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.start(*ARGS)
    with sqlite3.connect(store.db) as con:
        con.execute("UPDATE runs SET message='The app stopped while this run was in progress.' WHERE id=?", (run_id,))
    store.finish(run_id, RESULT, {}, {"x": np.zeros(1)})
    run = store.get(run_id)
    assert run["status"] == "done" and run["message"] is None


def test_ctrl_c_is_stored_as_cancelled(tmp_path, tiny_exp, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "run_method", interrupted)
    store = RunStore(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        pipeline.execute_run(tiny_exp, spec_for(tiny_exp, "finetune", {}), {}, store)
    [run] = store.list()
    assert run["status"] == "cancelled" and "Ctrl-C" in run["message"]
