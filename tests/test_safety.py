"""Safe by default (issue 16): the data roots and what a data path may be, symbolic links out of the roots, the
server's bind address and error details, the favicon, corrupt or unwritable checkpoints, one spelling per forget
set, and hostile uploads. Each test here failed before that issue's changes."""
from __future__ import annotations

import io
import json
import os
import re
import time
import tomllib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

import tests.datafixtures as F
from mu_core.data import check_data_path, load_dataset, make_splits
from mu_core.data.roots import allowed_roots, escapes_roots
from mu_core.errors import CheckpointError, DataError, MUError
from mu_core.uploads import read_upload

REPO = Path(__file__).resolve().parents[1]
SECRET = "https://alice:ghp_SECRETTOKEN123@github.com"


# --- data roots and data paths ---------------------------------------------------------------------------------

def test_the_default_data_root_is_a_dedicated_folder_not_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("MU_DATA_ROOTS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert allowed_roots() == [(tmp_path / "mu-data").resolve()]
    (tmp_path / ".git-credentials").write_text(SECRET + "\n")
    with pytest.raises(DataError, match="outside the folders"):
        check_data_path(tmp_path / ".git-credentials")
    monkeypatch.setenv("MU_DATA_ROOTS", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    assert allowed_roots() == [(tmp_path / "a").resolve(), (tmp_path / "b").resolve()]


def test_a_data_path_must_be_a_folder_or_a_csv_file_and_a_file_is_never_echoed(monkeypatch, tmp_path):
    monkeypatch.setenv("MU_DATA_ROOTS", str(tmp_path))
    for name in (".git-credentials", ".env", "notes.txt"):
        (tmp_path / name).write_text(SECRET + "\n")
        with pytest.raises(DataError, match="is not a folder") as info:
            check_data_path(tmp_path / name)
        assert "SECRET" not in str(info.value)
        with pytest.raises(DataError, match="is not a folder") as info:
            load_dataset("folder", tmp_path / name)  # the command line's path: refused without being opened
        assert "SECRET" not in str(info.value)
    (tmp_path / "faces").mkdir()
    assert check_data_path(tmp_path / "faces") == (tmp_path / "faces").resolve()
    (tmp_path / "table.csv").write_text("image_path,label,identity\n")
    assert check_data_path(tmp_path / "table.csv") == (tmp_path / "table.csv").resolve()
    with pytest.raises(DataError, match="not a folder"):
        load_dataset("mufac", tmp_path / "table.csv")  # only the folder source reads a CSV directly


def test_a_csv_without_the_columns_names_columns_and_counts_never_its_content(tmp_path):
    secrets = tmp_path / "secrets.csv"
    secrets.write_text(f"{SECRET},password=hunter2\nx,y\n")
    with pytest.raises(DataError) as info:
        load_dataset("folder", secrets)
    message = str(info.value)
    assert "SECRET" not in message and "hunter2" not in message
    assert "image_path, label, identity" in message and "2 columns" in message


def test_a_nul_byte_in_a_data_path_is_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("MU_DATA_ROOTS", str(tmp_path))
    with pytest.raises(DataError, match="NUL byte"):
        check_data_path(f"{tmp_path}/faces\0/x")
    with pytest.raises(DataError, match="NUL byte"):
        load_dataset("folder", f"{tmp_path}/faces\0")


def test_links_inside_the_roots_that_lead_outside_are_not_read(monkeypatch, tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    faces = F.make_person_folders(root, people=5, photos=4)
    F.make_person_folders(outside, people=7, photos=4)
    (faces / "intruder").symlink_to(outside / "faces" / "person7")        # a person folder leading outside
    (faces / "person1" / "9.png").symlink_to(outside / "faces" / "person6" / "1.png")  # one image leading outside
    (faces / "person2" / "8.png").symlink_to(faces / "person3" / "1.png")  # a link inside the roots is fine
    monkeypatch.setenv("MU_DATA_ROOTS", str(root))
    assert escapes_roots(faces / "intruder") and not escapes_roots(faces / "person2" / "8.png")
    assert not escapes_roots(outside / "faces")  # outside the roots as written: the command line user's own path
    ds = load_dataset("folder", check_data_path(faces))
    assert "intruder" not in ds.identity_names and "person1/9.png" not in ds.sample_ids
    assert "person2/8.png" in ds.sample_ids
    notes = " ".join(ds.notes)
    assert "outside the allowed data roots" in notes
    read = []
    monkeypatch.setattr("mu_core.data.files.decode_image", lambda path, *a, **k: read.append(Path(path)))
    from mu_core.data.files import FileImages
    with pytest.raises(DataError, match="outside the allowed data roots"):
        FileImages([faces / "person1" / "9.png"])(0)
    assert read == []


# --- the server ------------------------------------------------------------------------------------------------

def test_the_server_binds_to_this_machine_and_shows_no_error_details():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"].get("enableXsrfProtection", True) is True
    assert config["server"].get("enableCORS", True) is True
    from streamlit.config import ShowErrorDetailsConfigOptions
    assert config["client"]["showErrorDetails"] in {o.value for o in ShowErrorDetailsConfigOptions}
    run = re.search(r"^run:.*?(?=^\S)", (REPO / "Makefile").read_text() + "\nend:", re.S | re.M).group(0)
    assert "--server.address $(ADDRESS)" in run and "$(if $(ADDRESS)" in run  # only when asked for
    assert re.search(r"^ADDRESS \?=\s*$", (REPO / "Makefile").read_text(), re.M)


def test_the_favicon_is_not_fetched_from_the_internet():
    source = (REPO / "app.py").read_text()
    icon = re.search(r"page_icon=([^,)]+)", source).group(1)
    assert ":material/" not in icon and "http" not in icon  # Streamlit fetches material favicons from a font CDN


# --- checkpoints -----------------------------------------------------------------------------------------------

@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """An experiment whose baselines "train" in no time (no optimisation, no evaluation): the cache logic is what
    these tests look at."""
    from mu_core.experiment import build_experiment
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path / "ck"))
    monkeypatch.setattr("mu_core.baselines.fit", lambda *a, **k: None)
    monkeypatch.setattr("mu_core.baselines.evaluate", lambda *a, **k: None)
    monkeypatch.setattr("mu_core.baselines.model_metrics", lambda *a, **k: {})
    return build_experiment(seed=5, device="cpu", epochs=1, image_size=32)


@pytest.mark.parametrize("content, why", [
    ("[1, 2]", "not an object"),
    ("null", "not an object"),
    ("{not json", "not valid JSON"),
    ("drop:seconds", "lacks seconds"),
    ("drop:fingerprint", "lacks fingerprint"),
    ("seconds:fast", "wrong type"),
])
def test_a_corrupt_checkpoint_json_is_retrained_with_a_note_saying_why(tiny, content, why):
    from mu_core.baselines import get_baseline, is_cached
    get_baseline(tiny, "original")
    meta_path = tiny.checkpoint_stem("original").with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    if content.startswith("drop:"):
        del meta[content[5:]]
        content = json.dumps(meta)
    elif content.startswith("seconds:"):
        content = json.dumps({**meta, "seconds": content[8:]})
    meta_path.write_text(content)
    assert not is_cached(tiny, "original")
    again = get_baseline(tiny, "original")
    assert not again.cached and why in again.notes[0] and "corrupt" in again.notes[0]
    assert "Retraining" in again.notes[0] and "delete it" not in again.notes[0]
    assert is_cached(tiny, "original") and again.seconds >= 0


def test_an_unwritable_checkpoint_folder_is_reported_before_training(monkeypatch, tmp_path):
    from mu_core.baselines import get_baseline
    from mu_core.experiment import build_experiment
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path / "a-file" / "ck"))  # unwritable, even for root
    exp = build_experiment(seed=5, device="cpu", epochs=1, image_size=32)
    monkeypatch.setattr("mu_core.baselines.fit", lambda *a, **k: pytest.fail("trained before checking the folder"))
    steps = []
    with pytest.raises(CheckpointError, match="Cannot write to the checkpoint folder .*nothing was trained"):
        get_baseline(exp, "original", progress=steps.append)
    assert steps == []


