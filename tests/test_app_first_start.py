"""AppTest tests of the first start and its jobs: the banner above every page while the baselines train, their
states in the sidebar's polling fragment, Compare saying they are training, and "Open in Compare" from the Runs
page pointing the sidebar at the run's forget set and seed. Baseline trainings are held at a chosen point by a
stand-in for score_baselines, released by the test."""
from __future__ import annotations

import threading

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import context, sidebar, tasks
from mu_core.baselines import get_baseline, is_cached
from mu_core.pipeline import score_baselines
from mu_core.run_spec import spec_for
from mu_core.settings import experiment
from mu_core.training import Progress
from tests.appkit import SCRIPT_TIMEOUT, app_env, assert_clean, button, finished, open_app, texts  # noqa: F401

pytestmark = pytest.mark.usefixtures("app_env")
QUICK = {"epochs": 1, "batch_size": 256}


class HeldTraining:
    """Stands in for score_baselines in the dashboard's jobs (the Original of seed 0 is trained already): reports
    the Retrained model's first epoch and waits for `train`; trains it for real (its checkpoint lands) and waits
    for `finish`; then evaluates both."""

    def __init__(self):
        self.reported, self.train, self.landed, self.finish = (threading.Event() for _ in range(4))

    def __call__(self, exp, progress=None, cancel=None, notes=None):
        progress(Progress("Training Retrained, epoch 1/2", 1, 4, {"loss": 1.0}, 0.5, 1.5))
        self.reported.set()
        assert self.train.wait(SCRIPT_TIMEOUT), "the test never let the training go on"
        get_baseline(exp, "retrained")
        self.landed.set()
        assert self.finish.wait(SCRIPT_TIMEOUT), "the test never let the training finish"
        return score_baselines(exp, None, cancel)


@pytest.fixture
def held(monkeypatch):
    training = HeldTraining()
    monkeypatch.setattr(tasks, "first_start_job", lambda: None)  # only the test's own training
    monkeypatch.setattr(tasks, "score_baselines", training)
    yield training
    training.train.set()
    training.finish.set()


def polled_fragments(monkeypatch) -> list:
    """Every function the app runs as a fragment polled on a timer (recorded as st.fragment wraps it)."""
    polled, real = [], st.fragment

    def recording(func=None, *, run_every=None, **kwargs):
        if run_every and func is not None:
            polled.append(func)
        return real(func, run_every=run_every, **kwargs) if func is not None else real(run_every=run_every, **kwargs)

    monkeypatch.setattr(st, "fragment", recording)
    return polled


def sidebar_poll(exp, job_id: str) -> None:
    """One poll of the sidebar's baselines fragment (an AppTest script)."""
    import streamlit as st

    from dashboard import sidebar

    with st.sidebar:
        sidebar.baselines_live(exp, job_id)


def test_while_baselines_train_a_banner_tops_every_page_compare_says_training_now_and_the_states_follow(
        held, monkeypatch):
    polled = polled_fragments(monkeypatch)
    at = open_app()
    at.multiselect[0].set_value([11]).run()
    exp = at.session_state[sidebar.CURRENT].exp
    assert not is_cached(exp, "retrained")
    original = "trained" if is_cached(exp, "original") else "waiting"
    button(at, "Train baselines").click().run()
    job_id = tasks.baseline_job(exp).id
    assert held.reported.wait(SCRIPT_TIMEOUT)
    for page in ("forget_set", "unlearn", "compare", "runs"):
        at.switch_page(f"pages/{page}.py").run()
        assert_clean(at)
        shown = texts(at)
        assert "training the Original and Retrained models** (orl, person: s12, seed 0) · ETA about" in shown
        assert "Meanwhile you can browse the gallery and pick who to forget" in shown, page
        assert f"Retrained training, epoch 1/2; Original {original}" in [p.proto.text for p in at.main.get("progress")]
        if page == "compare":
            assert any("are training now (ETA about" in i.value and "train them from the sidebar" not in i.value
                       for i in at.info)
    assert sidebar.baselines_live in polled  # the sidebar's states are redrawn at every poll...
    poll = AppTest.from_function(sidebar_poll, args=(exp, job_id), default_timeout=SCRIPT_TIMEOUT).run()
    assert "Retrained (from scratch without the forget set): not trained yet" in texts(poll)
    held.train.set()
    assert held.landed.wait(SCRIPT_TIMEOUT)
    poll.run()
    assert "Retrained (from scratch without the forget set): trained" in texts(poll)  # ...as its checkpoint lands
    assert not tasks.baseline_job(exp).is_finished

    held.finish.set()
    assert finished(job_id).status == "done"
    at.run()
    assert_clean(at)
    assert "training the Original and Retrained models" not in texts(at)
    assert "Retrained (from scratch without the forget set): trained" in texts(at)
    assert not at.main.get("progress")


def opened_in_compare(at: AppTest, run_id: str) -> None:
    assert_clean(at)
    cur = at.session_state[sidebar.CURRENT]
    assert (cur.spec, cur.choice.seed) == ("people:5", 3)
    assert at.number_input(key=context.SEED).value == 3
    assert at.session_state[context.COMPARE_RUNS] == [run_id]
    assert "Metrics" in [h.value for h in at.subheader]


def test_open_in_compare_switches_the_sidebar_to_the_runs_forget_set_and_seed(monkeypatch, tmp_path):
    monkeypatch.setenv("MU_RUNS", str(tmp_path))
    at = open_app("unlearn")
    exp = experiment(forget_spec="people:5", seed=3)
    job = finished(tasks.submit_unlearn(exp, spec_for(exp, "finetune", QUICK), at.session_state[context.OWNER]))
    assert job.status == "done", job.error
    at.run()
    assert at.session_state[sidebar.CURRENT].spec != "people:5"
    button(at, "Open Fine-tuning").click().run()  # from the Unlearn page, with the sidebar elsewhere
    opened_in_compare(at, job.result)

    at.number_input(key=context.SEED).set_value(0).run()
    at.switch_page("pages/runs.py").run()
    button(at, "Open in Compare").click().run()  # the audit record shows the latest finished run
    opened_in_compare(at, job.result)
