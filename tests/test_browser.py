"""Real-browser tests: Playwright drives Debian's Chromium (headless) against `streamlit run app.py` on 127.0.0.1,
with tiny settings. They also take the screenshots under docs/screenshots/ (1400 px wide, full page).
Deselect them with `-m "not browser"`."""
from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from dashboard.demo import recommendation
from dashboard.server import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, Server
from mu_core.data import load_dataset
from mu_core.methods import REGISTRY
from mu_core.pipeline import score_baselines
from mu_core.settings import experiment
from mu_core.store import RunStore
from tests.appkit import ROOT, app_env  # noqa: F401

pytestmark = pytest.mark.browser
SHOTS = ROOT / "docs" / "screenshots"
WIDTH = VIEWPORT["width"]
START_TIMEOUT = 180   # seconds for the server to answer its health check (imports torch on a busy CPU)
UI_TIMEOUT = 180_000  # milliseconds for the page to show something computed (loading, evaluating models)
RUN_TIMEOUT = 600_000


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT}


# Settings of the demo the browser sees: small enough for CI, big enough for the screenshots to show a model that
# recognises people (about 0.85 test accuracy at 12 epochs of 32 px photos) and an attack on 27 vs 27 photos.
DEMO_ENV = {"MU_EPOCHS": "12", "MU_IMAGE_SIZE": "32"}
FORGET = "people:0,2,7,13,19,24,29,34,38"  # the default forget set with s1 ticked in the gallery
FORGET_NAMES = "people:s1,s3,s8,s14,s20,s25,s30,s35,s39"  # the same, as the page names it
ONE_PERSON = "people:4"  # s5, the story of one person
# CF-k at its published defaults (k = 3, 2 epochs, lr 0.001; the built-in faces have no preset for it since the
# verdict-based tuning): at the demo size it still recognises every forgotten photo (forget accuracy 1.00, test
# accuracy 0.86, 7.7 s in CI on 2026-11-28), so the screenshots show an honest "not forgotten".
METHOD = "CF-k"


@pytest.fixture(scope="module")
def server(app_env, tmp_path_factory):
    """The app with the demo settings, its Original and the Retrained models of FORGET and of the default forget
    set trained beforehand, so that the browser waits only for the unlearning runs themselves."""
    root = tmp_path_factory.mktemp("browser")
    env = {**os.environ, **DEMO_ENV, "MU_CHECKPOINTS": str(root / "checkpoints"), "MU_RUNS": str(root / "runs"),
           "PYTHONPATH": str(ROOT)}
    with pytest.MonkeyPatch.context() as mp:
        for key in ("MU_EPOCHS", "MU_IMAGE_SIZE", "MU_CHECKPOINTS"):
            mp.setenv(key, env[key])
        score_baselines(experiment(forget_spec=FORGET))
        score_baselines(experiment(forget_spec=ONE_PERSON))
        score_baselines(experiment())  # the default forget set, which a new browser session starts from
    app = Server(env, root / "server.log", START_TIMEOUT)
    app.start()
    yield app
    app.stop()


def idle(page: Page) -> None:
    """Wait until the app is not running a script (the status widget is gone) and the page has settled."""
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=UI_TIMEOUT)
    page.wait_for_timeout(500)


def screenshot(page: Page, name: str) -> None:
    """The whole page, 1400 px wide: the viewport is stretched to the main area's height (Streamlit scrolls
    inside it, so a plain full-page capture would stop at the window's edge)."""
    height = page.evaluate("() => Math.max(document.documentElement.scrollHeight, "
                           "...[...document.querySelectorAll('[data-testid=\"stMain\"], section')]"
                           ".map(e => e.scrollHeight))")
    page.set_viewport_size({"width": WIDTH, "height": int(height)})
    page.wait_for_timeout(1500)  # charts re-layout to the new size
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(VIEWPORT)


def go(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible(timeout=UI_TIMEOUT)


def tick_first_row(page: Page) -> None:
    """Tick the row-marker checkbox of the gallery's first row (the grid is drawn on a canvas)."""
    grid = page.get_by_test_id("stDataFrame").first
    expect(grid).to_be_visible(timeout=UI_TIMEOUT)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 30)  # header 35 px, rows 60 px high


