"""Uploaded photos on the Forget set page: each one is decoded safely, checked against the training set (exact or
near duplicate by perceptual hash) and, once it passes the face check (`mu_core.matching.FaceCheck`), matched to
the nearest enrolled people by the Original model's embedding; the user ticks what goes into the forget set
(nothing is ticked for them)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import context, gallery, thumbs
from dashboard.context import Current
from mu_core.baselines import is_cached
from mu_core.data.base import TRAIN
from mu_core.errors import DataError
from mu_core.experiment import Experiment
from mu_core.matching import MatchResult, find_duplicates, match_people
from mu_core.uploads import ACCEPTED, read_upload

ANALYSES = "upload_analyses"
FACE_CHECK = ("Each upload must first pass a **face check** before it is matched: no face detector is available "
              "offline, so the check compares it with this dataset's own photos, on image statistics (brightness, "
              "contrast, roughness as the model sees it) and on the Original model's features (no farther from "
              "every training photo than the data's own photos are). Nothing is added to the forget set until you "
              "tick it.")
UPLOADER = "uploader"


@dataclass(frozen=True)
class Analysis:
    """What an upload is: a thumbnail and its size, the training photos it (nearly) duplicates, the people it
    looks like."""

    thumbnail: str
    size: tuple[int, int]               # width, height
    duplicates: list[tuple[int, int]]   # (dataset index, Hamming distance), nearest first
    match: MatchResult | None           # None while the Original model is not trained


def _analyse(cur: Current, exp: Experiment, name: str, data: bytes) -> Analysis:
    image = read_upload(name, data)
    duplicates = find_duplicates(image, cur.dataset, cur.dataset.indices(TRAIN))
    model = context.original_model(exp)
    return Analysis(thumbs.image_uri(image, 140), (image.shape[1], image.shape[0]), duplicates,
                    match_people(model, image, exp) if model is not None else None)


def analysis(cur: Current, file) -> Analysis | str:
    """The analysis of an uploaded file, or the message saying why the file cannot be used (kept in the session
    per file and Original model, so it is computed once, and again once the Original is trained)."""
    exp = context.reference_experiment(cur)
    key = (file.file_id, str(exp.checkpoint_stem("original")), is_cached(exp, "original"))
    cache = st.session_state.setdefault(ANALYSES, {})
    if key not in cache:
        try:
            cache[key] = _analyse(cur, exp, file.name, file.getvalue())
        except DataError as e:
            cache[key] = str(e)
    return cache[key]


def _candidates(cur: Current, kind: str, result: Analysis) -> list[tuple[int, str]]:
    """(person or photo index, label) the user may add to the forget set. None is ticked by default: forgetting
    is the user's explicit choice. An upload that failed the face check offers no matched person."""
    ds = cur.dataset
    if kind == "photos":
        return [(i, f"Forget training photo {ds.sample_ids[i]} ({'identical' if d == 0 else f'{d} bits apart'})")
                for i, d in result.duplicates]
    out: dict[int, str] = {}
    for i, d in result.duplicates:
        person = int(ds.identities[i])
        out.setdefault(person, f"Forget {ds.identity_names[person]} (training photo {ds.sample_ids[i]} "
                               f"{'is this very photo' if d == 0 else 'nearly matches'})")
    if result.match is not None and result.match.face.passed:
        for m in result.match.matches:
            out.setdefault(m.identity, f"Forget {m.name} (similarity {m.similarity:.2f})")
    return list(out.items())


def _show_matches(cur: Current, result: Analysis) -> None:
    ds = cur.dataset
    if result.duplicates:
        rows = [{"Photo": thumbs.thumbnail(ds, cur.choice.data_key, i), "Training photo": ds.sample_ids[i],
                 "Person": ds.identity_names[ds.identities[i]],
                 "Hash distance": d, "Kind": "exact copy" if d == 0 else "near duplicate"}
                for i, d in result.duplicates[:5]]
        st.markdown("**In the training set**: this photo is already there.")
        st.dataframe(pd.DataFrame(rows), hide_index=True, row_height=60,
                     column_config={"Photo": st.column_config.ImageColumn("Photo", width="small")})
    else:
        st.markdown("**Not in the training set**: no training photo is identical or nearly identical to it.")
    if result.match is None:
        st.info("Train the baselines (sidebar) to match faces with the Original model.", icon=":material/info:")
        return
    m = result.match
    if not m.face.passed:
        st.warning("**Not a face photo like the training photos**, so it is not matched to anyone: "
                   + "; ".join(m.face.reasons) + ".", icon=":material/no_photography:")
        return
    rows = [{"Photo": thumbs.thumbnail(ds, cur.choice.data_key, p.photo), "Person": p.name,
             "Similarity": p.similarity} for p in m.matches]
    if m.enrolled:
        st.markdown(f"**Enrolled**: the Original model recognises **{m.matches[0].name}** (similarity "
                    f"{m.matches[0].similarity:.2f}, threshold {m.threshold:.2f}). Nearest enrolled people:")
    else:
        why = (f"the best similarity {m.matches[0].similarity:.2f} is below the threshold {m.threshold:.2f}"
               if m.matches and not np.isnan(m.threshold) else "no threshold could be calibrated on this data")
        st.markdown(f"**Not enrolled**: this looks like someone the model was not trained on ({why}); there may be "
                    "nothing of theirs to forget. Nearest enrolled people, for reference:")
    st.dataframe(pd.DataFrame(rows), hide_index=True, row_height=60, column_config={
        "Photo": st.column_config.ImageColumn("Their closest photo", width="small"),
        "Similarity": st.column_config.ProgressColumn("Similarity", min_value=-1.0, max_value=1.0, format="%.2f",
                                                      help="Cosine similarity of the Original model's embeddings "
                                                           "(centred, -1 to 1) to the person's training photos")})


def uploads(cur: Current, kind: str) -> None:
    """Upload photos; each is analysed and its candidates offered as ticks; a button adds the ticked ones."""
    files = st.file_uploader(f"Upload photos of the person to forget ({ACCEPTED})",
                             accept_multiple_files=True, key=f"{UPLOADER}.{cur.choice.data_key}")
    st.caption(FACE_CHECK)
    if not files:
        return
    chosen: list[int] = []
    for n, file in enumerate(files):
        with st.container(border=True):
            result = analysis(cur, file)
            if isinstance(result, str):
                st.error(result, icon=":material/broken_image:")
                continue
            left, right = st.columns([1, 4])
            left.image(result.thumbnail, caption=f"{file.name} ({result.size[0]} x {result.size[1]})")
            with right:
                _show_matches(cur, result)
                candidates = _candidates(cur, kind, result)
                if not candidates:
                    st.caption("Nothing of this photo is in the training set, so there is nothing to forget "
                               + ("in the photos scenario (choose the person scenario to forget the person)."
                                  if kind == "photos" else "."))
                for item, label in candidates:
                    if st.checkbox(label, value=False, key=f"confirm.{file.file_id}.{kind}.{item}.{n}"):
                        chosen.append(item)
    if st.button("Add the ticked ones to the forget set", icon=":material/playlist_add:", type="primary",
                 disabled=not chosen):
        gallery.set_selection(cur, kind, sorted(set(gallery.selected(cur)) | set(chosen)))
        st.rerun()
