"""The face gallery of the Forget set page: one row per person (whole people) or per training photo (single
photos), with thumbnails; rows are selected in the table or picked by name, and both stay in step."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard import context, thumbs
from dashboard.context import Current
from mu_core.data import Dataset
from mu_core.data.base import TEST, TRAIN
from mu_core.data.splits import parse_forget
from mu_core.selection import chosen, spec_for

PAGE_PEOPLE = 60      # people per gallery page
TRAIN_COLUMNS = 7     # thumbnails of training photos shown per person
TEST_COLUMNS = 3
ROW_HEIGHT = 60
THUMB_WIDTH = 58
VERSIONS = "gallery_versions"


@dataclass(frozen=True)
class People:
    """Per enrolled person (identity index): their training and test sample indices."""

    train: dict[int, list[int]]
    test: dict[int, list[int]]

    @property
    def enrolled(self) -> list[int]:
        return sorted(self.train)


@st.cache_data(show_spinner=False, max_entries=8)
def people_of(_ds: Dataset, data_key: str) -> People:
    train: dict[int, list[int]] = {}
    test: dict[int, list[int]] = {}
    for i, (person, split) in enumerate(zip(_ds.identities.tolist(), _ds.base_splits.tolist())):
        if split == TRAIN:
            train.setdefault(person, []).append(i)
        elif split == TEST:
            test.setdefault(person, []).append(i)
    return People(train, test)


def selection_kind(cur: Current) -> str | None:
    """"people" or "photos" when the scenario forgets what a gallery selects, else None."""
    selections = cur.dataset.scenarios[cur.choice.scenario].selections
    return next((k for k in ("people", "photos") if k in selections), None)


def selected(cur: Current) -> list[int]:
    """Identity indices (people) or sample indices (photos) currently selected; none while the forget set is not
    a pick of the gallery's kind (a scenario's default such as first:N or random:10%)."""
    if not cur.spec or parse_forget(cur.spec)[0] != selection_kind(cur):
        return []
    return chosen(cur.dataset, cur.spec)[1]


def _versions(cur: Current) -> dict[str, int]:
    return st.session_state.setdefault(VERSIONS, {}).setdefault((cur.choice.data_key, cur.choice.scenario),
                                                                 {"table": 0, "picker": 0})


def set_selection(cur: Current, kind: str, indices: list[int], changed_by: str | None = None) -> None:
    """Store a new selection; the widgets other than `changed_by` ("table", "picker") start again from it."""
    set_spec(cur, spec_for(cur.dataset, kind, indices), changed_by)


def set_spec(cur: Current, spec: str | None, changed_by: str | None = None) -> None:
    """Store a new forget set in the engine's syntax (for example the scenario's default); the widgets other than
    `changed_by` start again from it."""
    context.set_forget_spec(cur.choice, spec)
    versions = _versions(cur)
    for widget in versions:
        if widget != changed_by:
            versions[widget] += 1


def _on_table(cur: Current, kind: str, key: str, shown: list[int]) -> None:
    rows = st.session_state[key].selection.rows
    keep = set(selected(cur)) - set(shown)
    set_selection(cur, kind, sorted(keep | {shown[r] for r in rows}), changed_by="table")


def _on_picker(cur: Current, kind: str, key: str) -> None:
    set_selection(cur, kind, list(st.session_state[key]), changed_by="picker")


def _page_of_people(cur: Current, people: People) -> list[int]:
    enrolled = people.enrolled
    if len(enrolled) <= PAGE_PEOPLE:
        return enrolled
    pages = (len(enrolled) + PAGE_PEOPLE - 1) // PAGE_PEOPLE
    page = st.number_input(f"Gallery page (of {pages}, {PAGE_PEOPLE} people each)", 1, pages, 1,
                           key=f"gallery_page.{cur.choice.data_key}")
    return enrolled[(page - 1) * PAGE_PEOPLE: page * PAGE_PEOPLE]


def _thumb_columns(cur: Current, samples: list[list[int]], prefix: str, count: int) -> dict[str, list]:
    """Columns prefix 1..count of thumbnails (None where a row has fewer photos)."""
    flat = tuple(i for row in samples for i in row[:count])
    uris = dict(zip(flat, thumbs.thumbnails(cur.dataset, cur.choice.data_key, flat)))
    return {f"{prefix} {k + 1}": [uris[row[k]] if k < len(row) else None for row in samples] for k in range(count)}


def _table(cur: Current, kind: str, frame: pd.DataFrame, shown: list[int], config: dict) -> None:
    key = f"gallery.{cur.choice.data_key}.{cur.choice.scenario}.{_versions(cur)['table']}.{hash(tuple(shown))}"
    picked = set(selected(cur))
    rows = [r for r, item in enumerate(shown) if item in picked]
    st.dataframe(frame, key=key, on_select=functools.partial(_on_table, cur, kind, key, shown),
                 selection_mode="multi-row", selection_default={"selection": {"rows": rows}},
                 column_config=config, hide_index=True, row_height=ROW_HEIGHT,
                 height=min(640, 38 + ROW_HEIGHT * len(frame)), width="stretch")


def people_gallery(cur: Current) -> None:
    """Whole people: tick a row to forget all of that person's training photos."""
    people = people_of(cur.dataset, cur.choice.data_key)
    shown = _page_of_people(cur, people)
    names = cur.dataset.identity_names
    frame = pd.DataFrame({"Person": [names[p] for p in shown],
                          "Train": [len(people.train[p]) for p in shown],
                          "Test": [len(people.test.get(p, [])) for p in shown]})
    train_thumbs = _thumb_columns(cur, [people.train[p] for p in shown], "Train", TRAIN_COLUMNS)
    test_thumbs = _thumb_columns(cur, [people.test.get(p, []) for p in shown], "Test", TEST_COLUMNS)
    frame = frame.assign(**train_thumbs, **test_thumbs)
    config = {c: st.column_config.ImageColumn(c, width=THUMB_WIDTH) for c in (*train_thumbs, *test_thumbs)}
    config.update(Person=st.column_config.TextColumn("Person", width=80),
                  Train=st.column_config.NumberColumn("Train", help="Training photos (forgotten when selected)",
                                                      width=56),
                  Test=st.column_config.NumberColumn("Test", help="Held-out test photos", width=56))
    _table(cur, "people", frame, shown, config)
    key = f"picker.{cur.choice.data_key}.{cur.choice.scenario}.{_versions(cur)['picker']}"
    st.multiselect("People to forget (tick rows above, or type names here)", people.enrolled,
                   default=selected(cur), format_func=lambda p: names[p], key=key, on_change=_on_picker,
                   args=(cur, "people", key))


