"""AppTest tests of every page's widgets and flows (real engine, tiny settings). Background jobs run on the
process-wide runner; the tests wait for them through it, since AppTest does not tick polling fragments."""
from __future__ import annotations

import io
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from dashboard import context, demo, tasks, verdict_card
from dashboard.sidebar import CURRENT
from mu_core.data import load_dataset
from mu_core.data.orl import DEFAULT_PEOPLE
from mu_core.matching import match_people
from mu_core.methods import REGISTRY, HParam, Method
from mu_core.pipeline import execute_run
from mu_core.run_spec import spec_for
from mu_core.settings import experiment
from mu_core.store import RunStore
from tests.appkit import (APP, ROOT, SCRIPT_TIMEOUT, app_env, assert_clean, button, finished,  # noqa: F401
                          open_app, texts, wait_until)
from tests.test_uploads import encode, png_header_claiming

pytestmark = pytest.mark.usefixtures("app_env")
QUICK = {"epochs": 1, "batch_size": 256}  # one step of Fine-tuning


def hparam_widget(at, method: str, name: str):
    """The input of a hyperparameter (keyed hp.<method>.<dataset>.<scenario>.<name>)."""
    key = f"hp.{method}.orl.person.{name}"
    found = [w for kind in ("slider", "select_slider", "toggle", "selectbox", "text_input") for w in at.get(kind)
             if w.key == key]
    assert len(found) == 1, key
    return found[0]


def launch(at, method: str = "finetune", **values) -> str:
    """Choose `method`, set some of its inputs, launch; returns the job id."""
    at.selectbox(key="method").set_value(method).run()
    for name, value in values.items():
        hparam_widget(at, method, name).set_value(value)
    button(at, "Launch").click().run()
    assert_clean(at)
    return tasks.unlearn_jobs(at.session_state[context.OWNER])[-1].id


def test_forget_set_gallery_shows_people_with_counts_and_credit():
    at = open_app()
    gallery = at.dataframe[0].value
    assert len(gallery) == 40 and list(gallery["Person"][:3]) == ["s1", "s2", "s3"]
    assert gallery["Train 1"][0].startswith("data:image/webp;base64,")
    assert at.multiselect[0].value == [2, 7, 13, 19, 24, 29, 34, 38]  # the documented default, s3 s8 ...
    shown = texts(at)
    assert "**8 people** selected: **56 training photos** will be forgotten" in shown
    assert "**24 test photos**" in shown and "AT&T Laboratories Cambridge" in shown
    assert "--forget people:s3,s8,s14,s20,s25,s30,s35,s39" in shown


def test_picking_a_person_updates_counts_and_baseline_state_then_clear_blocks_launch():
    at = open_app()
    at.multiselect[0].set_value([5]).run()
    assert_clean(at)
    assert at.session_state[CURRENT].spec == "people:5"
    shown = texts(at)
    assert "**1 person** selected: **7 training photos**" in shown and "**3 test photos**" in shown
    assert "Retrained (from scratch without the forget set): not trained yet" in shown
    assert any(b.label == "Train baselines" for b in at.button)

    button(at, "Clear").click().run()
    assert "Nothing selected yet." in texts(at)
    at.switch_page("pages/unlearn.py").run()
    button(at, "Launch").click().run()
    assert any("Cannot launch: Nothing is selected to forget" in e.value for e in at.error)
    assert tasks.unlearn_jobs(at.session_state[context.OWNER]) == []


def test_photos_scenario_selects_single_photos():
    at = open_app()
    at.selectbox(key=context.SCENARIO).set_value("photos").run()
    picker = at.multiselect[0]
    assert picker.label.startswith("Photos to forget") and len(picker.value) == 40  # one photo of every person
    picker.set_value([0, 11]).run()
    assert at.session_state[CURRENT].spec == "photos:0,11"
    assert "**2 training photos** selected" in texts(at)
    assert len(at.dataframe[0].value) == 280


