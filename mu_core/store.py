"""Every run, persisted in SQLite (survives restarts) with its weights and per-sample outputs as artifact files.

A run is inserted as "running" with the id, start time and host of the process running it, and finished in one
transaction with its result; artifacts are written atomically before the row is marked "done". A "running" run
whose process is gone (it exited, was killed, even with kill -9) is marked "interrupted" the next time the store
is read, and its partial artifacts removed; a run whose process is alive is left alone, whichever process reads
the store (two processes may share it). A run of another host cannot be checked and stays as it is.

Faults never end in a traceback and never cost the user's data:
- a folder that cannot be written opens the store read-only (`read_only` says why): runs can be browsed, storing
  one raises `StoreReadOnly`;
- a database file that is not a readable SQLite database is left untouched (`damaged` says where it is and what
  to do); reading or writing raises `StoreDamaged`;
- a run whose artifacts are missing or unreadable is listed with `damaged` set; `outputs` raises `RunDamaged`.

JSON is written strictly (jsonio: null where a value is missing or not a number, never a bare NaN); rows written
before, with NaN in them, still load. A run's "result" is read back as a ModelResult."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
import zipfile
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import numpy as np

from mu_core import jsonio
from mu_core.errors import MUError
from mu_core.experiment import REPO_ROOT
from mu_core.process import ProcessId, is_alive, this_process
from mu_core.results import ModelResult

DB_NAME = "runs.sqlite"
OUTPUTS = "outputs.npz"
WEIGHTS = "model.safetensors"
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
    result TEXT,                   -- JSON model result (ModelResult.to_dict)
    audit TEXT,                    -- JSON audit record
    message TEXT                   -- why a run failed or was cancelled
);
"""
# Columns added after the first release: stores written before get them on first write access.
OWNER_COLUMNS = {"pid": "INTEGER", "pid_started": "INTEGER", "host": "TEXT"}


class StoreError(MUError):
    """The run store cannot do what was asked; the message says why and what to do."""


class StoreReadOnly(StoreError):
    """The store's folder or database cannot be written."""


class StoreDamaged(StoreError):
    """The database file is not a readable SQLite database (it is left as it is)."""


class RunDamaged(StoreError):
    """A stored run's artifacts are missing or unreadable."""


def runs_root() -> Path:
    """$MU_RUNS, else runs/ in the repository."""
    return Path(os.environ.get("MU_RUNS", REPO_ROOT / "runs"))


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


