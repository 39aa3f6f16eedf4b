"""The verdict card at the top of Compare (the verdict first): did the model forget the chosen people,
in plain words, one line per check of the run's verdict with its evidence (green pass, red fail, grey cannot
tell and what would decide it), the cost, and the reference bank that decides membership (built as a job with
progress and cancel)."""
from __future__ import annotations

import os

import streamlit as st

from dashboard import context, tasks
from mu_core.bank_verdict import bank_ready, judge_run, stored_bank_verdict
from mu_core.experiment import Experiment
from mu_core.pipeline import Scored
from mu_core.results import ModelResult
from mu_core.verdict import SUGGESTED_BANK

COLOURS = {True: "green", False: "red", None: "gray"}
WORDS = {True: ":material/check_circle: pass", False: ":material/cancel: fail", None: ":material/help: cannot tell"}
TITLES = {"recognition": "Recognition", "utility": "Everyone else", "membership": "Membership, photo by photo",
          "identity_features": "Identity in the face features", "over_forgetting": "Over-forgetting",
          "cost": "Cost"}
EXPLAIN = {
    "over_forgetting": "Over-forgetting: pushing the forgotten photos further from their person than a model "
                       "that never saw them would makes them stand out again, and that itself tells an attacker "
                       "they were trained on.",
    "identity_features": "\"The features still tell them apart\": a model can stop naming a person while the face "
                         "features under its last layer still separate that person's photos from everyone "
                         "else's, so a face-verification system built on them would still recognise them.",
}
BANK_JOBS = "bank"


def bank_minutes(retrain_seconds: float, n: int = SUGGESTED_BANK, cores: int | None = None) -> float:
    """Rough wall time of a bank of n Retrained models: n trainings like the Retrained one, one per core."""
    return retrain_seconds * n / max(1, cores or os.cpu_count() or 1) / 60


def headline(verdict: dict | None, who: str) -> tuple[str, str]:
    """(colour, sentence) of the card's first line."""
    if not verdict:
        return "gray", f"No verdict for {who}: this run was stored before runs carried one."
    forgotten = verdict.get("forgotten")
    words = {True: f"{who} forgotten", False: f"{who} not forgotten", None: f"{who}: cannot tell yet"}[forgotten]
    return COLOURS[forgotten], words


def check_line(check: dict, decide: str = "") -> str:
    """One check as a markdown line: a coloured badge, its title and its evidence (and, when it cannot tell, what
    would decide it)."""
    passed = check.get("pass")
    if check["name"] == "cost":
        badge = ":blue-badge[:material/timer: informs]"
    else:
        badge = f":{COLOURS[passed]}-badge[{WORDS[passed]}]"
    extra = f" **To decide:** {decide}" if passed is None and decide and check["name"] == "membership" else ""
    return f"{badge} **{TITLES.get(check['name'], check['name'])}**: {check.get('text', '')}{extra}"


def cost_line(result: ModelResult, retrain_seconds: float) -> str:
    """The run's cost in seconds and as a share of retraining (wall time, and compute when counted)."""
    seconds, ratio = result.seconds, result.time_ratio
    compute = result.metrics.get("compute_ratio")
    text = f"**{seconds:.1f} s** instead of {retrain_seconds:.0f} s to retrain" if seconds is not None else \
        "time unknown"
    if ratio is not None:
        text += f" ({100 * ratio:.1f}% of retraining's wall time"
        text += f", {100 * compute:.1f}% of its compute)" if compute is not None else ")"
    return text


def show(verdict: dict | None, result: ModelResult, who: str, label: str, retrain_seconds: float,
         decide: str = "") -> None:
    """The card: headline, one line per check, the cost, the two explanations (inside a container keyed
    `verdict`)."""
    with st.container(key="verdict", border=True):
        colour, sentence = headline(verdict, who)
        level = "" if not verdict else (f" · reference bank of {verdict['n_models']} models"
                                        if verdict.get("level") == "bank" else " · one Retrained model")
        st.markdown(f"### :{colour}[{sentence}]")
        st.caption(f"{label}{level}")
        if verdict:
            if verdict.get("summary"):
                st.markdown(verdict["summary"])
            for check in verdict.get("checks", []):
                if check["name"] != "cost":
                    st.markdown(check_line(check, decide))
        else:
            st.markdown(":gray-badge[:material/help: no verdict] Launch the method again to judge it.")
        st.markdown(f":blue-badge[:material/timer: cost] **Cost**: {cost_line(result, retrain_seconds)}")
        with st.expander("What over-forgetting and \"the features still tell them apart\" mean"):
            st.markdown("\n\n".join(EXPLAIN.values()))


@st.cache_resource(show_spinner=False)
def _bank_jobs() -> dict[str, str]:
    """Process-wide: run id and bank size -> the job judging that run with a bank."""
    return {}


def submit_bank(exp: Experiment, run: dict, n: int, base: dict[str, Scored]) -> str:
    """Queue the job that builds (or loads) the bank of n Retrained models and judges `run` with it."""
    jobs, key = _bank_jobs(), f"{run['id']}@{n}"
    existing = context.runner().get(jobs[key]) if key in jobs else None
    if existing is not None and not existing.is_finished:
        return existing.id
    store = context.store()

    def judge(progress, cancel) -> None:
        judge_run(exp, run, n, base, store, progress=progress, cancel=cancel)

    jobs[key] = context.runner().submit(f"Reference bank of {n} models and {n} runs of {run['method']}", judge,
                                        context.owner(), BANK_JOBS)
    return jobs[key]


def bank_section(exp: Experiment, run: dict, base: dict[str, Scored], n: int = SUGGESTED_BANK) -> dict | None:
    """The run's bank-level verdict when it was computed; otherwise the button that computes it (or the job
    doing it, live). Returns {"verdict", "metrics", "epsilons"} or None."""
    judged = stored_bank_verdict(context.store(), run["id"], n)
    if judged is not None:
        return judged
    job_id = _bank_jobs().get(f"{run['id']}@{n}")
    job = context.runner().get(job_id) if job_id else None
    if job is not None and (not job.is_finished or job.status in ("failed", "cancelled")):
        tasks.watch(job.id, cancel_key=f"cancel.bank.{job.id}")
        if not job.is_finished:
            return None
    minutes = bank_minutes(base["retrained"].result.seconds, n)
    cached = "the models are already trained, " if bank_ready(exp, n) else ""
    if st.button(f"Decide membership: build a reference bank of {n} models ({cached}about {minutes:.0f} min)",
                 icon=":material/account_balance:", key=f"bank.{run['id']}",
                 help="Trains N Retrained models (cached for this forget set) and runs the method N times with "
                      "N seeds: the per-photo membership check needs their distributions."):
        submit_bank(exp, run, n, base)
        st.rerun()
    return None


def bank_judged(run_id: str, n: int = SUGGESTED_BANK) -> dict | None:
    """The run's bank-level verdict, metrics and epsilons when they were computed."""
    return stored_bank_verdict(context.store(), run_id, n)
