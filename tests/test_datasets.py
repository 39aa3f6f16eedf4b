"""Bring-your-own data sources on small folders built in each exact layout: names, splits, labels, forget
selections, hygiene, the benchmark's metric definitions on MUCAC, and a clear DataError for every bad input."""
from __future__ import annotations

import csv
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

import datafixtures as F
from mu_core.data import DataOptions, check_data_path, inspect_data_dir, load_dataset, make_splits
from mu_core.data.mufac import FOLDER as MUFAC_FOLDER
from mu_core.errors import DataError
from mu_core.evaluation import evaluate, model_metrics


@pytest.fixture(scope="module")
def mufac_dir(tmp_path_factory) -> Path:
    return F.make_mufac(tmp_path_factory.mktemp("mufac"))


@pytest.fixture(scope="module")
def mucac_dir(tmp_path_factory) -> Path:
    return F.make_mucac(tmp_path_factory.mktemp("mucac"))


@pytest.fixture(scope="module")
def jaffe_dir(tmp_path_factory) -> Path:
    return F.make_jaffe(tmp_path_factory.mktemp("jaffe"))


def names_in(ds, indices) -> set[str]:
    return {ds.identity_names[i] for i in ds.identities[indices]}


# --- MUFAC ---------------------------------------------------------------------------------------------------

def test_mufac_names_labels_and_the_swapped_csv_names(mufac_dir):
    ds = load_dataset("mufac", mufac_dir)
    assert ds.kind == "multiclass"
    assert ds.class_names == ["0-6", "7-12", "13-19", "20-30", "31-45", "46-55", "56-66", "67-80"]
    assert ds.sample_ids[0] == "train_images/F0001_AGE_A_20_a0.jpg" and ds.labels[0] == 0
    assert ds.identity_names[:3] == ["F0001/A", "F0001/D", "F0002/A"]  # gallery: family / person
    # The archive's "val" CSV is the test set and its "test" CSV the unseen set.
    assert {ds.sample_ids[i].split("/")[0] for i in ds.indices("test")} == {"val_images"}
    assert {ds.sample_ids[i].split("/")[0] for i in ds.indices("unseen")} == {"test_images"}
    assert names_in(ds, ds.indices("test")) == {"F0801/A", "F0801/D", "F0802/A", "F0802/D"}
    assert ds.notes == [] and ds.hygiene.duplicates == []
    inner = load_dataset("mufac", mufac_dir / MUFAC_FOLDER)  # the folder itself works as well as its parent
    assert inner.fingerprint() == ds.fingerprint()
    assert inspect_data_dir("mufac", mufac_dir) == {"rows": 88, "splits": {"train": 48, "test": 16, "unseen": 24},
                                                    "identities": 22, "skipped_rows": 0, "missing_files": 0}


def test_mufac_forget_by_rows_family_or_person(mufac_dir):
    ds = load_dataset("mufac", mufac_dir)
    rows = make_splits(ds, "benchmark", "first:10")
    assert list(rows.forget) == list(ds.indices("train")[:10])
    assert list(rows.test) == list(ds.indices("test")) and list(rows.unseen) == list(ds.indices("unseen"))
    family = make_splits(ds, None, "people:F0002")
    assert names_in(ds, family.forget) == {"F0002/A", "F0002/D"} and len(family.forget) == 8
    person = make_splits(ds, None, "people:F0002/D,F0005")
    assert names_in(ds, person.forget) == {"F0002/D", "F0005/A", "F0005/D"}
    # The benchmark's default (the first 1,500 rows) would be all 48 rows here: the same share (15%) instead.
    assert make_splits(ds).forget_spec == "first:7" and len(make_splits(ds).forget) == 7  # first:15%, as a count
    with pytest.raises(DataError, match="would forget all 48"):
        make_splits(ds, None, "first:1500")
    with pytest.raises(DataError, match="Unknown person 'F0999'"):
        make_splits(ds, None, "people:F0999")


