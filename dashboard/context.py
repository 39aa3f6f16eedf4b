"""What the dashboard is working on: the sidebar's choices (dataset, scenario, seed), the forget selection kept
in the browser session, the experiment they make, and the objects every browser session shares (the job runner
with its single compute slot, the run store, loaded baseline models)."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch.nn as nn

from mu_core.baselines import BASELINES, get_baseline, is_cached
from mu_core.data import Dataset, load_dataset
from mu_core.errors import MUError
from mu_core.experiment import Experiment
from mu_core.jobs import JobRunner
from mu_core.pipeline import Scored, score_baselines
from mu_core.settings import Settings, experiment, settings
from mu_core.store import RunStore, StoreError

# Session-state keys shared by the sidebar and the pages.
DATASET, DATA_DIR, SCENARIO, SEED = "sb_dataset", "sb_data_dir", "sb_scenario", "sb_seed"
LOADED_DIR = "loaded_data_dir"
FORGET = "forget_specs"
OWNER = "owner"
OWNER_PARAM = "me"
COMPARE_RUNS = "compare_runs"


@dataclass(frozen=True)
class Choice:
    """The sidebar's choices. `data_dir` is a validated folder (None for the built-in faces)."""

    dataset: str
    data_dir: str | None
    scenario: str
    seed: int

    @property
    def data_key(self) -> str:
        return f"{self.dataset}@{self.data_dir or 'built-in'}"


@dataclass
class Current:
    """The choice, its dataset and forget selection, and the experiment they make (None with `problem` saying why:
    nothing selected, or a selection the engine refuses)."""

    choice: Choice
    dataset: Dataset
    spec: str | None
    exp: Experiment | None
    problem: str | None


def owner() -> str:
    """Who this browser tab is, for its jobs: only the owner of a job may cancel it.

    A Streamlit session ends with a page reload, so an id kept in the session alone would make a user's running
    job someone else's after a reload. The id is a random token kept both in the session and in the page's
    address (`?me=...`): a reload keeps the address, so the new session takes the token back. Streamlit cannot
    set cookies, and the headers and IP address are shared by every tab (and, behind a proxy, by every user), so
    the address is the one place in the browser that a reload keeps. A link copied with the token carries the
    right to cancel its owner's jobs, and nothing else."""
    token = st.session_state.get(OWNER)
    if token is None:
        given = st.query_params.get(OWNER_PARAM, "")
        token = given if re.fullmatch(r"[0-9a-f]{16}", given) else secrets.token_hex(8)
        st.session_state[OWNER] = token
    if st.query_params.get(OWNER_PARAM) != token:
        st.query_params[OWNER_PARAM] = token
    return token


@st.cache_resource(show_spinner=False)
def runner() -> JobRunner:
    """The process-wide job runner: one compute slot for every browser session. Its jobs use torch's default
    threads (one per core): on an idle 2-core machine a first start (both baselines trained) took 52 s with two
    threads and 78 s with one; on a loaded machine one thread is faster (scripts/startup_time.py)."""
    return JobRunner()


@st.cache_resource(show_spinner=False)
def _store(root: str) -> RunStore:
    return RunStore(Path(root))


def store() -> RunStore:
    """The run store. One that cannot be written (damaged, read-only) is opened afresh on every call, so that
    the app sees it as soon as the user has fixed it."""
    cached = _store(str(settings().runs))
    return cached if cached.writable else RunStore(cached.root)


def runs(status: str | None = None, dataset: str | None = None) -> list[dict]:
    """Stored runs (`RunStore.list`); none, with the reason shown, when the store cannot be read."""
    current = store()
    try:
        return current.list(status, dataset)
    except StoreError as e:
        if current.problem is None:  # else the banner already says it
            st.error(str(e), icon=":material/error:")
        return []


def store_banner() -> None:
    """Say on every page when runs cannot be stored or read, and why."""
    current = store()
    if current.damaged:
        st.error(current.damaged, icon=":material/database:")
    elif current.read_only:
        st.warning(f"**Read-only mode.** {current.read_only}", icon=":material/lock:")


def dataset(name: str, data_dir: str | None) -> Dataset:
    """A dataset by source name and folder (raises MUError with the reason when it cannot be loaded)."""
    return load_dataset(name, data_dir)


