"""Compare: chosen runs beside the Original and Retrained models, on every metric and chart."""
import numpy as np
import streamlit as st

from dashboard import context, demo, evidence_views, metric_tables, sidebar, tasks, verdict_card
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
card_area = st.container()  # the verdict comes first; it depends on the runs chosen below it

finished = [r for r in context.runs(status="done", dataset=cur.dataset.name)
            if r["scenario"] == cur.choice.scenario and r["forget"] == cur.spec and r["seed"] == cur.choice.seed]
for run in finished:
    if run["damaged"]:
        st.warning(f"{metric_tables.run_label(run)} is damaged and cannot be compared: {run['damaged']}.",
                   icon=":material/broken_image:")
runs = [r for r in finished if not r["damaged"]]
by_id = {r["id"]: r for r in runs}
st.session_state[context.COMPARE_RUNS] = [i for i in st.session_state.get(context.COMPARE_RUNS, list(by_id)[:1])
                                          if i in by_id]
picked = st.multiselect("Runs to compare (finished runs on this forget set and seed)", list(by_id),
                        key=context.COMPARE_RUNS,
                        format_func=lambda i: f"{metric_tables.run_label(by_id[i])} · "
                                              f"{metric_tables.run_time(by_id[i])}")
if not runs:
    st.caption("No finished run on this forget set yet: launch one on the Unlearn page. Meanwhile, the baselines:")

rows, outputs = [], {}
for row in metric_tables.baseline_rows(base) + metric_tables.run_rows([by_id[i] for i in picked]):
    try:
        outputs[row.label] = metric_tables.outputs_of(row, base)
    except RunDamaged as e:
        st.warning(str(e), icon=":material/broken_image:")
    else:
        rows.append(row)
scenario_kind = cur.dataset.scenarios[cur.choice.scenario].kind
who = demo.forget_name(cur.dataset, cur.spec)
retrain_seconds = base["retrained"].result.seconds
chosen = [i for i in picked if any(r.run_id == i for r in rows)]
run = by_id[chosen[0]] if chosen else None
with card_area:
    if run is None:
        with st.container(key="verdict", border=True):
            st.markdown(f"### :gray[{who}: no run to judge yet]")
            st.caption("Launch a method on the Unlearn page (or pick a finished run below): this card then says in "
                       "plain words whether it forgot, check by check, against the Retrained model.")
    else:
        if len(chosen) > 1:
            run = by_id[st.selectbox("Verdict of", chosen, key="verdict_run",
                                     format_func=lambda i: metric_tables.run_label(by_id[i]))]
        label = metric_tables.run_label(run)
        judged = verdict_card.bank_judged(run["id"])
        verdict = judged["verdict"] if judged else run["result"].verdict
        minutes = verdict_card.bank_minutes(retrain_seconds)
        verdict_card.show(verdict, run["result"], who, label, retrain_seconds,
                          decide=f"build a reference bank of {verdict_card.SUGGESTED_BANK} models, about "
                                 f"{minutes:.0f} minute{'' if round(minutes) == 1 else 's'} (the button under this "
                                 "card).")
        if judged is None:
            verdict_card.bank_section(cur.exp, run, base)

if run is not None:
    st.subheader("Evidence, photo by photo")
    evidence_views.face_gallery(cur, outputs, label)
    evidence_views.identity_view(verdict, label)
    evidence_views.bank_views(judged, verdict_card.SUGGESTED_BANK)

    st.subheader("Who is this?")
    st.caption("Show any photo to the Original, the unlearned model and Retrained: a forgotten person should read "
               "as someone else to the unlearned model, as to Retrained.")
    evidence_views.probe(cur, base, run, label)

    st.subheader("Evidence pack")
    st.caption("For auditors and stakeholders: a self-contained HTML report (charts and photos embedded, nothing "
               "fetched from the network), its PDF, and the JSON manifest of the process.")
    evidence_views.evidence_pack_downloads(cur, run, outputs[label])

st.subheader("Metrics")
lam = st.slider("NoMUS λ (weight of utility against forgetting)", 0.0, 1.0, 0.5, 0.05)
metric_tables.show_metric_table(metric_tables.metric_table(rows, lam, scenario_kind))
st.caption("**MIA accuracy** is the attack's accuracy (0.5 = it cannot tell forgotten photos from unseen ones); "
           "the **forgetting score** |MIA−0.5| is what the benchmark's tables print under 'MIA' (0 is best). "
           "The attack runs on few photos: read it with its spread and sample sizes, against Retrained.")
complete = [r for r in rows if r.result.metrics.get("mia_accuracy") is not None
            and np.isfinite(r.result.metrics["mia_accuracy"])]
if len(complete) >= 2:
    st.plotly_chart(plots.nomus_parts(metric_tables.by_label(complete), lam), key="nomus")
else:
    st.caption("NoMUS is not drawn: its forgetting part needs the membership attack, which cannot run on this "
               "few photos (see the attack samples in the table).")

st.subheader("Loss distributions: forgotten vs unseen photos")
st.caption("A model that forgot treats its forgotten training photos like photos it never saw: the two "
           "histograms overlap, as they do for Retrained.")
st.plotly_chart(plots.loss_histograms({label: (o["forget.loss"], o["unseen.loss"]) for label, o in outputs.items()}),
                key="losses")

st.subheader("Membership-inference ROC")
curves = {label: metrics.mia_roc(o["forget.loss"], o["unseen.loss"]) for label, o in outputs.items()}
sizes = {row.label: (row.result.metrics["mia_n_members"], row.result.metrics["mia_n_nonmembers"]) for row in rows}
st.plotly_chart(plots.mia_roc(curves, sizes), key="roc")

st.subheader("Per-class accuracy")
forgotten_classes = {c: f"{c} (forgotten photos)" for row in rows
                     for c in row.result.metrics.get("per_class_forget_acc", {}) if scenario_kind == "identity"}
per_class = {row.label: {**row.result.metrics["per_class_acc"],
                         **{forgotten_classes[c]: v for c, v in row.result.metrics.get("per_class_forget_acc",
                                                                                        {}).items()
                            if c in forgotten_classes}} for row in rows}
shown = plots.classes_that_matter(per_class, forgotten=forgotten_classes.values())
st.caption(f"The {len(shown)} classes that matter: the forgotten people (on their forgotten training photos) and "
           "the largest changes against Retrained; the others change less.")
delta = st.toggle("Show the change against Retrained", value=False)
st.plotly_chart(plots.per_class_delta(per_class, classes=shown) if delta else
                plots.per_class_accuracy(per_class, classes=shown), key="per_class")
if cur.dataset.credit:
    st.caption(cur.dataset.credit)
