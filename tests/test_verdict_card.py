"""The verdict card (dashboard.verdict_card) rendered by AppTest from fixed verdicts: its colours, one line per check
with its evidence, the cost line, and the grey line of a run without a verdict; demo.forget_name and the
recommendation file."""
from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from dashboard import demo, verdict_card
from mu_core.data import load_dataset

CHECKS = [
    {"name": "recognition", "pass": False, "text": "Forgotten training photos: recognised in 7 of 7 (Original 7 of 7; "
                                                   "Retrained 0 of 7)."},
    {"name": "utility", "pass": True, "text": "Test accuracy 0.9 vs Retrained 0.9."},
    {"name": "membership", "pass": None, "text": "Cannot tell at this level."},
    {"name": "identity_features", "pass": False, "text": "d' 3.9 against Retrained 2.5."},
    {"name": "over_forgetting", "pass": True, "text": "Not beyond Retrained."},
    {"name": "cost", "pass": None, "text": "Cost: 5% of retraining."},
]


def card(verdict_json: str) -> AppTest:
    def app(verdict_json: str) -> None:
        import json

        from dashboard import verdict_card
        from mu_core.results import ModelResult
        verdict_card.show(json.loads(verdict_json), ModelResult("finetune", {}, 0, 2.0, 0.05, {"compute_ratio": 0.04}),
                          "s5", "Fine-tuning #abc123", 40.0, decide="build a reference bank of 16 models")

    at = AppTest.from_function(app, args=(verdict_json,), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_failed_verdict_is_red_with_one_coloured_line_per_deciding_check():
    verdict = {"forgotten": False, "level": "basic", "n_models": 1, "checks": CHECKS, "summary": "Not forgotten: x."}
    at = card(json.dumps(verdict))
    lines = [m.value for m in at.markdown]
    assert lines[0] == "### :red[s5 not forgotten]"
    assert any(line.startswith(":red-badge[:material/cancel: fail] **Recognition**: Forgotten training photos: "
                               "recognised in 7 of 7") for line in lines)
    assert any(line.startswith(":green-badge[:material/check_circle: pass] **Everyone else**") for line in lines)
    membership = next(line for line in lines if "**Membership" in line)
    assert membership.startswith(":gray-badge[") and "To decide:** build a reference bank of 16 models" in membership
    assert any(":red-badge" in line and "**Identity in the face features**" in line for line in lines)
    cost = next(line for line in lines if "**Cost**" in line)
    assert "**2.0 s** instead of 40 s to retrain (5.0% of retraining's wall time, 4.0% of its compute)" in cost
    assert at.get("expander")[0].label.startswith("What over-forgetting")


def test_a_forgotten_verdict_is_green_and_a_missing_one_grey():
    passing = [{**c, "pass": True} if c["name"] != "cost" else c for c in CHECKS]
    at = card(json.dumps({"forgotten": True, "level": "bank", "n_models": 16, "checks": passing, "summary": "ok"}))
    assert at.markdown[0].value == "### :green[s5 forgotten]"
    assert "reference bank of 16 models" in at.caption[0].value
    at = card("null")
    assert at.markdown[0].value.startswith("### :gray[No verdict for s5")
    assert any(m.value.startswith(":gray-badge[:material/help: no verdict]") for m in at.markdown)


def test_bank_estimate_uses_retrained_time_bank_size_and_cores():
    assert verdict_card.bank_minutes(60.0, 16, cores=2) == 8.0
    assert verdict_card.bank_minutes(60.0, 16, cores=4) == 4.0


def test_forget_sets_are_named_by_people_and_the_recommendation_is_read():
    ds = load_dataset("orl")
    assert demo.forget_name(ds, "people:4") == "s5"
    assert demo.forget_name(ds, "people:0,2,7,13,19,24,29,34,38").endswith("and 3 more people")
    assert demo.forget_name(ds, None) == "nothing selected"
    advice = demo.recommendation("orl", "person")
    assert advice is not None and advice["method"] != "finetune"
    # the shipped results judge no method forgotten: no recommendation, the closest judged method and its failures
    assert (advice["method"] in advice["passed"]) if advice["method"] else (advice["closest"] and advice["failed"])
