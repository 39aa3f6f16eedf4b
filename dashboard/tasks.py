"""Background jobs of the dashboard (training baselines, unlearning runs) and their live view: progress bar,
step, losses, ETA, cancel, the shared queue."""
from __future__ import annotations

import math
import time
from typing import Callable

import streamlit as st

from dashboard import context, demo
from mu_core.baselines import BASELINES as MODELS, is_cached
from mu_core.experiment import Experiment
from mu_core.jobs import Job, Stages
from mu_core.pipeline import Scored, execute_run, score_baselines
from mu_core.run_spec import RunSpec
from mu_core.settings import Settings, experiment, settings
from mu_core.store import StoreError

POLL_S = 1.0
SEEN = "finished_jobs_seen"
FIRST_START = "first start"  # the owner of the baselines trained on a fresh machine
BASELINES, UNLEARN = "baselines", "unlearn"  # job kinds
STATUS_ICONS = {"queued": ":material/schedule:", "running": ":material/sync:", "done": ":material/check_circle:",
                "failed": ":material/error:", "cancelled": ":material/cancel:"}


def describe(exp: Experiment) -> str:
    """A job's experiment in the user's words: the forget set named by people or photos, never by indices."""
    return f"{exp.dataset.name}, {exp.splits.scenario}: {demo.forget_name(exp.dataset, exp.splits.forget_spec)}, " \
           f"seed {exp.seed}"


@st.cache_resource(show_spinner=False)
def _baseline_jobs() -> dict[str, tuple[str, Experiment]]:
    """Process-wide: experiment key -> id of the job training its baselines (so sessions do not train twice), with
    the experiment."""
    return {}


def training_steps(exp: Experiment, name: str) -> int:
    """Optimizer steps of training the baseline `name` (as mu_core.training.fit counts them)."""
    n = len(exp.splits.train if name == "original" else exp.splits.retain)
    return exp.recipe.epochs * max(1, math.ceil(n / exp.recipe.batch_size))


def _stage(name: str) -> str:
    return f"Training {name.capitalize()}"  # how mu_core.baselines names the training of a baseline


def _scoring(exp: Experiment, kept: dict) -> Callable:
    """What a job runs to get `exp`'s evaluated baselines: the ones already in memory, or train what is missing
    and evaluate both (one progress over both trainings), kept in memory for the pages and later runs."""
    stages = {_stage(name): training_steps(exp, name) for name in ("retrained", "original")
              if not is_cached(exp, name)}  # in the order mu_core.pipeline.score_baselines trains them

    def scored(progress, cancel) -> dict[str, Scored]:
        found = None if stages else kept.get(context.experiment_key(exp))
        if found is None:
            found = score_baselines(exp, Stages(stages, progress), cancel)
            context.keep_evaluated(kept, exp, found)
        return found

    return scored


def submit_baselines(exp: Experiment, owner: str) -> str:
    """Queue the training of the Original and Retrained models of `exp` (or return the job already doing it)."""
    jobs, key = _baseline_jobs(), context.experiment_key(exp)
    existing = context.runner().get(jobs[key][0]) if key in jobs else None
    if existing is not None and not existing.is_finished:
        return existing.id
    scoring = _scoring(exp, context.evaluated())

    def train(progress, cancel) -> None:
        scoring(progress, cancel)  # the models stay cached on disk and in memory, not in the job

    job_id = context.runner().submit(f"Train Original and Retrained ({describe(exp)})", train, owner, BASELINES)
    jobs[key] = job_id, exp
    return job_id


def baseline_job(exp: Experiment) -> Job | None:
    """The latest job training `exp`'s baselines, if any."""
    job_id, _ = _baseline_jobs().get(context.experiment_key(exp), (None, None))
    return context.runner().get(job_id) if job_id else None


def submit_unlearn(exp: Experiment, spec: RunSpec, owner: str) -> str:
    """Queue an unlearning run of `spec` (resolved by the page, not again here): train any missing baseline first
    (else take the evaluated ones held in memory), then run, evaluate and store the method. The job's result is
    the run id. Raises StoreError, before queueing anything, when the run could not be stored."""
    store = context.store()
    if not store.writable:
        raise StoreError(f"Cannot launch: the run could not be stored. {store.problem}")

    scoring = _scoring(exp, context.evaluated())

    def run(progress, cancel) -> str:
        baselines = scoring(progress, cancel)
        return execute_run(exp, spec, baselines, store, progress, cancel)[0]

    return context.runner().submit(f"{spec.method.title} ({describe(exp)})", run, owner, UNLEARN)