def photos_gallery(cur: Current) -> None:
    """Single photos: tick the training photos to forget; their people stay enrolled."""
    ds = cur.dataset
    people = people_of(ds, cur.choice.data_key)
    shown = [i for p in _page_of_people(cur, people) for i in people.train[p]]
    frame = pd.DataFrame({"Photo": thumbs.thumbnails(ds, cur.choice.data_key, tuple(shown)),
                          "Photo id": [ds.sample_ids[i] for i in shown],
                          "Person": [ds.identity_names[ds.identities[i]] for i in shown]})
    _table(cur, "photos", frame, shown, {"Photo": st.column_config.ImageColumn("Photo", width="small")})
    every = [i for p in people.enrolled for i in people.train[p]]
    key = f"picker.{cur.choice.data_key}.{cur.choice.scenario}.{_versions(cur)['picker']}"
    st.multiselect("Photos to forget (tick rows above, or type photo ids here)", every, default=selected(cur),
                   format_func=lambda i: ds.sample_ids[i], key=key, on_change=_on_picker, args=(cur, "photos", key))


def summary(cur: Current, kind: str) -> None:
    """What is selected, with thumbnails, and how many photos that is in train and test."""
    items = selected(cur)
    if not items and not cur.spec:
        st.info("Nothing selected yet.")
        return
    ds = cur.dataset
    people = people_of(ds, cur.choice.data_key)
    if kind == "people":
        faces = [people.train[p][0] for p in items]
        captions = [ds.identity_names[p] for p in items]
    else:
        faces, captions = items, [ds.sample_ids[i] for i in items]
    shown = 40
    if items:
        st.image(thumbs.thumbnails(ds, cur.choice.data_key, tuple(faces[:shown]), 72), caption=captions[:shown])
    if len(items) > shown:
        st.caption(f"... and {len(items) - shown} more.")
    if cur.exp is None:
        st.warning(cur.problem, icon=":material/warning:")
        return
    s = cur.exp.splits.sizes()
    if not items:  # a forget set the gallery cannot show as ticks, such as the scenario's default first:N
        st.markdown(f"The forget set `{cur.spec}` is selected: **{s['forget']} training photos** will be "
                    f"forgotten, {s['retain']} stay; utility is measured on {s['test']} test photos, the attack's "
                    f"non-members are {s['unseen']} photos never trained on. Tick {kind} below to choose instead.")
    elif kind == "people":
        theirs = set(ds.identities[cur.exp.splits.unseen].tolist()) <= set(items)
        st.markdown(f"**{len(items)} {'person' if len(items) == 1 else 'people'}** selected: **{s['forget']} "
                    f"training photos** will be forgotten; "
                    + (f"their **{s['unseen']} test photos** are never trained on (the attack's non-members). "
                       if theirs else f"the attack's non-members are **{s['unseen']} photos of people never "
                                      "trained on**. ")
                    + f"{s['retain']} training photos of {len(people.enrolled) - len(items)} other people stay; "
                    + (f"utility is measured on their {s['test']} test photos." if theirs else
                       f"utility is measured on {s['test']} test photos of held-out people."))
    else:
        st.markdown(f"**{len(items)} training photo{'s' if len(items) != 1 else ''}** selected "
                    f"(0 test photos): they will be forgotten while their people stay enrolled; {s['retain']} training "
                    f"photos stay. Utility and the attack's non-members: the {s['test']} test photos.")
    named = ",".join(ds.identity_names[p] if kind == "people" else ds.sample_ids[p] for p in items)
    st.caption(f"The same forget set on the command line: `--forget {f'{kind}:{named}' if items else cur.spec}`")

