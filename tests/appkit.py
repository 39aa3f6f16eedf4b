"""What the dashboard's tests share: tiny settings in the environment (2 epochs at 32 px on the CPU, checkpoints
and runs in temporary folders), the default experiment's baselines trained once, and AppTest helpers."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from mu_core.jobs import Job

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
TINY_ENV = {"MU_EPOCHS": "2", "MU_IMAGE_SIZE": "32", "MU_DEVICE": "cpu"}
SCRIPT_TIMEOUT = 300   # seconds one script run may take (loading and evaluating models on a busy CPU)
JOB_TIMEOUT = 600


@pytest.fixture(scope="session")
def app_env(tiny_dirs, tiny_baselines):
    """The environment the dashboard reads (mu_core.settings), with the default experiment's Original and
    Retrained already trained (by the shared `tiny_baselines`, same folder and recipe).

    A server runs its legacy pages/ mode only until app.py first calls st.navigation; AppTest starts every run
    afresh in that mode, which would run a page without app.py from the second run on. The pages manager is made
    to behave as in a running server."""
    mp = pytest.MonkeyPatch()
    for key, value in TINY_ENV.items():
        mp.setenv(key, value)
    init = PagesManager.__init__

    def as_in_a_running_server(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    mp.setattr(PagesManager, "__init__", as_in_a_running_server)
    yield tiny_dirs
    mp.undo()


def open_app(page: str | None = None) -> AppTest:
    """A fresh browser session on the app (optionally switched to pages/`page`.py), run once, without errors."""
    at = AppTest.from_file(APP, default_timeout=SCRIPT_TIMEOUT)
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def texts(at: AppTest) -> str:
    """Every markdown, caption and alert text of the last run, in one string."""
    parts = [e.value for kind in ("markdown", "caption", "info", "success", "warning", "error")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def button(at: AppTest, label: str):
    """The button whose label starts with `label`."""
    found = [b for b in at.button if b.label.startswith(label)]
    assert found, f"no button {label!r} among {[b.label for b in at.button]}"
    return found[0]


def wait_until(predicate, timeout: float = JOB_TIMEOUT, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")


def finished(job_id: str) -> Job:
    from dashboard.context import runner
    job = runner().wait(job_id, JOB_TIMEOUT)
    assert job is not None and job.is_finished, job
    return job