class RunStore:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else runs_root()
        self.db = self.root / DB_NAME
        self.read_only: str | None = None  # why runs cannot be stored here; None when they can
        self.damaged: str | None = None    # why the database cannot be read; None when it can
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as e:
            self._set_read_only(_reason(e))
        try:
            self._open()
        except sqlite3.DatabaseError as e:  # the folder is writable, the database file is not
            self._set_read_only(str(e))
            self._open()

    def _set_read_only(self, reason: str) -> None:
        self.read_only = (f"The run store {self.root} cannot be written ({reason}): stored runs can be browsed, but "
                          "no new run can be stored. Make the folder writable, or point $MU_RUNS at a writable "
                          "folder.")

    def _open(self) -> None:
        """Check that the database is readable and, when writable, bring its schema up to date."""
        if self.read_only is not None and not self.db.exists():
            return
        try:
            with closing(self._connect()) as con:
                check = con.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise sqlite3.DatabaseError(check)
                if self.read_only is None:
                    with con:
                        con.executescript(SCHEMA)
                        have = {row["name"] for row in con.execute("PRAGMA table_info(runs)")}
                        for name, kind in OWNER_COLUMNS.items():
                            if name not in have:
                                con.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
        except sqlite3.DatabaseError as e:
            if self.read_only is None and any(w in str(e) for w in ("readonly", "unable to open", "locked")):
                raise  # not damage: the store opens read-only (until the next open, for a lock held too long)
            self.damaged = (f"The run database {self.db} is damaged ({e}). It was left as it is: move it aside "
                            f"(for example rename it to {DB_NAME}.damaged) to start a new run history, or restore "
                            "it from a backup.")

    @property
    def writable(self) -> bool:
        return self.read_only is None and self.damaged is None

    @property
    def problem(self) -> str | None:
        """What the user should know about this store (damaged, or read-only), or None."""
        return self.damaged or self.read_only

    def _connect(self) -> sqlite3.Connection:
        if self.read_only is not None:
            con = sqlite3.connect(f"file:{quote(str(self.db))}?mode=ro", uri=True, timeout=30)
        else:
            con = sqlite3.connect(self.db, timeout=30)
        con.row_factory = sqlite3.Row
        return con

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """A connection for reading (None while there is no database yet); errors become StoreError."""
        if self.damaged:
            raise StoreDamaged(self.damaged)
        if not self.db.exists():
            yield None
            return
        try:
            with closing(self._connect()) as con:
                yield con
        except sqlite3.DatabaseError as e:
            raise StoreError(f"The run database {self.db} could not be read ({e}).") from None

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction; refused on a read-only or damaged store, errors become StoreError."""
        if self.damaged:
            raise StoreDamaged(self.damaged)
        if self.read_only:
            raise StoreReadOnly(self.read_only)
        try:
            with closing(self._connect()) as con, con:
                yield con
        except sqlite3.DatabaseError as e:
            kind = StoreReadOnly if "readonly" in str(e) else StoreError
            raise kind(f"The run database {self.db} could not be written ({e}).") from None

    def artifact_dir(self, run_id: str) -> Path:
        return self.root / "artifacts" / run_id

    def start(self, dataset: str, scenario: str, forget_spec: str, seed: int, method: str, hparams: dict) -> str:
        """Insert a run as "running", owned by this process. Raises StoreReadOnly or StoreDamaged when the store
        cannot take it (before any work is done)."""
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        me = this_process()
        with self._writing() as con:
            con.execute("INSERT INTO runs (id, created, status, dataset, scenario, forget, seed, method, hparams, "
                        "pid, pid_started, host) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (run_id, time.time(), dataset, scenario, forget_spec, seed, method, jsonio.dumps(hparams),
                         me.pid, me.started, me.host))
        return run_id

    def finish(self, run_id: str, result: ModelResult, audit: dict, arrays: dict[str, np.ndarray] | None = None,
               files: dict[str, bytes] | None = None) -> None:
        """Write the artifacts (per-sample `arrays` as outputs.npz, and `files` by name, e.g. the weights as
        model.safetensors) atomically, through a temporary folder, then mark the run done (clearing any message
        an earlier state left)."""
        if arrays or files:
            final = self.artifact_dir(run_id)
            tmp = final.with_name(final.name + ".tmp")
            try:
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True)
                if arrays:
                    np.savez(tmp / OUTPUTS, **arrays)
                for name, data in (files or {}).items():
                    (tmp / name).write_bytes(data)
                os.replace(tmp, final)
            except OSError as e:
                shutil.rmtree(tmp, ignore_errors=True)
                raise StoreError(f"The outputs of run {run_id} could not be written to {final} ({_reason(e)}).") \
                    from None
        with self._writing() as con:
            con.execute("UPDATE runs SET status='done', finished=?, result=?, audit=?, message=NULL WHERE id=?",
                        (time.time(), jsonio.dumps(result), jsonio.dumps(audit), run_id))

    def fail(self, run_id: str, status: str, message: str) -> None:
        shutil.rmtree(self.artifact_dir(run_id), ignore_errors=True)
        with self._writing() as con:
            con.execute("UPDATE runs SET status=?, finished=?, message=? WHERE id=?",
                        (status, time.time(), message, run_id))

    def mark_interrupted(self) -> int:
        """Runs left "running" by a process that is gone: mark them interrupted and drop their partial artifacts.
        Runs of live processes (this one or another sharing the store) and of other hosts are left alone; runs
        stored before the owner was recorded count as gone. Returns how many were marked (0 on a store that cannot
        be written)."""
        if not self.writable or not self.db.exists():
            return 0
        with self._writing() as con:
            rows = con.execute("SELECT id, pid, pid_started, host FROM runs WHERE status='running'").fetchall()
            gone = [r for r in rows
                    if r["pid"] is None or is_alive(ProcessId(r["pid"], r["pid_started"], r["host"] or "")) is False]
            for r in gone:
                who = f"process {r['pid']} on {r['host']}" if r["pid"] is not None else "the process running it"
                con.execute("UPDATE runs SET status='interrupted', finished=?, message=? WHERE id=? "
                            "AND status='running'",
                            (time.time(), f"Interrupted: {who} stopped before the run finished; nothing of it was "
                                          "kept.", r["id"]))
        for r in gone:
            shutil.rmtree(self.artifact_dir(r["id"]), ignore_errors=True)
            shutil.rmtree(self.artifact_dir(r["id"]).with_name(r["id"] + ".tmp"), ignore_errors=True)
        return len(gone)

    def get(self, run_id: str) -> dict | None:
        self.mark_interrupted()
        with self._reading() as con:
            row = con.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone() if con else None
        return self._decode(row) if row else None

    def list(self, status: str | None = None, dataset: str | None = None) -> list[dict]:
        """Runs, newest first; each has `damaged` (None, or why its stored data cannot be used)."""
        self.mark_interrupted()
        query, args = "SELECT * FROM runs WHERE 1=1", []
        if status:
            query, args = query + " AND status=?", args + [status]
        if dataset:
            query, args = query + " AND dataset=?", args + [dataset]
        with self._reading() as con:
            rows = con.execute(query + " ORDER BY created DESC", args).fetchall() if con else []
        return [self._decode(r) for r in rows]

    def outputs(self, run_id: str) -> dict[str, np.ndarray]:
        """A finished run's per-sample outputs; RunDamaged when they are missing or unreadable."""
        path = self.artifact_dir(run_id) / OUTPUTS
        try:
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise RunDamaged(f"Run {run_id} is damaged: its per-sample outputs {path} are missing or unreadable "
                             f"({_reason(e)}). Its stored metrics remain; its charts cannot be drawn.") from None

    def weights_file(self, run_id: str) -> Path | None:
        """A finished run's stored weights (runs stored before weights were kept have none)."""
        path = self.artifact_dir(run_id) / WEIGHTS
        return path if path.is_file() else None

    def _decode(self, row: sqlite3.Row) -> dict:
        """The row as a dict: hparams and audit as JSON values, result as a ModelResult (None when absent)."""
        d = dict(row)
        d["damaged"] = None
        for key in ("hparams", "result", "audit"):
            try:
                d[key] = json.loads(d[key]) if d[key] else None
            except ValueError:
                d[key], d["damaged"] = None, f"its {key} record in the database is not valid JSON"
        if isinstance(d["audit"], dict) and "forget_selection" in d["audit"]:  # audits stored before the rename
            d["audit"]["forget"] = d["audit"].pop("forget_selection")
        if d["result"] is not None:
            try:
                d["result"] = ModelResult.from_dict(d["result"])
            except (ValueError, TypeError, AttributeError) as e:
                d["result"], d["damaged"] = None, f"its result record in the database is not a model result ({e})"
        outputs = self.artifact_dir(d["id"]) / OUTPUTS
        if d["status"] == "done" and d["damaged"] is None:
            if d["result"] is None:
                d["damaged"] = "it has no stored result"
            elif not outputs.is_file():
                d["damaged"] = f"its per-sample outputs ({outputs}) are missing"
            elif not zipfile.is_zipfile(outputs):
                d["damaged"] = f"its per-sample outputs ({outputs}) are unreadable"
        return d
