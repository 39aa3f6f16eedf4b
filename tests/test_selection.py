"""The dashboard's forget selection <-> the engine's forget syntax, and settings from the environment."""
from __future__ import annotations

import dataclasses

import pytest

from mu_core.data import load_dataset, make_splits
from mu_core.errors import DataError, MUError
from mu_core.selection import chosen, spec_for
from mu_core.settings import experiment, settings


@pytest.fixture(scope="module")
def orl():
    return load_dataset("orl")


def test_people_and_photos_round_trip_canonically(orl):
    assert spec_for(orl, "people", [7, 2, 2]) == "people:2,7"
    assert chosen(orl, "people:2,7") == ("people", [2, 7])
    assert chosen(orl, "people:s8,s3") == ("people", [2, 7])  # names select the same people, spec is canonical
    assert spec_for(orl, "photos", [55, 12]) == "photos:12,55"
    assert chosen(orl, "photos:s3/3,12") == ("photos", [12, 22])
    assert spec_for(orl, "people", []) is None


def test_the_default_selection_names_the_same_cached_retrained_as_the_command_line(orl):
    default = orl.scenarios["person"].default_forget
    kind, people = chosen(orl, default)
    assert spec_for(orl, kind, people) == make_splits(orl, "person", default).forget_spec


def test_numeric_identity_names_are_written_as_names(orl):
    numbered = dataclasses.replace(orl, identity_names=[str(100 + i) for i in range(40)], _tensors={})
    spec = spec_for(numbered, "people", [0, 5])
    assert spec == "people:100,105" and chosen(numbered, spec) == ("people", [0, 5])


def test_bad_selections_are_refused_with_a_message(orl):
    with pytest.raises(DataError, match="people or photos"):
        chosen(orl, "first:10")
    with pytest.raises(DataError, match="Only training photos"):
        chosen(orl, "photos:s1/9")


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MU_EPOCHS", "3")
    monkeypatch.setenv("MU_IMAGE_SIZE", "32")
    monkeypatch.setenv("MU_DEVICE", "cpu")
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path / "ck"))
    monkeypatch.setenv("MU_RUNS", str(tmp_path / "runs"))
    s = settings()
    assert (s.epochs, s.image_size, s.device) == (3, 32, "cpu")
    assert s.checkpoints == tmp_path / "ck" and s.runs == tmp_path / "runs"
    exp = experiment(forget_spec="people:0")
    assert exp.recipe.epochs == 3 and exp.image_size == 32 and str(exp.device) == "cpu"
    assert exp.checkpoint_dir == tmp_path / "ck" and exp.splits.forget_spec == "people:0"


@pytest.mark.parametrize("name, value, message", [
    ("MU_EPOCHS", "zero", "MU_EPOCHS"), ("MU_IMAGE_SIZE", "0", "at least 1"), ("MU_DEVICE", "abacus", "cpu or cuda")])
def test_bad_settings_name_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(MUError, match=message):
        settings()
