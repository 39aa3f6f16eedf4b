"""What the dashboard is working on: the sidebar's choices (dataset, scenario, seed), the forget selection kept
in the browser session, the experiment they make, and the objects every browser session shares (the job runner
with its single compute slot, the run store, loaded baseline models)."""
from __future__ import annotations

import uuid
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
from mu_core.store import RunStore

# Session-state keys shared by the sidebar and the pages.
DATASET, DATA_DIR, SCENARIO, SEED = "sb_dataset", "sb_data_dir", "sb_scenario", "sb_seed"
LOADED_DIR = "loaded_data_dir"
FORGET = "forget_specs"
OWNER = "owner"
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
    """An id of this browser session (jobs are labelled with it)."""
    if OWNER not in st.session_state:
        st.session_state[OWNER] = uuid.uuid4().hex[:8]
    return st.session_state[OWNER]


@st.cache_resource(show_spinner=False)
def runner() -> JobRunner:
    """The process-wide job runner: one compute slot for every browser session."""
    return JobRunner()


@st.cache_resource(show_spinner=False)
def _store(root: str) -> RunStore:
    store = RunStore(Path(root))
    store.mark_interrupted()  # runs left "running" by a previous process of the app
    return store


def store() -> RunStore:
    return _store(str(settings().runs))


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
        return Current(choice, ds, spec, _experiment(choice, spec, settings()), None)
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


@st.cache_resource(show_spinner="Loading and evaluating the Original and Retrained models...", max_entries=3)
def _scored(_exp: Experiment, key: str) -> dict[str, Scored]:
    return score_baselines(_exp)


def baselines(exp: Experiment) -> dict[str, Scored] | None:
    """Original and Retrained with their evaluations, or None while either is not trained (never trains here)."""
    if not all(baselines_ready(exp).values()):
        return None
    return _scored(exp, experiment_key(exp))


@st.cache_resource(show_spinner="Loading the Original model...", max_entries=3)
def _original(_exp: Experiment, key: str) -> nn.Module:
    return get_baseline(_exp, "original").model


def original_model(exp: Experiment) -> nn.Module | None:
    """The Original model, or None while it is not trained."""
    if not is_cached(exp, "original"):
        return None
    return _original(exp, str(exp.checkpoint_stem("original")))
