"""The evidence under the verdict card on Compare: the per-face verdict gallery, the bank's charts (epsilon histogram
with N and ceiling, KLoM with its floor), identity d' against the Retrained band, the "who is this?" probe and the
evidence pack downloads."""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import context, thumbs
from dashboard.context import Current
from mu_core import evidence_pack, plots
from mu_core.errors import MUError
from mu_core.face_verdicts import face_verdicts
from mu_core.pipeline import Scored
from mu_core.probe import who_is_this
from mu_core.run_model import load_run_model
from mu_core.uploads import ACCEPTED, read_upload

POSITION_WORDS = {"inside": "inside the Retrained range", "remembered": "remembered",
                  "over-forgotten": "over-forgotten"}
PROBE_UPLOAD = "probe.upload"


def face_gallery(cur: Current, outputs: dict[str, dict[str, np.ndarray]], run_label: str) -> None:
    """One row per forgotten photo: the Original's, the run's and Retrained's prediction and confidence, and where
    the run puts the photo against Retrained (inside its range, remembered, over-forgotten)."""
    ds, key = cur.dataset, cur.choice.data_key
    o, r, u = outputs["Original"], outputs["Retrained"], outputs[run_label]
    positions = face_verdicts(u["forget.loss"], r["forget.loss"], o["forget.loss"])
    forget = [int(i) for i in o["forget.indices"]]
    pictures = dict(zip(forget, thumbs.thumbnails(ds, key, tuple(forget))))
    rows = []
    for k, i in enumerate(forget):
        row = {"Photo": pictures[i], "Person": ds.label_name(ds.labels[i])}
        for label, out in (("Original", o), ("Unlearned", u), ("Retrained", r)):
            row[label] = f"{ds.label_name(out['forget.pred'][k])} ({out['forget.confidence'][k]:.2f})"
        row["Verdict"] = POSITION_WORDS[positions[k]]
        rows.append(row)
    counts = {p: positions.count(p) for p in POSITION_WORDS}
    st.caption(f"{run_label}: {counts['inside']} photo(s) inside the Retrained range, {counts['remembered']} "
               f"remembered (still on the Original's side), {counts['over-forgotten']} over-forgotten (more wrong "
               "than a model that never saw them). Judged on each photo's confidence in its true person, against "
               "the one Retrained model (inside = closer to Retrained than to the Original).")
    st.dataframe(pd.DataFrame(rows), hide_index=True, row_height=60, width="stretch",
                 height=min(600, 38 + 60 * len(rows)),
                 column_config={"Photo": st.column_config.ImageColumn("Photo", width="small"),
                                "Original": st.column_config.TextColumn("Original (confidence)"),
                                "Unlearned": st.column_config.TextColumn(f"{run_label} (confidence)"),
                                "Retrained": st.column_config.TextColumn("Retrained (confidence)")})


def identity_view(verdict: dict | None, label: str) -> None:
    check = next((c for c in (verdict or {}).get("checks", []) if c["name"] == "identity_features"), None)
    if check is None or not isinstance(check.get("value"), dict) or not check.get("floor") \
            or None in (check["value"].get("dprime"), check.get("reference"), *check["floor"]):
        st.caption("Identity in the face features: not measured for this run (it applies when whole people are "
                   "forgotten).")
        return
    low, high = check["floor"]
    value = check["value"]
    fig = plots.identity_band({"Retrained": check["reference"], label: value["dprime"]}, (low, high),
                              value.get("original_dprime"))
    st.plotly_chart(fig, key="identity")


def bank_views(judged: dict | None, n: int) -> None:
    """The epsilon histogram and KLoM (bank level only), or why they are absent."""
    if judged is None:
        st.caption(f"The epsilon histogram and KLoM need the method run N times against N Retrained models: they "
                   f"appear once the reference bank of {n} models is built (button in the card above).")
        return
    metrics = judged.get("metrics", {})
    if judged.get("epsilons"):
        st.plotly_chart(plots.epsilon_histogram(np.array(judged["epsilons"], dtype=float),
                                                int(metrics.get("forget_quality_n_models") or n),
                                                float(metrics.get("epsilon_ceiling") or 0)), key="epsilons")
    splits = [s for s in ("forget", "retain", "test") if metrics.get(f"klom_{s}") is not None]
    if splits:
        st.plotly_chart(plots.klom_bars({s: metrics[f"klom_{s}"] for s in splits},
                                        {s: metrics.get(f"klom_{s}_floor") for s in splits}), key="klom")


@st.cache_resource(show_spinner="Loading the unlearned model...", max_entries=4)
def _run_model(_cur: Current, run_id: str, root: str):
    return load_run_model(context.store(), run_id, _cur.exp)