def unlearn_jobs(owner: str) -> list[Job]:
    """The unlearning jobs of `owner`, oldest first (they outlive a page reload: see context.owner)."""
    return context.runner().owned(owner, UNLEARN)


def may_cancel(job: Job, owner: str) -> bool:
    """A user cancels their own jobs; the training started on a fresh machine belongs to no one, so anyone may."""
    return job.owner in (owner, FIRST_START)


@st.cache_resource(show_spinner=False)
def first_start(env: Settings) -> str | None:
    """On a fresh machine, train the default experiment's baselines in the background right away (the job id),
    so that the demo is ready soon after the first start. None when both are already trained."""
    exp = experiment()
    if all(is_cached(exp, name) for name in MODELS):
        return None
    return submit_baselines(exp, FIRST_START)


def first_start_job() -> str | None:
    return first_start(settings())


def duration(seconds: float) -> str:
    """About how long, in words: "about 40 s", "about 3 min"."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    return f"about {round(seconds / 60)} min"


def training_eta(job: Job) -> str:
    """How far a baselines job is, in words: queued, starting, the time left for training, or evaluating."""
    if job.status == "queued":
        ahead = (context.runner().position(job.id) or 1) - 1
        return "waiting for the compute slot" + (f", {ahead} job(s) ahead" if ahead else "")
    p = job.progress
    if p is None or p.eta_s is None:
        return "starting"
    if p.step >= p.total:
        return "evaluating both models, a few seconds"
    return f"ETA {duration(p.eta_s)}"


def training_note(exp: Experiment) -> str | None:
    """What a page needing `exp`'s baselines says while they are being trained (None when they are not)."""
    job = baseline_job(exp)
    if job is None or job.is_finished:
        return None
    now = "queued for training" if job.status == "queued" else "training now"
    return (f"The Original and Retrained models of this forget set are {now} ({training_eta(job)}); this page "
            "fills in as soon as both are trained.")


MEANWHILE = ("Meanwhile you can browse the gallery and pick who to forget on the **Forget set** page, and read "
             "what each method does on the **Unlearn** page; Compare and launching a run need both models.")


def _model_states(exp: Experiment, job: Job) -> str:
    """"Retrained trained; Original training, epoch 3/12": each model's state in a running baselines job."""
    stage = job.progress.stage if job.progress else ""
    states = []
    for name in ("retrained", "original"):
        if is_cached(exp, name):
            state = "trained"
        elif stage.startswith(_stage(name)):
            epoch = stage.removeprefix(_stage(name)).strip(" ,")
            state = f"training, {epoch}" if epoch else "training"
        else:
            state = "waiting"
        states.append(f"{name.capitalize()} {state}")
    return "; ".join(states)


def _banner(job_id: str) -> None:
    job = context.runner().get(job_id)
    if job is None:
        return
    _rerun_once(job)
    if job.is_finished:
        return
    exp = next((e for i, e in _baseline_jobs().values() if i == job_id), None)
    if exp is None:
        return
    first = "Preparing the demo: " if job.owner == FIRST_START else ""
    with st.container(border=True, key="training_banner"):
        st.markdown(f":material/model_training: **{first}training the Original and Retrained models** "
                    f"({describe(exp)}) · {training_eta(job)}")
        st.progress(job.progress.fraction if job.progress else 0.0, text=_model_states(exp, job))
        st.caption(MEANWHILE)


def training_banner(exp: Experiment | None) -> None:
    """Above every page while baselines are being trained (or wait for the compute slot), those of `exp` first:
    both models' states, the time left and what can be done meanwhile; kept live, and gone (the app reruns once)
    when they are done."""
    job = baseline_job(exp) if exp is not None else None
    if job is None or job.is_finished:
        job = next((j for j in context.runner().queue() if j.kind == BASELINES), None)
    if job is not None:
        st.fragment(_banner, run_every=POLL_S)(job.id)


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


def _rerun_once(job: Job) -> None:
    """After `job` finished: rerun the whole app once, so that baseline states, run lists and pages follow it."""
    seen = st.session_state.setdefault(SEEN, set())
    if job.is_finished and job.id not in seen:
        seen.add(job.id)
        st.rerun()


def watched(job_id: str, cancel_key: str | None = None) -> None:
    """One look at a job (the body of a polling fragment): `show_job`, and the app reruns once when it ends."""
    job = context.runner().get(job_id)
    if job is None:
        return
    show_job(job, cancel_key)
    _rerun_once(job)


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
    st.fragment(watched, run_every=POLL_S)(job_id, cancel_key)


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
