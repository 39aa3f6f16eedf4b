"""Background jobs for the dashboard: one compute slot for the whole process (every browser session shares it),
a FIFO queue, live progress and cancel.

Training and unlearning saturate the machine, so running two at once only makes both slower; a single worker
thread runs the jobs one after the other. Jobs live in memory only: what matters afterwards (runs, checkpoints)
is persisted by the store."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from mu_core.errors import Cancelled, MUError
from mu_core.training import CancelFlag, Progress, ProgressFn

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
MAX_MESSAGE = 300

JobFn = Callable[[ProgressFn, CancelFlag], Any]


@dataclass
class Job:
    """A snapshot of a job. `cancel_requested` is set as soon as the user cancels a running job, while the job is
    still winding down (the status becomes "cancelled" once it has stopped)."""

    id: str
    label: str
    owner: str
    kind: str  # what the job does, for its owner's views ("baselines", "unlearn"; "" when not said)
    status: str  # queued | running | done | failed | cancelled
    progress: Progress | None
    result: Any
    error: str | None
    created: float
    started: float | None
    finished: float | None
    cancel_requested: bool = False
    fn: JobFn | None = field(default=None, repr=False, compare=False)
    flag: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


def unexpected_error_message(error: BaseException) -> str:
    """A one-line message for an error that is not the user's doing; the full traceback goes to the log."""
    detail = (str(error).strip().splitlines() or [""])[0]
    text = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE - 1] + "…"
    return f"Unexpected error ({text}); the details are in the server log."


class Stages:
    """One progress over the stages of a job run one after the other, each counting its own steps (the training of
    the Retrained, then of the Original model): `stages` maps the start of each stage's name to its number of
    steps, in the order they run. Steps, fraction and ETA are reported over the whole job, the ETA from the pace of
    the steps so far; a stage not named passes through unchanged."""

    def __init__(self, stages: dict[str, int], progress: ProgressFn):
        self.stages, self.progress = dict(stages), progress
        self.total = max(1, sum(self.stages.values()))
        self.started = time.perf_counter()

    def __call__(self, p: Progress) -> None:
        names = list(self.stages)
        current = next((i for i, name in enumerate(names) if p.stage.startswith(name)), None)
        if current is None:
            self.progress(p)
            return
        done = min(self.total, sum(self.stages[name] for name in names[:current]) + p.step)
        elapsed = time.perf_counter() - self.started
        eta = elapsed / done * (self.total - done) if done else None
        self.progress(replace(p, step=done, total=self.total, elapsed_s=elapsed, eta_s=eta))


class JobRunner:
    """A FIFO queue of jobs served by one daemon worker thread. Every method is thread-safe and returns
    snapshots (copies), so a reader never sees a job half-updated.

    A job is `fn(progress, cancel)`: it reports `Progress` through `progress` and must stop by raising
    `mu_core.errors.Cancelled` once `cancel.is_set()` (the engine's `Tracker` does both). A MUError ends the job
    "failed" with its message; any other exception ends it "failed" with a short message, its traceback logged.
    At most `keep_finished` finished jobs are remembered (their results can hold models)."""

    def __init__(self, keep_finished: int = 50):
        self._keep = max(1, int(keep_finished))
        self._jobs: dict[str, Job] = {}
        self._pending: deque[str] = deque()
        self._running: str | None = None
        self._changed = threading.Condition()
        self._worker = threading.Thread(target=self._serve, name="mu-jobs", daemon=True)
        self._worker.start()

    def submit(self, label: str, fn: JobFn, owner: str = "", kind: str = "") -> str:
        """Queue `fn`; returns the job id."""
        job = Job(id=uuid.uuid4().hex[:12], label=label, owner=owner, kind=kind, status=QUEUED, progress=None,
                  result=None, error=None, created=time.time(), started=None, finished=None, fn=fn)
        with self._changed:
            self._jobs[job.id] = job  # dicts keep insertion order: the order of submission
            self._pending.append(job.id)
            self._changed.notify_all()
        return job.id

    def get(self, job_id: str) -> Job | None:
        with self._changed:
            job = self._jobs.get(job_id)
            return self._snapshot(job) if job else None

    def cancel(self, job_id: str, owner: str | None = None) -> bool:
        """A queued job is removed from the queue at once; a running one is asked to stop (its flag is set).
        With `owner`, only a job of that owner is cancelled. Unknown or finished jobs, and jobs of another owner,
        are left as they are. Returns whether the job was cancelled or asked to stop."""
        with self._changed:
            job = self._jobs.get(job_id)
            if job is None or job.is_finished or (owner is not None and job.owner != owner):
                return False
            if job.status == QUEUED:
                self._pending.remove(job_id)
                self._end(job, CANCELLED, None, "Cancelled before it started.")
            else:
                job.cancel_requested = True
                job.flag.set()
            self._changed.notify_all()
            return True

    def queue(self) -> list[Job]:
        """The running job first (if any), then the queued ones in order."""
        with self._changed:
            ids = ([self._running] if self._running else []) + list(self._pending)
            return [self._snapshot(self._jobs[i]) for i in ids]

    def position(self, job_id: str) -> int | None:
        """0 = running, 1.. = place in the queue, None = finished or unknown."""
        with self._changed:
            if job_id == self._running:
                return 0
            return self._pending.index(job_id) + 1 if job_id in self._pending else None

    def recent(self, limit: int = 20) -> list[Job]:
        """The latest jobs of any status, newest first."""
        with self._changed:
            newest = list(self._jobs.values())[::-1]
            return [self._snapshot(j) for j in newest[:max(0, limit)]]

    def owned(self, owner: str, kind: str | None = None) -> list[Job]:
        """The jobs of `owner` (of `kind` when given) still remembered, in the order they were submitted."""
        with self._changed:
            return [self._snapshot(j) for j in self._jobs.values()
                    if j.owner == owner and (kind is None or j.kind == kind)]

    def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        """Block until the job has finished (or `timeout` seconds passed); returns its snapshot."""
        with self._changed:
            self._changed.wait_for(lambda: job_id not in self._jobs or self._jobs[job_id].is_finished, timeout)
            job = self._jobs.get(job_id)
            return self._snapshot(job) if job else None

    @staticmethod
    def _snapshot(job: Job) -> Job:
        return replace(job)

    def _serve(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._pending))
                job = self._jobs[self._pending.popleft()]
                self._running = job.id
                job.status, job.started = RUNNING, time.time()
                self._changed.notify_all()
            self._run(job)

    def _run(self, job: Job) -> None:
        def progress(p: Progress) -> None:
            with self._changed:
                job.progress = p

        status, result, error = DONE, None, None
        try:
            result = job.fn(progress, job.flag)
        except Cancelled as e:
            status, error = CANCELLED, str(e) or "Cancelled."
        except MUError as e:
            status, error = FAILED, str(e) or type(e).__name__
        except BaseException as e:  # anything else, so that the worker thread survives it
            log.exception("Job %s (%s) failed", job.id, job.label)
            status, error = FAILED, unexpected_error_message(e)
        with self._changed:
            self._running = None
            self._end(job, status, result, error)
            self._changed.notify_all()

    def _end(self, job: Job, status: str, result: Any, error: str | None) -> None:
        """Record the outcome (caller holds the lock) and forget the oldest finished jobs beyond the limit."""
        job.status, job.result, job.error, job.finished, job.fn = status, result, error, time.time(), None
        finished = [j.id for j in self._jobs.values() if j.is_finished]
        for old in finished[:-self._keep]:
            del self._jobs[old]
