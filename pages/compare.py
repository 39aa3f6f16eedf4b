"""Compare: chosen runs beside the Original and Retrained models, on every metric and chart."""
import pandas as pd
import streamlit as st

from dashboard import context, gallery, results, sidebar, tasks, thumbs
from mu_core import metrics, plots
from mu_core.store import RunDamaged

cur = sidebar.active()
st.title(":material/compare: Compare")
if cur.exp is None:
    st.warning(cur.problem, icon=":material/warning:")
    st.stop()
base = context.baselines(cur.exp)
if base is None:
    st.info(tasks.training_note(cur.exp) or "The Original and Retrained models of this forget set are not trained "
            "yet: train them from the sidebar (or launch a run, which trains them first).", icon=":material/info:")
    st.stop()

finished = [r for r in context.runs(status="done", dataset=cur.dataset.name)
            if r["scenario"] == cur.choice.scenario and r["forget"] == cur.spec and r["seed"] == cur.choice.seed]
for run in finished:
    if run["damaged"]:
        st.warning(f"{results.run_label(run)} is damaged and cannot be compared: {run['damaged']}.",
                   icon=":material/broken_image:")
runs = [r for r in finished if not r["damaged"]]
by_id = {r["id"]: r for r in runs}
st.session_state[context.COMPARE_RUNS] = [i for i in st.session_state.get(context.COMPARE_RUNS, list(by_id)[:1])
                                          if i in by_id]
picked = st.multiselect("Runs to compare (finished runs on this forget set and seed)", list(by_id),
                        key=context.COMPARE_RUNS,
                        format_func=lambda i: f"{results.run_label(by_id[i])} · {results.run_time(by_id[i])}")
if not runs:
    st.caption("No finished run on this forget set yet: launch one on the Unlearn page. Meanwhile, the baselines:")

rows, outputs = [], {}
for row in results.baseline_rows(base) + results.run_rows([by_id[i] for i in picked]):
    try:
        outputs[row["label"]] = results.outputs_of(row, base)
    except RunDamaged as e:
        st.warning(str(e), icon=":material/broken_image:")
    else:
        rows.append(row)
scenario_kind = cur.dataset.scenarios[cur.choice.scenario].kind
lam = st.slider("NoMUS λ (weight of utility against forgetting)", 0.0, 1.0, 0.5, 0.05)

st.subheader("Metrics")
results.show_metric_table(results.metric_table(rows, lam, scenario_kind))
st.caption("**MIA accuracy** is the attack's accuracy (0.5 = it cannot tell forgotten photos from unseen ones); "
           "the **forgetting score** |MIA−0.5| is what the benchmark's tables print under 'MIA' (0 is best). "
           "The attack runs on few photos: read it with its spread and sample sizes, against Retrained.")
st.plotly_chart(plots.nomus_parts(rows, lam), key="nomus")

st.subheader("Loss distributions: forgotten vs unseen photos")
st.caption("A model that forgot treats its forgotten training photos like photos it never saw: the two "
           "histograms overlap, as they do for Retrained.")
st.plotly_chart(plots.loss_histograms({label: (o["forget.loss"], o["unseen.loss"]) for label, o in outputs.items()}),
                key="losses")

st.subheader("Membership-inference ROC")
curves = {label: metrics.mia_roc(o["forget.loss"], o["unseen.loss"]) for label, o in outputs.items()}
sizes = {row["label"]: (row["metrics"]["mia_n_members"], row["metrics"]["mia_n_nonmembers"]) for row in rows}
st.plotly_chart(plots.mia_roc(curves, sizes), key="roc")

st.subheader("Per-class accuracy")
per_class = {row["label"]: row["metrics"]["per_class_acc"] for row in rows}
delta = st.toggle("Show the change against Retrained", value=False)
st.plotly_chart(plots.per_class_delta(per_class) if delta else plots.per_class_accuracy(per_class), key="per_class")

st.subheader("Forgotten photos, one by one")
st.caption("Each forgotten training photo with every model's prediction: a model that forgot should get them "
           "about as wrong, and as unsure, as Retrained.")
ds, key = cur.dataset, cur.choice.data_key
forget = [int(i) for i in outputs["Original"]["forget.indices"]]
faces = gallery.class_faces(ds, key)
records = []
for label, o in outputs.items():
    for k, (i, predicted) in enumerate(zip(forget, o["forget.pred"])):
        records.append({"order": k, "Photo": i, "Photo id": ds.sample_ids[i], "True": ds.label_name(ds.labels[i]),
                        "Model": label, "Predicted face": faces.get(int(predicted)) if faces else None,
                        "Predicted": ds.label_name(predicted), "Correct": bool(o["forget.correct"][k] >= 1),
                        "Confidence": float(o["forget.confidence"][k]), "Loss": float(o["forget.loss"][k])})
frame = pd.DataFrame(records).sort_values(["order"], kind="stable").drop(columns="order")
photos = tuple(dict.fromkeys(frame["Photo"]))
frame["Photo"] = frame["Photo"].map(dict(zip(photos, thumbs.thumbnails(ds, key, photos))))
if faces:
    shown = tuple(dict.fromkeys(i for i in frame["Predicted face"] if i is not None))
    frame["Predicted face"] = frame["Predicted face"].map(dict(zip(shown, thumbs.thumbnails(ds, key, shown))))
else:
    frame = frame.drop(columns="Predicted face")
st.dataframe(frame, hide_index=True, row_height=60, width="stretch", height=min(720, 38 + 60 * len(frame)),
             column_config={
                 "Photo": st.column_config.ImageColumn("Photo", width="small"),
                 "Predicted face": st.column_config.ImageColumn("Predicted person", width="small",
                                                                help="A training photo of the predicted person"),
                 "Confidence": st.column_config.ProgressColumn("Confidence", min_value=0.0, max_value=1.0,
                                                               format="%.2f"),
                 "Loss": st.column_config.NumberColumn("Loss", format="%.2f")})
if ds.credit:
    st.caption(ds.credit)