def test_orphaned_temporary_files_of_a_killed_write_are_removed(tiny):
    from mu_core.baselines import get_baseline
    folder = tiny.checkpoint_stem("original").parent
    folder.mkdir(parents=True)
    old = folder / ".original-seed5-x.safetensors.k1ll3d.tmp"
    young = folder / ".original-seed5-x.json.wr1t1ng.tmp"  # maybe another process writing right now
    for path in (old, young):
        path.write_bytes(b"half a file")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    get_baseline(tiny, "original")
    assert not old.exists() and young.exists()


# --- one forget set, one spelling --------------------------------------------------------------------------------

def test_the_same_forget_set_written_differently_is_one_set(monkeypatch, tmp_path):
    from mu_core.experiment import build_experiment
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path))
    orl = load_dataset("orl")
    specs = ["people:2,2,7", "people:7,2", "people:s3,s8", " people: s8 , 2 ", "PEOPLE:7,s3,2"]
    assert {make_splits(orl, "person", s).forget_spec for s in specs} == {"people:2,7"}
    stems = {build_experiment(forget_spec=s, device="cpu", epochs=1, image_size=32).checkpoint_stem("retrained")
             for s in specs}
    assert len(stems) == 1  # one cached Retrained model, one leaderboard
    assert make_splits(orl, "photos", "photos:s1/3,12,2,s2/3").forget_spec == "photos:2,12"
    default = orl.scenarios["person"].default_forget
    assert make_splits(orl).forget_spec == default == "people:2,7,13,19,24,29,34,38"  # unchanged


