"""Every run, persisted in SQLite (survives restarts) with its weights and per-sample outputs as artifact files.

A run is inserted as "running" before it starts and finished in one transaction with its result; artifacts are
written atomically before the row is marked "done". Runs still "running" when the process starts again are marked
"interrupted" (`mark_interrupted`), and their partial artifacts removed, so nothing half-written remains."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import uuid
from contextlib import closing
from pathlib import Path

import numpy as np

from mu_core.experiment import REPO_ROOT

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,          -- running | done | failed | cancelled | interrupted
    dataset TEXT NOT NULL,
    scenario TEXT NOT NULL,
    forget TEXT NOT NULL,
    seed INTEGER NOT NULL,
    method TEXT NOT NULL,
    hparams TEXT NOT NULL,         -- JSON
    result TEXT,                   -- JSON model result (design.md section 8)
    audit TEXT,                    -- JSON audit record
    message TEXT                   -- why a run failed or was cancelled
);
"""


def runs_root() -> Path:
    """$MU_RUNS, else runs/ in the repository."""
    return Path(os.environ.get("MU_RUNS", REPO_ROOT / "runs"))


class RunStore:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else runs_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = self.root / "runs.sqlite"
        with closing(self._connect()) as con, con:
            con.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db, timeout=30)
        con.row_factory = sqlite3.Row
        return con

    def artifact_dir(self, run_id: str) -> Path:
        return self.root / "artifacts" / run_id

    def start(self, dataset: str, scenario: str, forget: str, seed: int, method: str, hparams: dict) -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        with closing(self._connect()) as con, con:
            con.execute("INSERT INTO runs (id, created, status, dataset, scenario, forget, seed, method, hparams) "
                        "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                        (run_id, time.time(), dataset, scenario, forget, seed, method, json.dumps(hparams)))
        return run_id

    def finish(self, run_id: str, result: dict, audit: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
        """Write the artifacts (atomically, through a temporary folder), then mark the run done."""
        if arrays:
            final = self.artifact_dir(run_id)
            tmp = final.with_name(final.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            np.savez(tmp / "outputs.npz", **arrays)
            os.replace(tmp, final)
        with closing(self._connect()) as con, con:
            con.execute("UPDATE runs SET status='done', finished=?, result=?, audit=? WHERE id=?",
                        (time.time(), json.dumps(result, default=float), json.dumps(audit, default=float), run_id))

    def fail(self, run_id: str, status: str, message: str) -> None:
        shutil.rmtree(self.artifact_dir(run_id), ignore_errors=True)
        with closing(self._connect()) as con, con:
            con.execute("UPDATE runs SET status=?, finished=?, message=? WHERE id=?",
                        (status, time.time(), message, run_id))

    def mark_interrupted(self) -> int:
        """Runs left 'running' by a process that stopped: mark them interrupted and drop partial artifacts."""
        with closing(self._connect()) as con, con:
            ids = [r["id"] for r in con.execute("SELECT id FROM runs WHERE status='running'")]
            con.execute("UPDATE runs SET status='interrupted', finished=?, "
                        "message='The app stopped while this run was in progress.' WHERE status='running'",
                        (time.time(),))
        for run_id in ids:
            shutil.rmtree(self.artifact_dir(run_id), ignore_errors=True)
            shutil.rmtree(self.artifact_dir(run_id).with_name(run_id + ".tmp"), ignore_errors=True)
        return len(ids)

    def get(self, run_id: str) -> dict | None:
        with closing(self._connect()) as con:
            row = con.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return _decode(row) if row else None

    def list(self, status: str | None = None, dataset: str | None = None) -> list[dict]:
        query, args = "SELECT * FROM runs WHERE 1=1", []
        if status:
            query, args = query + " AND status=?", args + [status]
        if dataset:
            query, args = query + " AND dataset=?", args + [dataset]
        with closing(self._connect()) as con:
            rows = con.execute(query + " ORDER BY created DESC", args).fetchall()
        return [_decode(r) for r in rows]

    def outputs(self, run_id: str) -> dict[str, np.ndarray]:
        path = self.artifact_dir(run_id) / "outputs.npz"
        with np.load(path) as data:
            return {k: data[k] for k in data.files}


def _decode(row: sqlite3.Row) -> dict:
    d = dict(row)
    for key in ("hparams", "result", "audit"):
        d[key] = json.loads(d[key]) if d[key] else None
    return d