def test_the_sidebar_trains_missing_baselines_in_the_background():
    at = open_app()
    at.multiselect[0].set_value([9]).run()
    button(at, "Train baselines").click().run()
    assert_clean(at)
    job = tasks.baseline_job(at.session_state[CURRENT].exp)
    job_id = job.id
    assert job.label.startswith("Train Original and Retrained") and not job.is_finished
    assert "Compute queue" in texts(at)
    button(at, "Cancel").click().run()  # its owner can cancel it; training itself is covered by the engine's tests
    assert finished(job_id).status == "cancelled"
    at.run()
    assert "was cancelled" in texts(at)


def orl_photo(index: int) -> np.ndarray:
    return load_dataset("orl").load_image(index)


def uploads() -> list[tuple[str, bytes, str]]:
    face = orl_photo(0)  # s1/1, a training photo
    rgba = np.dstack([np.repeat(orl_photo(11)[:, :, None], 3, axis=2), np.full(face.shape, 200, np.uint8)])
    noise = np.random.default_rng(0).integers(0, 256, (112, 92), dtype=np.uint8)
    return [
        ("notes.txt", b"this is not an image", "text/plain"),
        ("cut.png", encode(Image.fromarray(face), "PNG")[:400], "image/png"),
        ("bomb.png", png_header_claiming(30000, 30000), "image/png"),
        ("dot.png", encode(Image.new("L", (1, 1)), "PNG"), "image/png"),
        ("s1_1.png", encode(Image.fromarray(face), "PNG"), "image/png"),
        ("cmyk.jpg", encode(Image.fromarray(face).convert("CMYK"), "JPEG", quality=95), "image/jpeg"),
        ("rgba.png", encode(Image.fromarray(rgba, "RGBA"), "PNG"), "image/png"),
        ("deep.png", encode(Image.fromarray(face.astype(np.uint16) * 257), "PNG"), "image/png"),
        ("noise.png", encode(Image.fromarray(noise), "PNG"), "image/png"),
    ]