def forget_spec(choice: Choice, ds: Dataset) -> str | None:
    """The forget selection of this session for the chosen data and scenario: the scenario's default until the
    user changes it; None when the user emptied it."""
    specs = st.session_state.setdefault(FORGET, {})
    key = (choice.data_key, choice.scenario)
    if key not in specs:
        specs[key] = ds.scenarios[choice.scenario].default_forget
    return specs[key]


def set_forget_spec(choice: Choice, spec: str | None) -> None:
    st.session_state.setdefault(FORGET, {})[(choice.data_key, choice.scenario)] = spec


@st.cache_resource(show_spinner=False, max_entries=32)
def _experiment(choice: Choice, spec: str, env: Settings) -> Experiment:
    return experiment(choice.dataset, choice.scenario, spec, choice.seed, choice.data_dir)


def current(choice: Choice) -> Current:
    """Dataset, selection and experiment for `choice`; raises MUError when the dataset cannot be loaded."""
    ds = dataset(choice.dataset, choice.data_dir)
    if choice.scenario not in ds.scenarios:
        raise MUError(f"{ds.title} has no scenario {choice.scenario!r}.")
    spec = forget_spec(choice, ds)
    if not spec:
        return Current(choice, ds, None, None, "Nothing is selected to forget yet: choose people or photos on the "
                                               "Forget set page.")
    try:
        exp = _experiment(choice, spec, settings())
        # the canonical spelling (people:2,7 for people:s8,3,3): what the runs and the cached models are stored under
        return Current(choice, ds, exp.splits.forget_spec, exp, None)
    except MUError as e:
        return Current(choice, ds, spec, None, str(e))


def reference_experiment(cur: Current) -> Experiment:
    """An experiment on the chosen data even when nothing valid is selected (with the scenario's default forget
    set): what matching uploads against the training set needs."""
    if cur.exp is not None:
        return cur.exp
    return _experiment(cur.choice, cur.dataset.scenarios[cur.choice.scenario].default_forget, settings())


def experiment_key(exp: Experiment) -> str:
    """Identifies an experiment's models: the Retrained checkpoint name encodes dataset, forget set, seed and
    recipe."""
    return f"{exp.checkpoint_stem('retrained')}@{exp.device}"


def baselines_ready(exp: Experiment) -> dict[str, bool]:
    return {name: is_cached(exp, name) for name in BASELINES}


KEEP_EVALUATED = 3  # experiments whose evaluated baselines stay in memory


@st.cache_resource(show_spinner=False)
def evaluated() -> dict[str, dict[str, Scored]]:
    """Process-wide: experiment key -> its Original and Retrained with their evaluations, as the job that trained
    them (or the first page that needed them) left them, so that they are loaded and evaluated once."""
    return {}


def keep_evaluated(kept: dict[str, dict[str, Scored]], exp: Experiment, scored: dict[str, Scored]) -> None:
    """Remember `exp`'s evaluated baselines in `kept` (the dict of `evaluated`, taken by a job before it runs in
    its own thread), forgetting the oldest beyond KEEP_EVALUATED experiments."""
    key = experiment_key(exp)
    kept.pop(key, None)
    kept[key] = scored
    for old in list(kept)[:-KEEP_EVALUATED]:
        kept.pop(old, None)


def baselines(exp: Experiment) -> dict[str, Scored] | None:
    """Original and Retrained with their evaluations, or None while either is not trained (never trains here)."""
    if not all(baselines_ready(exp).values()):
        return None
    kept = evaluated()
    scored = kept.get(experiment_key(exp))
    if scored is None:
        with st.spinner("Loading and evaluating the Original and Retrained models..."):
            scored = score_baselines(exp)
        keep_evaluated(kept, exp, scored)
    return scored


@st.cache_resource(show_spinner="Loading the Original model...", max_entries=3)
def _original(_exp: Experiment, key: str) -> nn.Module:
    return get_baseline(_exp, "original").model


def original_model(exp: Experiment) -> nn.Module | None:
    """The Original model, or None while it is not trained."""
    if not is_cached(exp, "original"):
        return None
    return _original(exp, str(exp.checkpoint_stem("original")))