def test_mufac_subset_keeps_whole_families_deterministically(mufac_dir):
    ds = load_dataset("mufac", mufac_dir, DataOptions(subset=0.5))
    families = sorted({n.split("/")[0] for n in ds.identity_names})
    assert families == ["F0002", "F0004", "F0006", "F0802", "F0852"]  # every second family, in name order
    assert len(ds) == 40 and "subset" in ds.title
    assert load_dataset("mufac", mufac_dir, DataOptions(subset=0.5)).fingerprint() == ds.fingerprint()
    with pytest.raises(DataError, match="keeps none"):
        load_dataset("mufac", mufac_dir, DataOptions(subset=0.01))
    with pytest.raises(DataError, match="above 0 and at most 1"):
        DataOptions(subset=1.5)


def _append_row(path: Path, row: list[str]) -> None:
    with open(path, "a", newline="") as f:
        csv.writer(f).writerow(row)


def test_mufac_hygiene_drops_missing_and_unreadable_and_finds_duplicates(tmp_path):
    root = F.make_mufac(tmp_path) / MUFAC_FOLDER
    train = sorted((root / "train_images").iterdir())
    train[5].unlink()                                                      # a listed file that is missing
    train[6].write_bytes(train[6].read_bytes()[:300])                      # a truncated JPEG
    _append_row(root / "custom_train_dataset.csv", ["F0006", "D", "c", "F0006_AGE_D_99_c9.jpg"])  # never existed
    _append_row(root / "custom_train_dataset.csv", ["F0006", "D", "z", train[7].name])              # bad age_class
    shutil.copy(train[0], root / "val_images" / "F0802_AGE_D_30_c9.jpg")  # byte-identical copy in test
    _append_row(root / "custom_val_dataset.csv", ["F0802", "D", "c", "F0802_AGE_D_30_c9.jpg"])
    Image.open(train[1]).save(root / "test_images" / "F0853_AGE_D_30_c9.jpg", quality=60)  # re-encoded copy
    _append_row(root / "custom_test_dataset.csv", ["F0853", "D", "c", "F0853_AGE_D_30_c9.jpg"])

    ds = load_dataset("mufac", tmp_path)
    report = ds.hygiene
    assert len(ds) == 88 + 4 - 1 - 3  # 4 rows added: 1 unusable; 2 missing files and 1 unreadable dropped
    assert len(report.missing) == 2 and len(report.unreadable) == 1 and len(report.invalid) == 1
    assert report.duplicate_counts() == {"exact": 1, "near": 1, "train-test": 1, "train-unseen": 1}
    notes = " ".join(ds.notes)
    for text in ("Dropped 1 row(s) with unusable values", "Dropped 2 of 91 listed images whose file is missing",
                 "Dropped 1 unreadable image(s)", "Found 2 duplicate image pair(s) across splits (1 byte-identical, "
                 "1 near-identical"):
        assert text in notes

    cleaned = load_dataset("mufac", tmp_path, DataOptions(drop_duplicates=True))
    assert len(cleaned) == len(ds) - 2
    assert cleaned.hygiene.dropped_duplicates == ["test_images/F0853_AGE_D_30_c9.jpg",
                                                  "val_images/F0802_AGE_D_30_c9.jpg"]
    assert len(cleaned.indices("train")) == len(ds.indices("train"))  # the training set stays as published


# --- MUCAC ---------------------------------------------------------------------------------------------------

def test_mucac_multilabel_labels_follow_the_celeba_columns_and_identity_ranges(mucac_dir):
    ds = load_dataset("mucac", mucac_dir)
    assert ds.kind == "multilabel" and ds.class_names == ["Male", "Smiling", "Young"]
    for i, sid in enumerate(ds.sample_ids):
        identity, k = int(ds.identity_names[ds.identities[i]]), int(sid.split(".")[0]) % 4
        values = F.mucac_values(identity, k)
        assert tuple(ds.labels[i]) == tuple(int(values[a] == 1) for a in ds.class_names)
    splits = make_splits(ds)
    assert splits.forget_spec == "people:200-1000"  # people:190-1249, canonically (the identities it holds)
    assert names_in(ds, splits.forget) == {"200", "300", "1000"}
    assert names_in(ds, splits.retain) == {"2000", "3000", "4000"}
    assert names_in(ds, splits.test) == {"5", "100"} and names_in(ds, splits.unseen) == {"5000", "6000"}
    assert names_in(ds, make_splits(ds, None, "people:300").forget) == {"300"}  # names, not indices
    with pytest.raises(DataError, match="Unknown person '7'"):
        make_splits(ds, None, "people:7")