def test_select_a_person_run_a_method_compare_restart_and_find_the_run(server, page: Page):
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Forget set", level=1)).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text("AT&T Laboratories Cambridge").first).to_be_visible()
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.get_by_text("Nothing selected yet.")).to_be_visible(timeout=UI_TIMEOUT)
    idle(page)
    page.get_by_role("button", name="Default", exact=True).click()
    expect(page.get_by_text("56 training photos")).to_be_visible(timeout=UI_TIMEOUT)
    idle(page)
    tick_first_row(page)  # s1 joins the eight people of the default
    expect(page.get_by_text("63 training photos")).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text(f"--forget {FORGET_NAMES}", exact=True)).to_be_visible()
    expect(page.get_by_text("Retrained (from scratch without the forget set): trained")).to_be_visible()
    idle(page)
    screenshot(page, "forget_set")

    go(page, "Unlearn")
    page.get_by_test_id("stSelectbox").filter(has_text="Method").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(METHOD))).click()
    expect(page.get_by_text(f"{METHOD}: ")).to_be_visible(timeout=UI_TIMEOUT)
    idle(page)
    page.get_by_role("button", name="Launch").click()
    expect(page.get_by_text("finished in")).to_be_visible(timeout=RUN_TIMEOUT)
    idle(page)
    open_compare = page.get_by_role("button", name=f"Open {METHOD}")
    label = re.search(re.escape(METHOD) + r" #\w{6}", open_compare.inner_text()).group()
    open_compare.click()

    expect(page.get_by_role("heading", name="Compare", level=1)).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_role("heading", name="Metrics", level=3)).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    expect(page.get_by_text(label).first).to_be_visible()
    losses = page.get_by_test_id("stPlotlyChart").filter(has_text="Per-sample loss")
    expect(losses).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.locator(".st-key-verdict")).to_contain_text(re.compile("forgotten|cannot tell"))
    expect(losses.get_by_text("Per-sample loss")).to_be_visible()
    idle(page)
    screenshot(page, "compare")

    stored = page.get_by_text(re.compile(re.escape(label) + r" \(run "))  # the audit record of the newest run
    go(page, "Runs")
    expect(stored).to_be_visible(timeout=UI_TIMEOUT)
    idle(page)
    screenshot(page, "runs")

    go(page, "Benchmark")  # the compute-vs-forgetting curve of the shipped trial records, for the README
    curve = page.get_by_test_id("stPlotlyChart").filter(has_text="Compute vs forgetting").first
    expect(curve).to_be_visible(timeout=UI_TIMEOUT)
    idle(page)
    curve.screenshot(path=str(SHOTS / "benchmark_curve.png"))

    server.restart()
    page.goto(f"{server.url}/runs")  # a deep link, first thing after the restart
    expect(page.get_by_role("heading", name="Runs", level=1)).to_be_visible(timeout=UI_TIMEOUT)
    expect(stored).to_be_visible(timeout=UI_TIMEOUT)


def choose_method(page: Page, title: str) -> None:
    """Pick a method in the Unlearn page's box and open its folded hyperparameters."""
    page.get_by_test_id("stSelectbox").filter(has_text="Method").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(title))).click()
    expect(page.get_by_text(f"{title}: ").first).to_be_visible(timeout=UI_TIMEOUT)
    idle(page)
    page.get_by_text("Advanced: hyperparameters").click()


def launch_and_open(page: Page, title: str) -> str:
    """Launch the chosen method, wait for it, open it in Compare; returns its run label."""
    page.get_by_role("button", name="Launch").click()
    open_compare = page.get_by_role("button", name=f"Open {title}").first
    expect(open_compare).to_be_visible(timeout=RUN_TIMEOUT)
    idle(page)
    label = re.search(re.escape(title) + r" #\w{6}", open_compare.inner_text()).group()
    open_compare.click()
    expect(page.get_by_role("heading", name="Compare", level=1)).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.locator(".st-key-verdict")).to_contain_text(label, timeout=UI_TIMEOUT)
    return label


