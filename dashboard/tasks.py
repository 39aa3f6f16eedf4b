"""Background jobs of the dashboard (training baselines, unlearning runs) and their live view: progress bar,
step, losses, ETA, cancel, the shared queue."""
from __future__ import annotations

import time

import streamlit as st

from dashboard import context
from mu_core.baselines import is_cached
from mu_core.experiment import Experiment
from mu_core.jobs import Job
from mu_core.methods import get_method
from mu_core.pipeline import execute_run, score_baselines
from mu_core.settings import Settings, experiment, settings
from mu_core.store import StoreError

POLL_S = 1.0
SEEN = "finished_jobs_seen"
FIRST_START = "first start"  # the owner of the baselines trained on a fresh machine
BASELINES, UNLEARN = "baselines", "unlearn"  # job kinds
STATUS_ICONS = {"queued": ":material/schedule:", "running": ":material/sync:", "done": ":material/check_circle:",
                "failed": ":material/error:", "cancelled": ":material/cancel:"}


def describe(exp: Experiment) -> str:
    return f"{exp.dataset.name}, {exp.splits.scenario} {exp.splits.forget_spec}, seed {exp.seed}"


@st.cache_resource(show_spinner=False)
def _baseline_jobs() -> dict[str, str]:
    """Process-wide: experiment key -> id of the job training its baselines (so sessions do not train twice)."""
    return {}


def submit_baselines(exp: Experiment, owner: str) -> str:
    """Queue the training of the Original and Retrained models of `exp` (or return the job already doing it)."""
    jobs, key = _baseline_jobs(), context.experiment_key(exp)
    existing = context.runner().get(jobs[key]) if key in jobs else None
    if existing is not None and not existing.is_finished:
        return existing.id

    def train(progress, cancel) -> None:
        score_baselines(exp, progress, cancel)  # the models stay cached on disk, not in the job

    job_id = context.runner().submit(f"Train Original and Retrained ({describe(exp)})", train, owner, BASELINES)
    jobs[key] = job_id
    return job_id


def baseline_job(exp: Experiment) -> Job | None:
    """The latest job training `exp`'s baselines, if any."""
    job_id = _baseline_jobs().get(context.experiment_key(exp))
    return context.runner().get(job_id) if job_id else None


def submit_unlearn(exp: Experiment, method: str, overrides: dict, owner: str) -> str:
    """Queue an unlearning run: train any missing baseline first, then run, evaluate and store the method.
    The job's result is the run id. Raises StoreError, before queueing anything, when the run could not be
    stored."""
    store = context.store()
    if not store.writable:
        raise StoreError(f"Cannot launch: the run could not be stored. {store.problem}")

    def run(progress, cancel) -> str:
        baselines = score_baselines(exp, progress, cancel)
        return execute_run(exp, method, overrides, baselines, store, progress, cancel)[0]

    return context.runner().submit(f"{get_method(method).title} ({describe(exp)})", run, owner, UNLEARN)


def unlearn_jobs(owner: str) -> list[Job]:
    """The unlearning jobs of `owner`, oldest first (they outlive a page reload: see context.owner)."""
    return context.runner().owned(owner, UNLEARN)


def may_cancel(job: Job, owner: str) -> bool:
    """A user cancels their own jobs; the training started on a fresh machine belongs to no one, so anyone may."""
    return job.owner in (owner, FIRST_START)


@st.cache_resource(show_spinner=False)
def first_start(env: Settings) -> str | None:
    """On a fresh machine, train the default experiment's baselines in the background right away (the job id),
    so that the demo is ready a few minutes after the first start. None when the Original is already trained."""
    exp = experiment()
    if is_cached(exp, "original"):
        return None
    return submit_baselines(exp, FIRST_START)


def first_start_job() -> str | None:
    return first_start(settings())


def _elapsed(job: Job) -> str:
    if job.started is None:
        return ""
    return f"{(job.finished or time.time()) - job.started:.0f} s"


def show_job(job: Job, cancel_key: str | None = None) -> None:
    """A snapshot of a job: its state, progress bar with step, losses and ETA, a cancel button while it runs."""
    runner = context.runner()
    if job.status == "queued":
        position = runner.position(job.id)
        st.info(f"**{job.label}** is waiting for the compute slot"
                + (f" ({position - 1} job(s) ahead of it)." if position and position > 1 else ".")
                + " One job runs at a time for every user of this server.", icon=":material/schedule:")
    elif job.status == "running":
        p = job.progress
        if job.cancel_requested:
            st.warning(f"**{job.label}**: cancelling...", icon=":material/cancel:")
        if p is None:
            st.progress(0.0, text=f"{job.label}: starting...")
        else:
            eta = f", about {p.eta_s:.0f} s left" if p.eta_s is not None else ""
            st.progress(p.fraction, text=f"{job.label} · {p.stage}: step {p.step}/{p.total}{eta}")
            if p.losses:
                st.caption("Current losses: " + ", ".join(f"{k} **{v:.4f}**" for k, v in p.losses.items())
                           + f" · elapsed {_elapsed(job)}")
    elif job.status == "done":
        st.success(f"**{job.label}** finished in {_elapsed(job)}.", icon=":material/check_circle:")
    elif job.status == "cancelled":
        st.warning(f"**{job.label}** was cancelled. {job.error or ''}", icon=":material/cancel:")
    else:
        st.error(f"**{job.label}** failed: {job.error}", icon=":material/error:")
    me = context.owner()
    if cancel_key and not job.is_finished and not job.cancel_requested and may_cancel(job, me):
        st.button("Cancel", key=cancel_key, icon=":material/stop_circle:", on_click=runner.cancel,
                  args=(job.id, job.owner))


def _watched(job_id: str, cancel_key: str | None) -> None:
    job = context.runner().get(job_id)
    if job is None:
        return
    show_job(job, cancel_key)
    seen = st.session_state.setdefault(SEEN, set())
    if job.is_finished and job_id not in seen:
        seen.add(job_id)
        st.rerun()  # the whole app: baseline states, run lists and pages follow the finished job


def watch(job_id: str, cancel_key: str | None = None) -> None:
    """Show a job and keep it live: polled every POLL_S seconds while it is queued or running; when it finishes,
    the whole app reruns once so that everything that depends on it is up to date."""
    job = context.runner().get(job_id)
    if job is None:
        return
    if job.is_finished:
        st.session_state.setdefault(SEEN, set()).add(job_id)
        show_job(job)
        return
    st.fragment(_watched, run_every=POLL_S)(job_id, cancel_key)


def _queue() -> None:
    jobs = context.runner().queue()
    if not jobs:
        st.caption("Compute slot: free.")
        return
    me = context.owner()
    st.markdown("**Compute queue** (one job at a time):")
    for i, job in enumerate(jobs):
        whose = "yours" if job.owner == me else (FIRST_START if job.owner == FIRST_START else "another user")
        state = "running" if i == 0 and job.status == "running" else f"queued #{i}"
        st.markdown(f"{STATUS_ICONS.get(job.status, '')} {job.label} ({state}, {whose})")
        if job.cancel_requested:
            st.caption("Cancelling...")
        elif may_cancel(job, me):
            st.button("Cancel", key=f"queue.cancel.{job.id}", icon=":material/stop_circle:", help=job.label,
                      on_click=context.runner().cancel, args=(job.id, job.owner))


def queue_view() -> None:
    """The shared compute queue: the running job and the waiting ones, with whose they are; kept live while
    there are any."""
    st.fragment(_queue, run_every=POLL_S * 2 if context.runner().queue() else None)()
