"""End to end through the CLI on fixture folders of every bring-your-own layout: train, unlearn and evaluate with
tiny settings; a published checkpoint as the Original; bad input shown as `error: ...` without a traceback."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from torchvision.models import resnet18

import datafixtures as F
from mu_core.cli import main
from mu_core.data.mufac import FOLDER as MUFAC_FOLDER

TINY = ["--epochs", "1", "--image-size", "16"]


def _mufac_with_a_missing_file(tmp: Path) -> Path:
    root = F.make_mufac(tmp)
    with open(root / MUFAC_FOLDER / "custom_train_dataset.csv", "a", newline="") as f:
        csv.writer(f).writerow(["F0006", "D", "b", "F0006_AGE_D_40_b9.jpg"])
    return root


# (dataset, fixture, extra arguments, per-class keys of the utility view)
CASES = [
    ("mufac", _mufac_with_a_missing_file, ["--forget", "first:12"], None),
    ("mucac", lambda t: F.make_mucac(t, photos=3), [], ["Male", "Smiling", "Young"]),
    ("mucac-male", lambda t: F.make_mucac(t, photos=3), [], ["not Male", "Male"]),
    ("jaffe", lambda t: F.make_jaffe(t, repeats=1), ["--subset", "0.5"], None),
    ("cifar10", F.make_cifar10, [], None),
    ("folder", F.make_person_folders, [], None),
    ("folder", F.make_face_csv, ["--forget", "people:p0,p3"], ["even", "odd"]),
]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(autouse=True)
def checkpoints(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("MU_RUNS", str(tmp_path / "runs"))
    return tmp_path / "checkpoints"


@pytest.mark.parametrize("name, make, extra, per_class", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_train_unlearn_evaluate(tmp_path, capsys, name, make, extra, per_class):
    common = ["--dataset", name, "--data-dir", str(make(tmp_path / "data")), *TINY, *extra]
    rc, out, err = run(capsys, "train", *common, "--json", str(tmp_path / "train.json"))
    assert rc == 0, err
    trained = json.loads((tmp_path / "train.json").read_text())
    for model in ("original", "retrained"):
        metrics = trained[model]["metrics"]
        assert 0 <= metrics["test_acc"] <= 1 and 0 <= metrics["mia_accuracy"] <= 1
        assert metrics["mia_n_members"] >= 5
        if per_class:
            assert list(metrics["per_class_acc"]) == per_class
    if name == "mufac":
        assert "data note: Dropped 1 of 89 listed images whose file is missing" in out

    rc, out, err = run(capsys, "unlearn", *common, "--method", "finetune", "--set", "epochs=1",
                       "--json", str(tmp_path / "unlearn.json"))
    assert rc == 0, err
    unlearned = json.loads((tmp_path / "unlearn.json").read_text())
    assert unlearned["method"] == "finetune" and "gap_to_retrained" in unlearned["metrics"]
    assert unlearned["original"] == trained["original"]["original"]  # which Original it came from

    rc, out, err = run(capsys, "evaluate", *common, "--model", "original", "--json", str(tmp_path / "eval.json"))
    assert rc == 0, err
    assert json.loads((tmp_path / "eval.json").read_text())["metrics"] == trained["original"]["metrics"]
    assert "Training" not in err  # both baselines came from the cache


def test_a_published_multilabel_checkpoint_as_the_original(tmp_path, capsys, checkpoints):
    data = F.make_mucac(tmp_path / "data", photos=3)
    model = resnet18(weights=None, num_classes=3)
    state = {("fc.fc." + k[3:] if k.startswith("fc.") else k): v for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / "pre_trained_last_checkpoint_epoch_8.pth")
    common = ["--dataset", "mucac", "--data-dir", str(data), *TINY]
    rc, out, err = run(capsys, "evaluate", *common, "--original", str(tmp_path / "pre_trained_last_checkpoint_epoch_8.pth"),
                       "--json", str(tmp_path / "eval.json"))
    assert rc == 0, err
    assert "Original: imported from" in out and "Training Original" not in err
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["original"]["imported_from"].endswith("pre_trained_last_checkpoint_epoch_8.pth")
    assert len(result["original"]["source_sha256"]) == 64
    stored = sorted(p.name for p in (checkpoints / "mucac").iterdir())

    torch.save(resnet18(weights=None, num_classes=8).state_dict(), tmp_path / "mufac.pth")
    rc, out, err = run(capsys, "train", *common, "--original", str(tmp_path / "mufac.pth"))
    assert rc == 2 and err.startswith("error: The head of mufac.pth has 8 outputs") and "Traceback" not in err
    assert sorted(p.name for p in (checkpoints / "mucac").iterdir()) == stored  # nothing lost or added


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "mufac"], "error: The MUFAC dataset is read from a folder you downloaded: give it with --data-dir"),
    (["--dataset", "mufac", "--data-dir", "JAFFE"], "JAFFE is not the MUFAC layout: custom_train_dataset.csv is missing"),
    (["--dataset", "mucac", "--data-dir", "MUCAC", "--attribute", "Glasses"], "error: No attribute 'Glasses'"),
    (["--dataset", "jaffe", "--data-dir", "JAFFE", "--forget", "people:ZZ"], "error: Unknown person 'ZZ'"),
    (["--dataset", "jaffe", "--data-dir", "JAFFE", "--subset", "2"], "error: --subset is the share of identities"),
    (["--original", "missing.pth"], "error: The checkpoint missing.pth does not exist"),
])
def test_bad_input_is_one_error_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    if "MUCAC" in argv:
        F.make_mucac(tmp_path / "MUCAC", photos=1)
    if "JAFFE" in argv:
        F.make_jaffe(tmp_path / "JAFFE", repeats=1)
    rc, out, err = run(capsys, "train", *TINY, *argv)
    assert rc == 2 and err.startswith("error: ") and message in err and "Traceback" not in err