def test_uploads_are_checked_matched_and_confirmed():
    at = open_app()
    files = uploads()
    at.get("file_uploader")[0].set_value(files).run()
    assert_clean(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 4, errors
    assert "notes.txt is not an image" in errors[0]
    assert "cut.png is damaged or truncated" in errors[1]
    assert "bomb.png is too large" in errors[2]
    assert "dot.png is too small" in errors[3]
    shown = texts(at)
    assert shown.count("**In the training set**") >= 4  # s1/1 as PNG, CMYK, 16-bit (s1/1) and RGBA (s2/2) copies
    exp = experiment()
    noise = match_people(context.original_model(exp), np.asarray(Image.open(io.BytesIO(files[-1][1]))), exp)
    assert not noise.face.passed and not noise.enrolled
    assert sum("Not a face photo like the training photos" in w.value for w in at.warning) == 1  # the noise
    assert "must first pass a **face check**" in shown
    assert not any(c.value for c in at.checkbox)  # nothing is ticked for the user
    ticks = [c for c in at.checkbox if c.label.startswith("Forget s1 (training photo s1/1 is this very photo)")]
    assert ticks
    for tick in ticks:  # the user confirms s1 only
        tick.check()
    at.run()
    button(at, "Add the ticked ones").click().run()
    assert at.session_state[CURRENT].spec == "people:0,2,7,13,19,24,29,34,38"


def test_unlearn_page_generates_inputs_from_every_methods_declaration():
    at = open_app("unlearn")
    widget_kind = {"bool": "toggle", "choice": "selectbox", "int": "slider", "ints": "textinput"}
    for name, method in REGISTRY.items():
        at.selectbox(key="method").set_value(name).run()
        assert_clean(at)
        assert f"**{method.title}**: {method.description}" in texts(at)
        defaults = method.defaults("orl", "person")
        for h in method.hparams:
            widget = hparam_widget(at, name, h.name)
            assert type(widget).__name__.lower() == widget_kind.get(h.type, "selectslider" if h.log else "slider")
            expected = ",".join(map(str, defaults[h.name])) if h.type == "ints" else pytest.approx(defaults[h.name])
            assert widget.value == expected


def test_demo_mode_preselects_the_recommended_method_with_hyperparameters_folded_away():
    at = open_app("unlearn")
    advice = demo.recommendation("orl", "person")
    preselected = advice["method"] or advice["closest"]
    assert at.selectbox(key="method").value == preselected != "finetune"
    shown = texts(at)
    if advice["method"]:
        assert f"Recommended here: **{REGISTRY[preselected].title}**" in shown
    else:  # none was judged forgotten: the page says so, and what the closest one still fails
        warning = next(w.value for w in at.warning if "No method was judged forgotten" in w.value)
        assert REGISTRY[preselected].title in warning and demo.checks_in_words(advice["failed"]) in warning
    assert at.expander[0].label.endswith("(the defaults are this dataset's preset, from mu_core/presets.json)"
                                         if REGISTRY[preselected].preset("orl", "person")
                                         else "(the defaults are the method's published defaults)")
    at.selectbox(key="method").set_value("neggrad").run()  # no person preset: its published defaults
    assert at.expander[0].label.endswith("(the defaults are the method's published defaults)")
    forget_line = next(c.value for c in at.caption if c.value.startswith("Forget set"))
    assert forget_line.startswith("Forget set **s3, s8, s14") and "people:" not in forget_line  # named by people


def test_a_run_executes_in_the_background_is_stored_and_opens_in_compare():
    at = open_app("unlearn")
    job_id = launch(at, epochs=1, batch_size=256)
    job = finished(job_id)
    assert job.status == "done", job.error
    run = context.store().get(job.result)
    assert run["status"] == "done" and run["hparams"]["epochs"] == 1 and run["audit"]["forgotten"]
    at.run()
    assert "finished in" in texts(at)
    button(at, "Open Fine-tuning").click().run()
    assert_clean(at)
    label = f"Fine-tuning #{job.result[-6:]}"
    headline = next(m.value for m in at.markdown if m.value.startswith("### :"))
    assert re.fullmatch(r"### :(red|green|gray)\[s3, s8, .* (not forgotten|forgotten|cannot tell yet)\]", headline)
    assert any(c.value.startswith(label) for c in at.caption)
    table = next(df.value for df in at.dataframe if "Metric" in df.value.columns)
    assert list(table.columns) == ["Metric", "Original", "Retrained", label]
    metrics = list(table["Metric"])
    assert "MIA accuracy ± fold spread (closest to Retrained)" in metrics
    assert "forgetting |MIA-0.5| (lower is better)" in metrics
    assert "attack samples (forgotten vs unseen)" in metrics and "· utility part λ·test acc" in metrics
    assert " ± " in table.set_index("Metric").loc["MIA accuracy ± fold spread (closest to Retrained)", label]
    assert len(at.get("plotly_chart")) >= 4  # identity d', NoMUS parts, loss histograms, ROC, per-class
    faces = at.dataframe[0].value  # the per-face verdict gallery: one row per forgotten photo, three predictions
    assert len(faces) == 56 and {"Original", "Unlearned", "Retrained", "Verdict"} <= set(faces.columns)
    assert set(faces["Verdict"]) <= {"inside the Retrained range", "remembered", "over-forgotten"}

    nomus = table.set_index("Metric").loc["NoMUS at λ = 0.50 (closest to Retrained)", "Original"]
    at.switch_page("pages/compare.py")  # AppTest would go back to the page it was last switched to
    at.slider[0].set_value(1.0).run()
    table = next(df.value for df in at.dataframe if "Metric" in df.value.columns).set_index("Metric")
    assert table.loc["NoMUS at λ = 1.00 (closest to Retrained)", "Original"] == \
        table.loc["test acc (higher is better)", "Original"] != nomus
    at.toggle[0].set_value(True).run()  # per-class change against Retrained
    assert_clean(at)


def test_cancel_in_the_middle_of_a_run_records_it_cancelled():
    at = open_app("unlearn")
    job_id = launch(at, epochs=20, batch_size=64)
    wait_until(lambda: context.runner().get(job_id).progress is not None)
    at.run()
    button(at, "Cancel").click().run()
    job = finished(job_id)
    assert job.status == "cancelled"
    cancelled = context.store().list(status="cancelled")
    assert cancelled and cancelled[0]["message"].startswith("Cancelled by the user")
    at.run()
    assert "was cancelled" in texts(at)


def diverging(ctx, hp) -> None:
    ctx.begin(3)
    ctx.tracker.step(forget=float("nan"))


def test_a_method_that_diverges_is_reported_and_recorded_failed(monkeypatch):
    monkeypatch.setitem(REGISTRY, "diverges", Method(
        "diverges", "Diverges", "A method whose loss becomes NaN at once.", "test",
        (HParam("lr", "float", 0.1, "Learning rate.", min=0.01, max=1.0, log=True),), diverging))
    at = open_app("unlearn")
    job = finished(launch(at, "diverges"))
    assert job.status == "failed" and "diverged" in job.error
    failed = context.store().list(status="failed")
    assert failed[0]["method"] == "diverges" and "diverged" in failed[0]["message"]
    at.run()
    assert any("diverged" in e.value and "Nothing was stored" in e.value for e in at.error)


def test_two_sessions_launching_at_once_share_one_compute_slot_in_order():
    first, second = open_app("unlearn"), open_app("unlearn")
    a, b = launch(first, epochs=1, batch_size=256), launch(second, epochs=1, batch_size=256)
    runner = context.runner()
    assert runner.position(b) in (1, 2) or runner.get(b).is_finished
    if not runner.get(b).is_finished and runner.position(b):
        assert "waiting for the compute slot" in texts(second)
    done_a, done_b = finished(a), finished(b)
    assert done_a.status == done_b.status == "done"
    assert done_a.finished <= done_b.started  # one after the other
    assert context.store().get(done_a.result)["status"] == context.store().get(done_b.result)["status"] == "done"


def test_runs_page_lists_every_run_with_leaderboard_exports_and_audit():
    at = open_app("runs")
    history = at.dataframe[-1].value
    assert list(history["Run"]) == [r["id"] for r in context.store().list()]
    assert {"done", "cancelled", "failed"} <= set(history["Status"])  # the runs of the tests above
    assert len(at.get("download_button")) >= 2  # CSV and JSON (and the audit record of a finished run)
    board = at.dataframe[0].value
    assert list(board["Rank"]) == list(range(1, len(board) + 1)) and len(board) >= 3
    assert board["Gap to Retrained"].is_monotonic_increasing
    assert len(at.get("plotly_chart")) == 2  # the trade-offs
    at.toggle[0].set_value(True).run()  # only this forget set
    assert_clean(at)
    done = context.store().list(status="done")[-1]
    picker = next(s for s in at.selectbox if s.label == "Run")
    picker.set_value(done["id"]).run()
    assert f"was asked to forget **{len(done['audit']['forgotten'])} photos**" in texts(at)
    # the record says what the stored verdict says, never "forgot" on its own
    colour, words = verdict_card.headline(done["audit"]["verdict"], demo.forget_name(experiment().dataset,
                                                                                      done["forget"]))
    assert f"Verdict: :{colour}[**{words}**]" in texts(at) and "forgot **" not in texts(at)
    assert done["audit"]["verdict"]["forgotten"] is not True  # one epoch of Fine-tuning: not shown to forget
    button(at, "Open in Compare").click().run()
    assert_clean(at)
    assert "Metrics" in [h.value for h in at.subheader]
    assert at.session_state[context.COMPARE_RUNS] == [done["id"]]


def test_the_app_marks_runs_left_running_by_a_process_that_is_gone_interrupted(monkeypatch, tmp_path):
    monkeypatch.setenv("MU_RUNS", str(tmp_path))
    starter = (f"from mu_core.store import RunStore; print(RunStore({str(tmp_path)!r}).start('orl', 'person', "
               f"{DEFAULT_PEOPLE!r}, 0, 'finetune', {{'epochs': 2}}))")
    done = subprocess.run([sys.executable, "-c", starter], capture_output=True, text=True, cwd=ROOT, check=True)
    run_id = done.stdout.strip()  # left "running" by a process that has exited
    partial = tmp_path / "artifacts" / f"{run_id}.tmp"
    partial.mkdir(parents=True)
    at = open_app("runs")
    assert not partial.exists()
    history = at.dataframe[-1].value
    assert list(history["Status"]) == ["interrupted"]
    assert "stopped before the run finished" in texts(at)


def test_a_reload_keeps_your_job_yours_and_cancellable():
    at = open_app("unlearn")
    job_id = launch(at, epochs=20, batch_size=8)
    token = at.query_params[context.OWNER_PARAM]
    reloaded = AppTest.from_file(APP, default_timeout=SCRIPT_TIMEOUT)
    reloaded.query_params[context.OWNER_PARAM] = token  # a reload keeps the address
    reloaded.run()
    reloaded.switch_page("pages/unlearn.py").run()
    assert_clean(reloaded)
    assert "(running, yours)" in texts(reloaded) or "(queued #" in texts(reloaded)
    stranger = open_app("unlearn")
    assert "another user" in texts(stranger)
    assert not [b for b in stranger.button if b.label == "Cancel"]
    button(reloaded, "Cancel").click().run()
    assert finished(job_id).status == "cancelled"


def test_a_read_only_store_shows_a_banner_and_a_launch_says_why(monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("MU_RUNS", str(tmp_path / "a-file" / "runs"))  # cannot be created, whoever runs the test
    at = open_app("runs")
    assert any("Read-only mode" in w.value and "cannot be written" in w.value for w in at.warning)
    at.switch_page("pages/unlearn.py").run()
    button(at, "Launch").click().run()
    assert_clean(at)
    assert any("Cannot launch: the run could not be stored" in e.value for e in at.error)
    assert tasks.unlearn_jobs(at.session_state[context.OWNER]) == []


def test_a_damaged_database_is_explained_and_kept(monkeypatch, tmp_path):
    db = tmp_path / "runs.sqlite"
    db.write_bytes(b"not a database" * 300)
    monkeypatch.setenv("MU_RUNS", str(tmp_path))
    for page in ("forget_set", "unlearn", "compare", "runs"):
        at = open_app(page)
        assert any(str(db) in e.value and "move it aside" in e.value for e in at.error), page
    assert db.read_bytes() == b"not a database" * 300


def test_a_damaged_run_is_listed_as_damaged_and_the_others_stay_usable(monkeypatch, tmp_path, tiny_baselines):
    monkeypatch.setenv("MU_RUNS", str(tmp_path))
    store = RunStore(tmp_path)
    exp = experiment()
    broken, intact = (execute_run(exp, spec_for(exp, "finetune", QUICK), tiny_baselines, store)[0] for _ in range(2))
    (store.artifact_dir(broken) / "outputs.npz").unlink()
    at = open_app("runs")
    history = at.dataframe[-1].value.set_index("Run")
    assert history.loc[broken, "Status"] == "damaged" and "outputs" in history.loc[broken, "Message"]
    assert history.loc[intact, "Status"] == "done"
    assert list(at.dataframe[0].value["Label"]) == [f"Fine-tuning #{intact[-6:]}"]  # the leaderboard
    at.switch_page("pages/compare.py").run()
    assert_clean(at)
    assert any(f"#{broken[-6:]} is damaged" in w.value for w in at.warning)
    assert any(f"Fine-tuning #{intact[-6:]}" in list(frame.value.columns) for frame in at.dataframe)  # metrics


def test_a_data_folder_outside_the_allowed_roots_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("MU_DATA_ROOTS", str(tmp_path))
    at = open_app()
    at.selectbox(key=context.DATASET).set_value("folder").run()
    assert "Give the folder holding this dataset" in texts(at)
    at.text_input[0].set_value("/etc").run()
    button(at, "Load data").click().run()
    assert any("outside the folders this server reads data from" in e.value for e in at.error)
