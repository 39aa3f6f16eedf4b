"""AppTest tests of the dashboard on every bring-your-own data source: the fixture folder of each one (built in its
exact layout by datafixtures, inside tmp_path) is chosen in the sidebar, its path typed and loaded, and the pages
show what a user of that dataset should see. Nothing is trained here: where a page needs the Original and
Retrained models, untrained networks are stored as those checkpoints (one evaluation pass each, at 32 px)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

import datafixtures as F
from dashboard import context, tasks
from dashboard.sidebar import CURRENT
from mu_core import baselines
from mu_core.data import SOURCES, make_splits
from mu_core.data.cifar10 import CLASSES as CIFAR_CLASSES
from mu_core.data.jaffe import EXPRESSIONS
from mu_core.data.mufac import AGE_RANGES
from mu_core.models import build_model
from tests.appkit import TINY_ENV, assert_clean, button, open_app, texts

MUFAC_TRAIN_PEOPLE = [f"{family}/{role}" for family in F.MUFAC_PARTS[0][2] for role in ("A", "D")]
MUCAC_TRAIN_PEOPLE = [str(i) for i in F.MUCAC_IDENTITIES["forget"] + F.MUCAC_IDENTITIES["retain"]]
JAFFE_TRAIN_PEOPLE = ["KA", "KL", "KR", "NA", "NM", "UY"]  # the identity-disjoint split of the 10 women: 6 train


@pytest.fixture
def data_root(monkeypatch, tmp_path) -> Path:
    """A fresh dashboard process, as far as these tests can tell: tiny settings, checkpoints and runs in tmp_path,
    data read from tmp_path/data only, and no background training of the built-in faces' baselines on start.
    The pages manager behaves as in a running server (see tests/appkit.py, app_env)."""
    for key, value in TINY_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MU_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("MU_RUNS", str(tmp_path / "runs"))
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("MU_DATA_ROOTS", str(root))
    monkeypatch.setattr(tasks, "first_start_job", lambda: None)
    init = PagesManager.__init__

    def as_in_a_running_server(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "uses_pages_directory", PagesManager.uses_pages_directory)
    monkeypatch.setattr(PagesManager, "__init__", as_in_a_running_server)
    return root


@dataclass(frozen=True)
class Case:
    """A source with its fixture and what the Forget set page should show for it."""

    id: str
    source: str
    make: Callable[[Path], Path]      # builds the fixture under a folder; returns the path a user types
    loaded: str                       # the sidebar's caption after "Load data"
    kind: str                         # what the gallery selects: "people" or "photos"
    names: list[str]                  # the gallery's first column (people), in order
    train: list[int] | int            # training photos per person (one number: the same for everyone)
    test: list[int] | int             # test photos per person
    spec: str                         # the scenario's default forget set
    picked: list[str]                 # the gallery's default ticks (names), empty when the default is not a pick
    summary: str                      # what the Selected box says of it
    task: str                         # the dataset's kind and class names, used by the models and Compare
    classes: list[str]


CASES = [
    Case("mufac", "mufac", F.make_mufac, "88 rows, 22 identities, 0 missing files.", "people", MUFAC_TRAIN_PEOPLE,
         4, 0, "first:7", [],
         "The forget set `first:7` is selected: **7 training photos** will be forgotten, 41 stay; utility is "
         "measured on 16 test photos, the attack's non-members are 24 photos never trained on.",
         "multiclass", AGE_RANGES),
    Case("mucac", "mucac", F.make_mucac, "40 rows, 10 identities, 0 missing files.", "people", MUCAC_TRAIN_PEOPLE,
         4, 0, "people:200-1000", ["200", "300", "1000"],
         "**3 people** selected: **12 training photos** will be forgotten; the attack's non-members are **8 photos "
         "of people never trained on**. 12 training photos of 3 other people stay; utility is measured on 8 test "
         "photos of held-out people.", "multilabel", ["Male", "Smiling", "Young"]),
    Case("mucac-binary", "mucac-smiling", F.make_mucac, "40 rows, 10 identities, 0 missing files.", "people",
         MUCAC_TRAIN_PEOPLE, 4, 0, "people:200-1000", ["200", "300", "1000"],
         "**3 people** selected: **12 training photos** will be forgotten", "binary", ["not Smiling", "Smiling"]),
    Case("jaffe", "jaffe", F.make_jaffe, "140 rows, 10 identities, 0 missing files.", "people", JAFFE_TRAIN_PEOPLE,
         14, 0, "people:0", ["KA"],
         "**1 person** selected: **14 training photos** will be forgotten; the attack's non-members are **28 photos "
         "of people never trained on**. 70 training photos of 5 other people stay; utility is measured on 28 test "
         "photos of held-out people.", "multiclass", list(EXPRESSIONS.values())),
    Case("jaffe-piufr", "jaffe-piufr", F.make_jaffe, "140 rows, 10 identities, 0 missing files.", "people",
         F.JAFFE_PEOPLE, [10, 10, 13, 6, 10, 10, 10, 9, 11, 9], [1, 0, 1, 0, 1, 2, 2, 1, 1, 1], "first:24", [],
         "The forget set `first:24` is selected: **24 training photos** will be forgotten, 74 stay; utility is "
         "measured on 10 test photos, the attack's non-members are 32 photos never trained on.",
         "multiclass", list(EXPRESSIONS.values())),
    Case("cifar10", "cifar10", F.make_cifar10, "120 rows, 120 identities, 0 missing files.", "photos",
         [], 0, 0, "random:10", [],
         "The forget set `random:10` is selected: **10 training photos** will be forgotten, 90 stay; utility is "
         "measured on 20 test photos, the attack's non-members are 20 photos never trained on.",
         "multiclass", CIFAR_CLASSES),
    Case("folder-people", "folder", F.make_person_folders, "80 rows, 8 identities, 0 missing files.", "people",
         [f"person{p}" for p in range(1, 9)], 7, 3, "people:0,4", ["person1", "person5"],
         "**2 people** selected: **14 training photos** will be forgotten; their **6 test photos** are never "
         "trained on (the attack's non-members). 42 training photos of 6 other people stay; utility is measured on "
         "their 18 test photos.", "multiclass", [f"person{p}" for p in range(1, 9)]),
    Case("folder-csv", "folder", F.make_face_csv, "60 rows, 10 identities, 0 missing files.", "people",
         ["p0", "p1", "p3", "p5", "p6", "p8"], 6, 0, "people:0", ["p0"],
         "**1 person** selected: **6 training photos** will be forgotten; the attack's non-members are **12 photos "
         "of people never trained on**. 30 training photos of 5 other people stay; utility is measured on 12 test "
         "photos of held-out people.", "binary", ["even", "odd"]),
]


def test_every_bring_your_own_source_has_a_case():
    """A new source in SOURCES needs a case here; the binary MUCAC variants share one (mucac-smiling)."""
    bring_your_own = {name for name, source in SOURCES.items() if source.needs_folder}
    assert {c.source for c in CASES} | {"mucac-male", "mucac-young"} == bring_your_own


def load(at: AppTest, source: str, path: Path) -> AppTest:
    """Choose `source` in the sidebar, type `path`, press Load data (the run in which the check's caption shows)."""
    at.selectbox(key=context.DATASET).set_value(source).run()
    assert_clean(at)
    assert "Give the folder holding this dataset" in texts(at)
    assert "Choose a dataset in the sidebar to start." in texts(at)  # the page waits for the data
    at.text_input(key=f"{context.DATA_DIR}.{source}").set_value(str(path)).run()
    button(at, "Load data").click().run()
    assert_clean(at)
    return at


def opened(data_root: Path, case: Case) -> AppTest:
    at = load(open_app(), case.source, case.make(data_root))
    assert not at.error, [e.value for e in at.error]
    assert case.loaded in texts(at)
    return at


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_forget_set_gallery_groups_the_loaded_dataset_by_identity(data_root, case):
    at = opened(data_root, case)
    cur = at.session_state[CURRENT]
    assert cur.choice.dataset == case.source and Path(cur.choice.data_dir).is_relative_to(data_root.resolve())
    assert at.selectbox(key=context.SCENARIO).value == cur.dataset.default_scenario
    assert cur.spec == case.spec
    # the caption names the forget set as the command line takes it (people by name), and it means the same set
    written = re.search(r"The same forget set on the command line: `--forget ([^`]+)`", texts(at)).group(1)
    assert make_splits(cur.dataset, cur.choice.scenario, written).forget_spec == case.spec
    assert case.summary in texts(at)
    assert "Original (trained on all training photos): not trained yet" in texts(at)
    assert any(b.label == "Train baselines" for b in at.button)  # offered, not pressed: nothing is trained here
    assert cur.dataset.kind == case.task and cur.dataset.class_names == case.classes

    gallery = at.dataframe[0].value
    picker = at.multiselect[0]
    names = cur.dataset.identity_names
    if case.kind == "people":
        assert picker.label.startswith("People to forget")
        assert list(gallery["Person"]) == case.names
        for column, counts in (("Train", case.train), ("Test", case.test)):
            assert list(gallery[column]) == (counts if isinstance(counts, list) else [counts] * len(case.names))
        assert gallery["Train 1"].str.startswith("data:image/webp;base64,").all()
        assert picker.options == case.names
        assert [names[p] for p in picker.value] == case.picked
    else:  # every image is its own identity: the gallery lists training photos, a page at a time
        assert picker.label.startswith("Photos to forget") and picker.value == []
        assert len(picker.options) == 100 and len(gallery) == 60
        assert list(gallery["Photo id"][:2]) == ["data_batch_1/00000", "data_batch_1/00001"]
        assert (gallery["Person"] == gallery["Photo id"]).all()
        assert gallery["Photo"].str.startswith("data:image/webp;base64,").all()
        assert [n.value for n in at.number_input if n.label == "Gallery page (of 2, 60 people each)"] == [1]
    if cur.dataset.credit:
        assert cur.dataset.credit in texts(at)


def test_mufac_picks_families_or_people_and_the_default_comes_back(data_root):
    """MUFAC's default forget set (the first rows of the training CSV) is not a pick of people: the gallery starts
    with nothing ticked, a family is picked by its two people, and Default restores the benchmark's rows."""
    at = opened(data_root, CASES[0])
    names = at.session_state[CURRENT].dataset.identity_names
    family = [names.index("F0002/A"), names.index("F0002/D")]
    at.multiselect[0].set_value(family).run()
    assert_clean(at)
    assert at.session_state[CURRENT].spec == "people:2,3"
    shown = texts(at)
    assert "**2 people** selected: **8 training photos** will be forgotten" in shown
    assert "40 training photos of 10 other people stay" in shown
    at.multiselect[0].set_value([names.index("F0005/D")]).run()
    assert "**1 person** selected: **4 training photos** will be forgotten" in texts(at)

    button(at, "Default").click().run()
    assert_clean(at)
    assert at.session_state[CURRENT].spec == "first:7" and at.multiselect[0].value == []
    assert CASES[0].summary in texts(at)
    button(at, "Clear").click().run()
    assert "Nothing selected yet." in texts(at)
    assert at.session_state[CURRENT].exp is None


def store_untrained_baselines(at: AppTest) -> None:
    """Untrained networks as the Original and Retrained checkpoints of the current experiment (no training)."""
    exp = at.session_state[CURRENT].exp
    for name, split in (("original", "train"), ("retrained", "retain")):
        baselines._store(exp, name, build_model(exp.dataset.num_classes), 0.0, split, [])


# The true labels of the default forget sets, as Compare's per-class chart names the forgotten photos' classes: MUFAC's first 7
# training rows are F0001/A (age class a) and F0001/D (b); MUCAC's forgotten identities 200, 300, 1000 are even
# (Male) and below 3000 (Young), smiling on odd photos; JAFFE's KA shows all 7 expressions.
FORGOTTEN_LABELS = {"mufac": {"0-6", "7-12"}, "mucac": {"Male, Young", "Male, Smiling, Young"},
                    "mucac-binary": {"not Smiling", "Smiling"}, "jaffe": set(EXPRESSIONS.values()),
                    "folder-people": {"person1", "person5"}, "folder-csv": {"even", "odd"}}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_compare_names_the_datasets_classes(data_root, case):
    at = opened(data_root, case)
    store_untrained_baselines(at)
    at.run()
    assert "Original (trained on all training photos): trained" in texts(at)
    at.switch_page("pages/compare.py").run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    chart = next(c for c in charts if c["layout"]["title"]["text"].startswith("Test accuracy per class"))
    bars = {x for trace in chart["data"] for x in trace["x"]}
    suffix = " (forgotten photos)"  # identity scenarios add each forgotten person's accuracy on their own photos
    shown_classes = {x.removesuffix(suffix) for x in bars}
    assert shown_classes and shown_classes <= set(case.classes), shown_classes
    if case.task == "multilabel":
        assert shown_classes == set(case.classes)  # one bar group per attribute
    forgotten = {x.removesuffix(suffix) for x in bars if x.endswith(suffix)}
    kind = at.session_state[CURRENT].dataset.scenarios[at.session_state[CURRENT].choice.scenario].kind
    assert bool(forgotten) == (kind == "identity")
    if forgotten and case.id in FORGOTTEN_LABELS:
        assert forgotten == FORGOTTEN_LABELS[case.id]


def make_other(tmp: Path) -> Path:
    """A folder that is no named layout: one subfolder of photos per person."""
    return F.make_person_folders(tmp)


def make_empty(tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


@pytest.mark.parametrize("source, make, message", [pytest.param(*case, id=case[0]) for case in [
    ("mufac", make_other, "is not the MUFAC layout: custom_train_dataset.csv is missing (expected the folder "
                          "custom_korean_family_dataset_resolution_128"),
    ("mucac", make_other, "is not the expected layout: the CelebA-HQ image folder is missing"),
    ("mucac-male", make_other, "is not the expected layout: the CelebA-HQ image folder is missing"),
    ("jaffe", make_other, "No JAFFE images in"),
    ("jaffe-piufr", make_other, "No JAFFE images in"),
    ("cifar10", make_other, "is not the CIFAR-10 python layout: data_batch_1 is missing"),
    ("folder", make_empty, "has no subfolders with photos and no CSV file (expected a folder with one subfolder"),
]])
def test_a_folder_not_in_the_layout_is_explained_in_the_sidebar(data_root, source, make, message):
    at = load(open_app(), source, make(data_root))
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and message in errors[0], errors
    assert at.session_state[CURRENT] is None and not at.dataframe
    at.run()  # nothing was loaded: the sidebar still asks for a folder, the page still waits
    assert_clean(at)
    assert "Give the folder holding this dataset" in texts(at)
    assert "Choose a dataset in the sidebar to start." in texts(at)
