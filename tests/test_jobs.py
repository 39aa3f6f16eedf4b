"""The background job runner: one slot, FIFO order, progress, cancel (queued and running), failures."""
from __future__ import annotations

import logging
import threading

import pytest

from mu_core.errors import Cancelled, DataError
from mu_core.jobs import JobRunner
from mu_core.training import Tracker

TIMEOUT = 10


@pytest.fixture
def runner():
    return JobRunner()


def blocker(started: threading.Event, release: threading.Event):
    """A job that reports progress, then waits for `release` while honouring cancel."""
    def fn(progress, cancel):
        tracker = Tracker(2, progress, cancel, "blocking")
        tracker.step(loss=1.0)
        started.set()
        while not release.wait(0.01):
            tracker.check_cancel()
        return "released"
    return fn


def test_jobs_run_one_at_a_time_in_submission_order(runner):
    order, active, overlap = [], [0], []
    lock = threading.Lock()

    def job(n):
        def fn(progress, cancel):
            with lock:
                active[0] += 1
                overlap.append(active[0])
            order.append(n)
            with lock:
                active[0] -= 1
            return n * 10
        return fn

    ids = [runner.submit(f"job {n}", job(n), owner="me") for n in range(5)]
    finished = [runner.wait(i, TIMEOUT) for i in ids]
    assert order == list(range(5))
    assert max(overlap) == 1
    assert [j.status for j in finished] == ["done"] * 5
    assert [j.result for j in finished] == [0, 10, 20, 30, 40]
    assert all(j.started >= j.created and j.finished >= j.started for j in finished)
    assert [j.id for j in runner.recent(3)] == ids[::-1][:3]
    assert runner.position(ids[0]) is None and runner.queue() == []


def test_queue_positions_progress_and_cancel_of_a_queued_job(runner):
    started, release = threading.Event(), threading.Event()
    first = runner.submit("first", blocker(started, release))
    second = runner.submit("second", lambda p, c: "second")
    third = runner.submit("third", lambda p, c: "third")
    assert started.wait(TIMEOUT)
    assert [j.id for j in runner.queue()] == [first, second, third]
    assert [runner.position(i) for i in (first, second, third)] == [0, 1, 2]
    running = runner.get(first)
    assert running.status == "running" and running.progress.step == 1 and running.progress.total == 2

    runner.cancel(second)
    cancelled = runner.get(second)
    assert cancelled.status == "cancelled" and cancelled.finished is not None and cancelled.started is None
    assert runner.position(second) is None and runner.position(third) == 1

    release.set()
    assert runner.wait(first, TIMEOUT).result == "released"
    assert runner.wait(third, TIMEOUT).status == "done"


def test_cancel_a_running_job(runner):
    started, release = threading.Event(), threading.Event()
    job_id = runner.submit("long", blocker(started, release))
    after = runner.submit("after", lambda p, c: "ran")
    assert started.wait(TIMEOUT)
    runner.cancel(job_id)
    job = runner.wait(job_id, TIMEOUT)
    assert job.status == "cancelled" and job.cancel_requested and job.result is None
    assert "Cancelled" in job.error
    assert runner.wait(after, TIMEOUT).result == "ran"  # the slot is free again


def test_failures_keep_the_worker_alive(runner, caplog):
    def user_error(progress, cancel):
        raise DataError("The forget set is empty.")

    def bug(progress, cancel):
        raise ZeroDivisionError("division by zero\nsecond line")

    def raises_cancelled(progress, cancel):
        raise Cancelled("Cancelled by the user; nothing was stored.")

    with caplog.at_level(logging.ERROR, logger="mu_core.jobs"):
        ids = [runner.submit(n, fn) for n, fn in (("a", user_error), ("b", bug), ("c", raises_cancelled))]
        ok = runner.submit("d", lambda p, c: 42)
        jobs = [runner.wait(i, TIMEOUT) for i in ids]
        assert runner.wait(ok, TIMEOUT).result == 42
    assert jobs[0].status == "failed" and jobs[0].error == "The forget set is empty."
    assert jobs[1].status == "failed"
    assert "ZeroDivisionError: division by zero" in jobs[1].error and "second line" not in jobs[1].error
    assert "Traceback" not in jobs[1].error
    assert "Traceback" in caplog.text  # the traceback goes to the log
    assert jobs[2].status == "cancelled"


def test_unknown_ids_and_finished_job_limit():
    runner = JobRunner(keep_finished=2)
    assert runner.get("nope") is None and runner.position("nope") is None
    runner.cancel("nope")
    ids = [runner.submit(str(n), lambda p, c: None) for n in range(4)]
    for i in ids:
        runner.wait(i, TIMEOUT)
    assert runner.get(ids[0]) is None and runner.get(ids[3]).status == "done"
    assert [j.id for j in runner.recent()] == [ids[3], ids[2]]
    runner.cancel(ids[3])  # a finished job stays as it is
    assert runner.get(ids[3]).status == "done"


def test_snapshots_are_copies(runner):
    job_id = runner.submit("x", lambda p, c: 1)
    snapshot = runner.get(job_id)
    snapshot.status = "tampered"
    assert runner.wait(job_id, TIMEOUT).status == "done"


def test_only_the_owner_cancels_and_sees_their_jobs_by_kind(runner):
    started, release = threading.Event(), threading.Event()
    mine = runner.submit("mine", blocker(started, release), owner="alice", kind="unlearn")
    queued = runner.submit("queued", lambda p, c: None, owner="alice", kind="baselines")
    assert started.wait(TIMEOUT)
    assert [j.id for j in runner.owned("alice")] == [mine, queued]
    assert [j.id for j in runner.owned("alice", "unlearn")] == [mine] and runner.owned("bob") == []
    assert runner.cancel(mine, owner="bob") is False and not runner.get(mine).cancel_requested
    assert runner.cancel(queued, owner="alice") is True and runner.get(queued).status == "cancelled"
    assert runner.cancel(mine, owner="alice") is True
    assert runner.wait(mine, TIMEOUT).status == "cancelled"