def test_one_person_story_verdict_probe_and_evidence_pack(server, page: Page, tmp_path):
    """Select s5, launch the recommended method: the card says whether s5 was forgotten, with its evidence;
    Fine-tuning for one epoch is not forgotten (card and audit record); the probe shows three answers; the
    evidence pack downloads."""
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Forget set", level=1)).to_be_visible(timeout=UI_TIMEOUT)
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.get_by_text("Nothing selected yet.")).to_be_visible(timeout=UI_TIMEOUT)
    idle(page)
    grid = page.get_by_test_id("stDataFrame").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 4 * 60 + 30)  # the fifth row: s5
    expect(page.get_by_text("--forget people:s5", exact=True)).to_be_visible(timeout=UI_TIMEOUT)
    idle(page)

    go(page, "Unlearn")
    expect(page.get_by_text("Forget set s5:")).to_be_visible(timeout=UI_TIMEOUT)
    advice = recommendation("orl", "person")  # what the page reads: the recommended method, else the closest one
    expect(page.get_by_text("Recommended here:" if advice["method"] else "No method was judged forgotten",
                            exact=False).first).to_be_visible()
    label = launch_and_open(page, REGISTRY[advice["method"] or advice["closest"]].title)  # preselected
    card = page.locator(".st-key-verdict")
    expect(card).to_contain_text(re.compile(r"s5 (forgotten|not forgotten|: cannot tell yet)"))
    expect(card).to_contain_text("Recognition")
    expect(card).to_contain_text("recognised in")
    expect(card).to_contain_text("instead of")
    idle(page)
    screenshot(page, "compare_verdict")

    go(page, "Unlearn")
    choose_method(page, "Fine-tuning")
    epochs = page.get_by_test_id("stSlider").filter(has_text="epochs").get_by_role("slider")
    epochs.focus()
    epochs.press("Home")  # one epoch
    label = launch_and_open(page, "Fine-tuning")
    expect(card).to_contain_text("s5 not forgotten")
    run = next(r for r in RunStore(Path(server.env["MU_RUNS"])).list(status="done") if r["id"].endswith(label[-6:]))
    assert run["hparams"]["epochs"] == 1 and run["audit"]["verdict"]["forgotten"] is False

    expect(page.locator(".st-key-probe_answer_2")).to_be_visible(timeout=UI_TIMEOUT)
    for k, model in enumerate(("Original", label, "Retrained")):
        expect(page.locator(f".st-key-probe_answer_{k}")).to_contain_text(f"{model} says")

    page.get_by_role("button", name="Prepare the evidence pack").click()
    expect(page.get_by_role("button", name="Report (HTML)")).to_be_visible(timeout=UI_TIMEOUT)
    files = {}
    for name in ("Report (HTML)", "Report (PDF)", "Manifest (JSON)"):
        with page.expect_download() as download:
            page.get_by_role("button", name=name).click()
        files[name] = tmp_path / download.value.suggested_filename
        download.value.save_as(files[name])
    assert files["Report (PDF)"].read_bytes().startswith(b"%PDF")
    assert json.loads(files["Manifest (JSON)"].read_text())["verdict"]["forgotten"] is False
    offline = page.context.new_page()
    page.context.set_offline(True)
    offline.goto(files["Report (HTML)"].as_uri())
    expect(offline.get_by_text("not forgotten", exact=False).first).to_be_visible()
    page.context.set_offline(False)
    offline.close()
    idle(page)
    screenshot(page, "compare")


def test_upload_a_photo_and_a_bad_file(server, page: Page, tmp_path):
    face = tmp_path / "s5_3.png"
    Image.fromarray(load_dataset("orl").load_image(42)).save(face)
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not a photo at all")
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Forget set", level=1)).to_be_visible(timeout=UI_TIMEOUT)
    page.get_by_role("tab", name="Upload photos").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(face), str(bad)])
    expect(page.get_by_text("notes.png is not an image")).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text("In the training set")).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text("Forget s5 (training photo s5/3 is this very photo)")).to_be_visible()
    idle(page)
    screenshot(page, "forget_set_upload")


def test_a_run_in_progress_when_the_app_stops_is_marked_interrupted(server, page: Page):
    page.goto(f"{server.url}/unlearn")
    expect(page.get_by_role("heading", name="Unlearn", level=1)).to_be_visible(timeout=UI_TIMEOUT)
    choose_method(page, "Fine-tuning")
    epochs = page.get_by_test_id("stSlider").filter(has_text="epochs").get_by_role("slider")
    epochs.focus()
    epochs.press("End")  # 20 epochs: long enough to be caught running
    page.get_by_role("button", name="Launch").click()
    expect(page.get_by_test_id("stProgress")).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_role("button", name="Cancel").first).to_be_visible()  # the page's and the queue's
    expect(page.get_by_text("unlearning: step")).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text("Current losses")).to_be_visible()
    screenshot(page, "unlearn")

    server.restart(signal.SIGKILL)  # the app dies mid-run
    page.goto(f"{server.url}/runs")
    expect(page.get_by_role("heading", name="Audit record")).to_be_visible(timeout=UI_TIMEOUT)
    page.get_by_test_id("stSelectbox").filter(has_text="Run").click()  # the picker opens on the latest finished run
    page.get_by_role("option", name=re.compile("interrupted")).first.click()
    expect(page.get_by_text("stopped before the run finished").first).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text("This run is interrupted")).to_be_visible()
    assert not list((Path(server.env["MU_RUNS"]) / "artifacts").glob("*.tmp"))


def test_screenshots_are_wide_and_whole():
    for name in ("forget_set", "forget_set_upload", "unlearn", "compare", "compare_verdict", "runs"):
        with Image.open(SHOTS / f"{name}.png") as shot:
            assert shot.width == WIDTH and shot.height >= 900
            assert np.asarray(shot.convert("L")).std() > 10  # not a blank page
    with Image.open(SHOTS / "benchmark_curve.png") as curve:
        assert curve.width >= 800 and curve.height >= 300 and np.asarray(curve.convert("L")).std() > 10