def test_mucac_binary_task_for_one_attribute(mucac_dir):
    ds = load_dataset("mucac-smiling", mucac_dir)
    assert ds.kind == "binary" and ds.class_names == ["not Smiling", "Smiling"]
    assert [int(v) for v in ds.labels[:4]] == [0, 1, 0, 1]  # smiling on odd photos
    same = load_dataset("mucac", mucac_dir, DataOptions(attributes=("smiling",)))
    assert same.name == "mucac-smiling" and same.fingerprint() == ds.fingerprint()
    glasses = load_dataset("mucac", mucac_dir, DataOptions(attributes=("Eyeglasses",)))
    assert glasses.name == "mucac-eyeglasses" and glasses.labels.sum() == 0
    with pytest.raises(DataError, match=r"No attribute 'Glasses' in CelebA-HQ-attribute.txt; the attributes are: "
                                        r"5_o_Clock_Shadow, .*Eyeglasses"):
        load_dataset("mucac", mucac_dir, DataOptions(attributes=("Glasses",)))


class CodedModel(nn.Module):
    """Outputs the row of `table` for the image it is shown, read from the image's grey code (datafixtures)."""

    def __init__(self, table: np.ndarray):
        super().__init__()
        self.table = torch.tensor(table, dtype=torch.float32)
        self.fc = nn.Identity()  # the evaluation reads the features going into the head `fc`, as on a ResNet

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = torch.round((x[:, 0, :, : x.shape[-1] // 4].mean(dim=(1, 2)) * 255 - 4) / 8).long()
        return self.fc(self.table[code])


def _coded_mucac(tmp_path: Path, name: str, test_logits: list[list[float]]):
    """A 3-photo MUCAC fixture and a model: the given logits on the 6 test images; confident and right (+-3 per
    logit) on forget and retain; confident and wrong on unseen."""
    ds = load_dataset(name, F.make_mucac(tmp_path, photos=3, coded=True))
    splits = make_splits(ds)
    assert [ds.sample_ids[i] for i in splits.test] == [f"{n}.jpg" for n in range(6)]
    if ds.kind == "binary":  # two logits: +3 for the true class, -3 for the other
        right = np.stack([np.where(ds.labels == 0, 3.0, -3.0), np.where(ds.labels == 1, 3.0, -3.0)], axis=1)
    else:  # one logit per attribute: +3 where it is present, -3 where not
        right = 3.0 * (2 * ds.labels - 1)
    table = right.copy()
    table[splits.unseen] = -right[splits.unseen]
    table[splits.test] = test_logits
    ev = evaluate(CodedModel(table), ds, splits, torch.device("cpu"), 32)
    return ds, ev, model_metrics(ev, ds)


def test_mucac_multilabel_metrics_follow_the_benchmark(tmp_path):
    # Test images 0-2 are identity 5 (not male, young), 3-5 identity 100 (male, young); odd photos smile.
    # Labels (Male, Smiling, Young): 001 011 001 | 101 111 101. Predictions = signs of the logits below.
    test_logits = [[1, -1, 1], [-1, 1, -1], [-1, -1, 1], [1, 1, 1], [-1, 1, 1], [1, -1, -1]]
    ds, ev, m = _coded_mucac(tmp_path, "mucac", test_logits)
    # Right per image: Male 0 1 1 1 0 1 = 4/6, Smiling 1 1 1 0 1 1 = 5/6, Young 1 0 1 1 1 0 = 4/6.
    assert m["per_class_acc"] == pytest.approx({"Male": 4 / 6, "Smiling": 5 / 6, "Young": 4 / 6})
    assert m["test_acc"] == pytest.approx(13 / 18)  # the mean of the three attribute accuracies
    assert "top2_acc" not in m
    # MIA signal = BCE averaged over the 3 labels: image 0 has logits (1, -1, 1), labels (0, 0, 1):
    # (softplus(1) + softplus(-1) + softplus(1) - 1) / 3 = (1.31326 + 0.31326 + 0.31326) / 3.
    assert ev["test"].loss[0] == pytest.approx(0.646595, abs=1e-5)
    assert m["forget_loss_mean"] == pytest.approx(np.log1p(np.exp(-3.0)), abs=1e-5)    # 0.048587
    assert m["unseen_loss_mean"] == pytest.approx(np.log1p(np.exp(3.0)), abs=1e-5)     # 3.048587
    # 9 forget vs 6 unseen losses, balanced to 6 + 6 and perfectly separable: the attack is always right.
    assert (m["mia_n_members"], m["mia_accuracy"], m["forgetting_score"]) == (6, 1.0, 0.5)
    assert m["nomus"] == pytest.approx(0.5 * 13 / 18 + 0.5 * (1 - 2 * 0.5))
    assert (m["forget_acc"], m["retain_acc"], m["unseen_acc"]) == (1.0, 1.0, 0.0)


def test_mucac_binary_metrics_follow_the_benchmark(tmp_path):
    # Smiling labels of the test images: 0 1 0 | 0 1 0. Predictions = argmax: 0 0 1 | 0 1 0 -> 4 of 6 right.
    test_logits = [[2, 0], [2, 0], [0, 2], [1, 0], [0, 3], [3, 0]]
    ds, ev, m = _coded_mucac(tmp_path, "mucac-smiling", test_logits)
    assert m["test_acc"] == pytest.approx(4 / 6)
    assert m["per_class_acc"] == pytest.approx({"not Smiling": 3 / 4, "Smiling": 1 / 2})
    assert ev["test"].loss[1] == pytest.approx(np.log(np.exp(2) + 1), abs=1e-5)  # CE of (2, 0) for class 1
    assert m["forget_loss_mean"] == pytest.approx(np.log1p(np.exp(-6.0)), abs=1e-5)  # logits +3 / -3
    assert (m["mia_accuracy"], m["forgetting_score"]) == (1.0, 0.5)
    assert m["nomus"] == pytest.approx(0.5 * 4 / 6)
    assert "top2_acc" not in m


# --- JAFFE ---------------------------------------------------------------------------------------------------

def test_jaffe_expressions_from_file_names_and_identity_disjoint_split(jaffe_dir):
    ds = load_dataset("jaffe", jaffe_dir)
    assert ds.class_names == ["angry", "disgusted", "fearful", "happy", "neutral", "sad", "surprised"]
    assert ds.sample_ids[0] == "KA.AN1.1.tiff" and ds.labels[0] == 0
    assert ds.class_names[ds.labels[ds.sample_ids.index("KL.SU2.28.tiff")]] == "surprised"
    people = {split: names_in(ds, ds.indices(split)) for split in ("train", "test", "unseen")}
    assert people == {"train": {"KA", "KL", "KR", "NA", "NM", "UY"}, "test": {"KM", "TM"}, "unseen": {"MK", "YM"}}
    splits = make_splits(ds)
    assert splits.forget_spec == "people:0" and names_in(ds, splits.forget) == {"KA"}


def test_jaffe_piufr_split_is_image_level(jaffe_dir):
    ds = load_dataset("jaffe-piufr", jaffe_dir)
    sizes = {split: len(ds.indices(split)) for split in ("train", "test", "unseen")}
    assert sizes == {"train": 98, "test": 10, "unseen": 32}  # 70% train; the rest 25% test / 75% unseen
    assert names_in(ds, ds.indices("train")) & names_in(ds, ds.indices("unseen"))  # not identity-disjoint
    splits = make_splits(ds)
    assert splits.forget_spec == "first:24" and list(splits.forget) == list(range(24))


def test_jaffe_skips_foreign_files_with_a_note(tmp_path):
    folder = F.make_jaffe(tmp_path, repeats=1) / "jaffedbase"
    F.save(folder / "cover.png", F.orl_photo(0, 0))
    ds = load_dataset("jaffe", tmp_path)
    assert len(ds) == 70 and "cover.png does not follow the JAFFE naming" in ds.notes[0]


# --- CIFAR-10 ------------------------------------------------------------------------------------------------

def test_cifar10_python_folder_and_random_forgetting(tmp_path):
    ds = load_dataset("cifar10", F.make_cifar10(tmp_path))
    assert (len(ds), len(ds.indices("train")), ds.class_names[3]) == (120, 100, "cat")
    assert ds.images(32).shape == (120, 3, 32, 32)
    splits = make_splits(ds)
    assert splits.forget_spec == "random:10" and len(splits.forget) == 10  # random:10%, as a count
    assert list(splits.unseen) == list(ds.indices("test"))
    assert list(make_splits(ds, None, "random:10").forget) == list(splits.forget)  # a fixed seed


class _Exploit:
    def __reduce__(self):
        return os.system, ("touch exploited",)


def test_cifar10_batches_cannot_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = F.make_cifar10(tmp_path)
    with open(root / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": _Exploit(), "labels": [0]}, f, protocol=2)
    with pytest.raises(DataError, match=r"refusing to load (posix|os)\.system"):
        load_dataset("cifar10", root)
    assert not (tmp_path / "exploited").exists()


# --- generic face folder -------------------------------------------------------------------------------------

def test_person_folders_are_a_recognition_task(tmp_path):
    ds = load_dataset("folder", F.make_person_folders(tmp_path))
    assert ds.class_names == ds.identity_names == [f"person{p}" for p in range(1, 9)]
    assert (len(ds.indices("train")), len(ds.indices("test"))) == (56, 24)  # 7 + 3 photos per person
    assert ds.sample_ids[7] == "person1/8.png" and ds.base_splits[7] == "test"
    assert set(ds.scenarios) == {"person", "photos"} and ds.default_scenario == "person"
    splits = make_splits(ds)
    assert names_in(ds, splits.forget) == names_in(ds, splits.unseen) == {"person1", "person5"}


def test_face_csv_with_labels_other_than_the_person(tmp_path):
    ds = load_dataset("folder", F.make_face_csv(tmp_path))
    assert ds.kind == "binary" and ds.class_names == ["even", "odd"]
    people = {split: names_in(ds, ds.indices(split)) for split in ("train", "test", "unseen")}
    assert people["test"] == {"p2", "p7"} and people["unseen"] == {"p4", "p9"}
    assert names_in(ds, make_splits(ds).forget) == {"p0"}


def test_face_csv_split_column_and_unusable_rows(tmp_path):
    rows = [[f"img/p{p}_{k}.png", "even" if k % 2 == 0 else "odd", f"p{p}", "test" if p == 4 else
             "unseen" if p == 5 else "train"] for p in range(6) for k in range(6)]
    for p in range(6):
        for k in range(6):
            F.save(tmp_path / f"img/p{p}_{k}.png", F.orl_photo(p, k))
    F.save(tmp_path.parent / "outside.png", F.orl_photo(9, 0))
    rows += [["../outside.png", "odd", "p0", "train"], ["img/p0_0.png", "odd", "p0", "validation"]]
    ds = load_dataset("folder", F.write_csv(tmp_path / "faces.csv", ["image_path", "label", "identity", "split"], rows))
    assert names_in(ds, ds.indices("test")) == {"p4"} and names_in(ds, ds.indices("unseen")) == {"p5"}
    assert len(ds) == 36 and "Dropped 2 row(s) with unusable values" in ds.notes[0]


# --- bad input: a clear DataError, nothing lost ---------------------------------------------------------------

def _without(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() else path.unlink()


def _rewrite_csv_without(path: Path, column: str) -> None:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    F.write_csv(path, [c for c in rows[0] if c != column], [[v for k, v in r.items() if k != column] for r in rows])


BAD_LAYOUTS = [
    ("mufac", F.make_mufac, lambda d: _without(d / MUFAC_FOLDER / "custom_val_dataset.csv"),
     "not the MUFAC layout: custom_val_dataset.csv is missing"),
    ("mufac", F.make_mufac, lambda d: _without(d / MUFAC_FOLDER / "test_images"), "test_images is missing"),
    ("mufac", F.make_mufac, lambda d: _rewrite_csv_without(d / MUFAC_FOLDER / "custom_train_dataset.csv", "age_class"),
     "custom_train_dataset.csv lacks the column age_class"),
    ("mucac", F.make_mucac, lambda d: _without(d / "CelebA-HQ-identity.txt"), "the identity file is missing"),
    ("mucac", F.make_mucac, lambda d: _without(d / "CelebAMask-HQ"), "the CelebA-HQ image folder is missing"),
    ("jaffe", F.make_jaffe, lambda d: _without(d / "jaffedbase"), "No JAFFE images"),
    ("cifar10", F.make_cifar10, lambda d: _without(d / "cifar-10-batches-py" / "test_batch"), "test_batch is missing"),
    ("folder", F.make_face_csv, lambda d: _rewrite_csv_without(d / "faces.csv", "identity"),
     "faces.csv lacks the column identity"),
]


@pytest.mark.parametrize("name, make, damage, message", BAD_LAYOUTS,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_LAYOUTS)])
def test_a_folder_not_in_the_layout_says_what_is_missing(tmp_path, name, make, damage, message):
    made = make(tmp_path)
    folder = made.parent if made.is_file() else made
    damage(folder)
    with pytest.raises(DataError, match=message):
        load_dataset(name, made)


def test_other_bad_data_choices(tmp_path):
    with pytest.raises(DataError, match="give it with --data-dir"):
        load_dataset("mufac")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("jaffe", tmp_path / "nowhere")
    with pytest.raises(DataError, match="applies to the mucac dataset only"):
        load_dataset("mufac", tmp_path, DataOptions(attributes=("Male",)))
    with pytest.raises(DataError, match="bring-your-own datasets only"):
        load_dataset("orl", None, DataOptions(subset=0.5))
    folder = F.make_person_folders(tmp_path, people=2, photos=2)
    for image in folder.rglob("*.png"):
        image.unlink()
        image.write_bytes(b"not an image")
    with pytest.raises(DataError, match="None of the 4 images listed could be read"):
        load_dataset("folder", folder)


def test_allowed_data_roots(tmp_path, monkeypatch):
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    (allowed / "mufac").mkdir(parents=True)
    other.mkdir()
    (allowed / "escape").symlink_to(other)
    monkeypatch.setenv("MU_DATA_ROOTS", f"{allowed}{os.pathsep}{tmp_path / 'also'}")
    assert check_data_path(allowed / "mufac") == (allowed / "mufac").resolve()
    for bad in (other, allowed / "escape", allowed / ".." / "other", "/etc"):
        with pytest.raises(DataError, match="outside the folders this server reads data from"):
            check_data_path(bad)
    with pytest.raises(DataError, match="does not exist"):
        check_data_path(allowed / "missing")
    monkeypatch.delenv("MU_DATA_ROOTS")
    monkeypatch.setenv("HOME", str(tmp_path))  # by default: ~/mu-data only, never the whole home folder
    (tmp_path / "mu-data" / "faces").mkdir(parents=True)
    assert check_data_path(tmp_path / "mu-data" / "faces") == (tmp_path / "mu-data" / "faces").resolve()
    with pytest.raises(DataError, match="outside the folders"):
        check_data_path(tmp_path)


def test_orl_selections_are_unchanged():
    ds = load_dataset("orl")
    assert len(make_splits(ds).forget) == 56
    assert names_in(ds, make_splits(ds, "person", "people:3,s17").forget) == {"s4", "s17"}
    assert list(make_splits(ds, "photos", "photos:0,s2/1").forget) == [0, 10]