def test_first_and_random_counts_are_one_spelling(tmp_path):
    ds = load_dataset("cifar10", F.make_cifar10(tmp_path))
    assert {make_splits(ds, None, s).forget_spec for s in ("random:10%", "random:10", "random:10.0%")} == \
        {"random:10"}


@pytest.mark.parametrize("spec, message", [
    ("people:\u00b2", "Unknown person"),          # a superscript two: str.isdigit() but not a number
    ("people:\u0663", "Unknown person"),          # an Arabic-Indic three: int() reads it as 3
    ("", "forget selection is empty"),
    ("   ", "forget selection is empty"),
    ("random:100%", "no scenario of Built-in faces"),
])
def test_forget_values_that_were_misread_are_refused(spec, message):
    with pytest.raises(DataError, match=message):
        make_splits(load_dataset("orl"), "person", spec)


# --- uploads -----------------------------------------------------------------------------------------------------

def _png(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize("size", [(16384, 64), (64, 16384)])
def test_an_upload_beyond_webps_side_limit_is_refused(size):
    data = _png(Image.new("L", size))
    with pytest.raises(DataError, match="at most 16383 pixels"):
        read_upload("huge.png", data)


def test_a_strip_is_refused_so_its_thumbnail_cannot_exceed_webps_limit():
    with pytest.raises(DataError, match="strip"):
        read_upload("strip.png", _png(Image.new("L", (4000, 16))))
    assert read_upload("ok.png", _png(Image.new("L", (320, 16)))).shape == (16, 320)


def test_a_png_text_chunk_bomb_is_called_what_it_is():
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "A" * (16 * 1024 * 1024), zip=True)
    data = _png(Image.new("RGB", (64, 64)), pnginfo=info)
    assert len(data) < 100_000
    with pytest.raises(DataError, match="decompression bomb"):
        read_upload("bomb.png", data)


def test_recipe_overrides_name_their_range():
    from mu_core.recipe import MAX_IMAGE_SIZE, Recipe
    recipe = Recipe(epochs=1, batch_size=8, lr=0.1)
    assert recipe.with_overrides(image_size=MAX_IMAGE_SIZE).image_size == 512
    for bad in (100_000, 0, 513):
        with pytest.raises(MUError, match="from 1 to 512"):
            recipe.with_overrides(image_size=bad)
