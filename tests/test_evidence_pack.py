"""The evidence pack: manifest, self-contained HTML and PDF of a stored run."""
from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

from mu_core.errors import MUError
from mu_core.evidence_pack import find_chromium, manifest, report_html, write_pack
from mu_core.results import ModelResult


def finished_run(forgotten: bool | None = False) -> dict:
    verdict = {"forgotten": forgotten, "level": "basic", "n_models": 1, "summary": "s5 is still recognised.",
               "checks": [{"name": "recognition", "pass": forgotten, "value": 1.0, "reference": 0.0, "floor": None,
                           "text": "recognised in 7 of 7 photos; Original 7 of 7; Retrained 0 of 7"}]}
    return {"id": "20261127-000000-abcdef", "status": "done", "created": 1.0, "finished": 2.0,
            "audit": {"dataset": "orl", "dataset_fingerprint": "fp", "scenario": "person", "forget":
                      "people:4", "seed": 0, "device": "cpu", "weights_sha256_before": "a" * 64,
                      "weights_sha256_after": "b" * 64,
                      "forgotten": [{"sample_id": "s5/1", "identity": "s5", "image_sha256": "c" * 64}]},
            "result": ModelResult("finetune", {"lr": 0.01}, 0, 1.5, 0.05,
                                  {"test_acc": 0.9, "mia_accuracy": float("nan"), "identity_dprime": 2.5,
                                   "identity_n_genuine": 84, "identity_n_impostor": 1200, "per_class_acc": {"s1": 1.0}},
                                  verdict=verdict)}


def test_manifest_holds_the_process_and_the_verdict_as_strict_json():
    m = manifest(finished_run())
    assert m["forgotten_images"][0]["image_sha256"] == "c" * 64
    assert m["weights_sha256_before"] != m["weights_sha256_after"]
    assert m["verdict"]["forgotten"] is False
    assert m["verdict"]["checks"][0]["name"] == "recognition"
    assert "git_commit" in m["code_version"] or "package_version" in m["code_version"]
    assert any("not a guarantee" in limit for limit in m["limits"])


def test_a_run_that_did_not_finish_has_no_pack():
    run = {**finished_run(), "status": "cancelled", "result": None, "audit": None}
    with pytest.raises(MUError, match="only a finished run"):
        manifest(run)


def test_html_is_self_contained_and_says_the_verdict():
    page = report_html(finished_run(), {"forget.loss": np.array([0.1, 0.2]), "unseen.loss": np.array([0.3, 0.9])},
                       {"s5/1": np.zeros((64, 64, 3), np.uint8)})
    assert "Not forgotten" in page and "recognised in 7 of 7 photos" in page
    assert "data:image/png;base64," in page
    # nothing is fetched from the network: no external script, stylesheet, image or font (plotly.js is inlined;
    # the addresses inside its code are for map tiles and links that a bar chart never loads)
    assert not re.search(r"<script[^>]*\bsrc=", page)
    markup = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    assert not re.search(r"""(src|href)=["']https?://""", markup) and "@import" not in markup
    assert ">nan<" not in page.lower()  # a missing metric reads as a dash, not "nan"


def test_the_metric_table_reads_labels_and_sample_sizes_from_the_registry():
    page = report_html(finished_run())
    table = page[page.index("<h2>Metrics</h2>"):page.index("<h2>Hyperparameters</h2>")]
    assert "<td>identity d'</td>" in html.unescape(re.sub(r"<td title='[^']*'>", "<td>", table))
    assert "84 genuine pairs, 1200 impostor pairs" in table and "closest to Retrained" in table
    assert "identity_dprime" not in table and "per_class_acc" not in table and "s1" not in table
    assert "<td>test acc</td>" in re.sub(r"<td title='[^']*'>", "<td>", table)


def test_pack_written_with_valid_manifest_and_pdf(tmp_path):
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine (make test installs it)")
    paths = write_pack(finished_run(), tmp_path / "pack", {"forget.loss": np.ones(3), "unseen.loss": np.zeros(3)})
    text = paths["manifest"].read_text()
    assert "NaN" not in text and json.loads(text)["metrics"]["mia_accuracy"] is None
    assert json.loads(text)["run_id"] == "20261127-000000-abcdef"
    assert paths["pdf"].read_bytes()[:4] == b"%PDF"
    assert "Not forgotten" in paths["html"].read_text()


def test_pack_refuses_a_file_as_folder(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(MUError, match="is a file"):
        write_pack(finished_run(), target, pdf=False)
