"""The sidebar every page shares: what the demo shows, dataset, scenario and seed, the forget selection in one
line, the state of the Original and Retrained baselines with a button to train them, and the compute queue."""
from __future__ import annotations

import threading

import streamlit as st

from dashboard import context, tasks
from mu_core.data import SOURCES, check_data_path, inspect_data_dir
from mu_core.errors import MUError
from mu_core.experiment import Experiment

INTRO = ("Someone asks a face-recognition model to forget them: pick their photos, run an unlearning method and "
         "check, beside the Original model and a model retrained from scratch without those photos, whether the "
         "model really forgot them. Everything is measured: accuracy on everyone else, loss distributions, a "
         "membership-inference attack and the time it took.")
CURRENT = "current"
GOTO_PAGE = "page"
GOTO_COMPARE = "goto_compare"
_framed = threading.local()  # per script thread: is a page running inside app.py's frame?


def _data_folder(name: str) -> str | None:
    """The validated data folder of a bring-your-own source (None until a valid one is loaded)."""
    loaded = st.session_state.setdefault(context.LOADED_DIR, {})
    typed = st.text_input("Data folder", key=f"{context.DATA_DIR}.{name}", placeholder="/path/to/the/dataset",
                          help=SOURCES[name].layout or None)
    if st.button("Load data", key=f"load.{name}", icon=":material/folder_open:"):
        try:
            folder = check_data_path(typed)
            summary = inspect_data_dir(name, folder)
        except MUError as e:
            st.error(str(e))
        else:
            loaded[name] = str(folder)
            st.caption(f"{summary['rows']} rows, {summary['identities']} identities, "
                       f"{summary['missing_files']} missing files.")
    return loaded.get(name)


def _choice() -> context.Choice | None:
    names = list(SOURCES)
    name = st.selectbox("Dataset", names, key=context.DATASET,
                        format_func=lambda n: "Built-in faces (ORL)" if n == "orl" else n,
                        help="\n\n".join(f"**{n}**: {s.description}" for n, s in SOURCES.items()))
    data_dir = _data_folder(name) if SOURCES[name].needs_folder else None
    if SOURCES[name].needs_folder and data_dir is None:
        st.info("Give the folder holding this dataset (see docs/datasets.md), then load it.")
        return None
    try:
        with st.spinner("Reading the dataset (every image is checked once)..."):
            ds = context.dataset(name, data_dir)
    except MUError as e:
        st.error(str(e))
        return None
    scenarios = list(ds.scenarios)
    if st.session_state.get(context.SCENARIO) not in scenarios:
        st.session_state[context.SCENARIO] = ds.default_scenario
    scenario = st.selectbox("Scenario", scenarios, key=context.SCENARIO,
                            help="\n\n".join(f"**{s.name}**: {s.description}" for s in ds.scenarios.values()))
    seed = st.number_input("Seed", min_value=0, max_value=9999, step=1, key=context.SEED,
                           help="Seeds the training of the baselines and the unlearning runs.")
    return context.Choice(name, data_dir, scenario, int(seed))


def _states(exp: Experiment) -> dict[str, bool]:
    """Each baseline, trained or not, read from the checkpoints at every call."""
    ready = context.baselines_ready(exp)
    for name, text in (("original", "Original (trained on all training photos)"),
                       ("retrained", "Retrained (from scratch without the forget set)")):
        st.markdown(f"{':green[:material/check_circle:]' if ready[name] else ':orange[:material/pending:]'} "
                    f"{text}: {'trained' if ready[name] else 'not trained yet'}")
    return ready


def baselines_live(exp: Experiment, job_id: str) -> None:
    """While a job trains the baselines: their states (each turns to trained as soon as its checkpoint lands) and
    the job's progress (the body of a polling fragment)."""
    _states(exp)
    tasks.watched(job_id, cancel_key=f"cancel.baselines.{job_id}")


def _baselines(cur: context.Current) -> None:
    st.markdown("**Baselines** for this forget set")
    if cur.exp is None:
        st.caption(cur.problem)
        return
    job = tasks.baseline_job(cur.exp)
    if job is not None and not job.is_finished:
        st.fragment(baselines_live, run_every=tasks.POLL_S)(cur.exp, job.id)
        return
    ready = _states(cur.exp)
    if job is not None and job.status != "done":
        tasks.show_job(job)  # why the last training stopped
    if not all(ready.values()) and st.button(
            "Train baselines", icon=":material/model_training:", type="primary",
            help="Trains the missing models in the background; the app stays usable meanwhile."):
        tasks.submit_baselines(cur.exp, context.owner())
        st.rerun()


def _sidebar() -> context.Current | None:
    with st.sidebar:
        st.markdown("### :material/face_retouching_off: Face unlearning")
        st.caption(INTRO)
        choice = _choice()
        if choice is None:
            return None
        try:
            cur = context.current(choice)
        except MUError as e:
            st.error(str(e))
            return None
        st.session_state[CURRENT] = cur
        _baselines(cur)
        tasks.queue_view()
        if cur.dataset.credit:
            st.caption(cur.dataset.credit)
    return cur


def render() -> context.Current | None:
    """Prepare the shared objects, draw the sidebar and, above the page, the banners (the run store's state,
    baselines in training); returns what the pages work on (also kept in st.session_state[CURRENT]), or None when
    no dataset is usable."""
    st.session_state[CURRENT] = None
    context.owner()  # keeps this tab's owner token in the address, so that a reload keeps its jobs
    context.store_banner()
    try:
        tasks.first_start_job()
    except MUError as e:
        st.error(str(e))
        return None
    cur = _sidebar()
    tasks.training_banner(cur.exp if cur is not None else None)
    return cur


def open_in_compare(run: dict) -> None:
    """Button callback (a stored run of the sidebar's dataset): point the sidebar at the run's scenario, forget set
    and seed, pick the run in Compare and open it there (at the start of the next run, in run_page)."""
    choice = st.session_state[CURRENT].choice
    st.session_state[context.SCENARIO] = run["scenario"]
    st.session_state[context.SEED] = run["seed"]
    context.set_forget_spec(context.Choice(choice.dataset, choice.data_dir, run["scenario"], run["seed"]),
                            run["forget"])
    st.session_state[context.COMPARE_RUNS] = [run["id"]]
    st.session_state[GOTO_COMPARE] = True


def run_page(page: st.Page) -> None:
    """app.py: draw the sidebar, then run the page inside the frame."""
    if st.session_state.pop(GOTO_COMPARE, False):
        st.switch_page("pages/compare.py")
    render()
    _framed.on = True
    try:
        page.run()
    finally:
        _framed.on = False


def active() -> context.Current:
    """What the sidebar chose in this run; pages stop with a message when there is nothing to work on.
    A page that Streamlit runs on its own (its legacy pages/ mode, before any session of this server ran app.py)
    draws the frame itself; a fresh session opened that way goes through app.py, which comes back here."""
    if not getattr(_framed, "on", False):
        if CURRENT not in st.session_state:
            st.switch_page("app.py", query_params={GOTO_PAGE: (st.context.url or "").rstrip("/").rsplit("/", 1)[-1]})
        render()
    cur = st.session_state.get(CURRENT)
    if cur is None:
        st.info("Choose a dataset in the sidebar to start.")
        st.stop()
    return cur