def probe(cur: Current, base: dict[str, Scored], run: dict, label: str) -> None:
    """Pick a photo of the dataset (a forgotten one by default) or upload one: the Original, the run's model and
    Retrained each say who it is, with their confidence and the nearest enrolled faces."""
    ds, key = cur.dataset, cur.choice.data_key
    forget = [int(i) for i in cur.exp.splits.forget]
    choices = forget + [i for i in range(len(ds.sample_ids)) if i not in set(forget)]
    source = st.segmented_control("Photo", ["From the dataset", "Upload"], default="From the dataset",
                                  key="probe.source")
    if source == "Upload":
        file = st.file_uploader(f"A face photo ({ACCEPTED})", key=PROBE_UPLOAD)
        if file is None:
            return
        try:
            image = read_upload(file.name, file.getvalue())
        except MUError as e:
            st.error(str(e), icon=":material/error:")
            return
    else:
        index = st.selectbox("Photo of the dataset (the forgotten ones first)", choices, key="probe.photo",
                             format_func=lambda i: f"{ds.sample_ids[i]} ({ds.identity_names[ds.identities[i]]}"
                                                   f"{', forgotten' if i in forget else ''})")
        image = ds.load_image(int(index))
    try:
        models = {"Original": base["original"].model, label: _run_model(cur, run["id"], str(context.store().root)),
                  "Retrained": base["retrained"].model}
        answers = who_is_this(models, image, cur.exp)
    except MUError as e:
        st.warning(str(e), icon=":material/warning:")
        return
    face = answers[0].nearest.face
    if not face.passed:
        st.warning("This upload does not pass the face check, so no model's answer means anything: "
                   + "; ".join(face.reasons) + ".", icon=":material/no_photography:")
        return
    st.image(thumbs.image_uri(image, 140), caption="The photo shown to the three models")
    for col, answer in zip(st.columns(len(answers)), answers):
        with col.container(border=True, key=f"probe_answer_{answers.index(answer)}"):
            top = answer.predictions[0]
            st.markdown(f"**{answer.model}** says **{top.name}** ({100 * top.probability:.0f}%)")
            st.caption("Next: " + ", ".join(f"{p.name} {100 * p.probability:.0f}%" for p in answer.predictions[1:]))
            nearest = answer.nearest.matches
            if nearest:
                st.image(thumbs.thumbnails(ds, key, tuple(m.photo for m in nearest)),
                         caption=[f"{m.name} {m.similarity:.2f}" for m in nearest], width=56)


def _pack(run: dict, outputs: dict[str, np.ndarray], thumbnails: dict[str, np.ndarray]) -> dict[str, bytes | str]:
    with tempfile.TemporaryDirectory() as folder:
        try:
            paths = evidence_pack.write_pack(run, Path(folder), outputs, thumbnails, pdf=True)
            problem = None
        except MUError as e:
            paths, problem = {"manifest": Path(folder) / "manifest.json", "html": Path(folder) / "report.html"}, \
                str(e)
        out: dict[str, bytes | str] = {name: path.read_bytes() for name, path in paths.items() if path.is_file()}
    if problem:
        out["problem"] = problem
    return out


def evidence_pack_downloads(cur: Current, run: dict, outputs: dict[str, np.ndarray]) -> None:
    """Buttons that write the run's evidence pack, then download its HTML report, PDF and manifest."""
    ds = cur.dataset
    state = f"pack.{run['id']}"
    if st.button("Prepare the evidence pack (HTML report, PDF, manifest)", icon=":material/inventory_2:",
                 key=f"prepare.{run['id']}"):
        with st.spinner("Writing the report and printing its PDF...", show_time=True):
            forget = [int(i) for i in cur.exp.splits.forget]
            st.session_state[state] = _pack(run, outputs, {ds.sample_ids[i]: ds.load_image(i) for i in forget})
    pack = st.session_state.get(state)
    if not pack:
        return
    html, pdf, manifest = st.columns(3)
    name = f"evidence-{run['id']}"
    if "html" in pack:
        html.download_button("Report (HTML)", io.BytesIO(pack["html"]), f"{name}.html", "text/html",
                             icon=":material/description:", key=f"dl.html.{run['id']}")
    if "pdf" in pack:
        pdf.download_button("Report (PDF)", io.BytesIO(pack["pdf"]), f"{name}.pdf", "application/pdf",
                            icon=":material/picture_as_pdf:", key=f"dl.pdf.{run['id']}")
    if "manifest" in pack:
        manifest.download_button("Manifest (JSON)", io.BytesIO(pack["manifest"]), f"{name}.json",
                                 "application/json", icon=":material/data_object:", key=f"dl.json.{run['id']}")
    if "problem" in pack:
        st.info(f"No PDF: {pack['problem']}", icon=":material/info:")
