"""Unlearn: pick a method, set its hyperparameters, launch it as a background job and follow it live."""
import streamlit as st

from dashboard import context, demo, hparams, metric_tables, sidebar, tasks
from mu_core.errors import MUError
from mu_core.methods import REGISTRY
from mu_core.run_spec import spec_for


cur = sidebar.active()
st.title(":material/auto_fix_high: Unlearn")
if cur.exp is None:
    st.warning(cur.problem, icon=":material/warning:")
else:
    sizes = cur.exp.splits.sizes()
    ready = context.baselines_ready(cur.exp)
    st.caption(f"Forget set **{demo.forget_name(cur.dataset, cur.spec)}**: {sizes['forget']} training photos to "
               f"forget, {sizes['retain']} to keep. "
               + ("The Original and Retrained models are trained." if all(ready.values()) else
                  "The missing baseline models are trained first, as part of the job."))

advice = demo.recommendation(cur.dataset.name, cur.choice.scenario) or {}
recommended = advice.get("method") if advice.get("method") in REGISTRY else None
closest = advice.get("closest") if advice.get("closest") in REGISTRY else None
if (recommended or closest) and "method" not in st.session_state:
    st.session_state["method"] = recommended or closest
name = st.selectbox("Method", list(REGISTRY), key="method",
                    format_func=lambda n: REGISTRY[n].title + (" (recommended)" if n == recommended else
                                                               " (closest to forgetting)" if n == closest else ""))
method = REGISTRY[name]
seeds = ", ".join(map(str, advice.get("seeds", [])))
if recommended:
    st.caption(f"Recommended here: **{REGISTRY[recommended].title}**, the method the shipped benchmark results "
               f"(seeds {seeds}, verdict level {advice['level']}) show forgetting at the lowest cost; the verdict "
               "card on Compare judges each run again.")
elif closest:
    st.warning(f"No method was judged forgotten by the shipped benchmark results for this scenario (seeds {seeds}, "
               f"verdict level {advice['level']}). Preselected: **{REGISTRY[closest].title}**, the one closest to "
               f"it, which still failed {demo.checks_in_words(advice['failed'])}: expect its verdict card to say "
               "so.", icon=":material/warning:")
elif advice:
    st.warning("The shipped benchmark results for this scenario carry no verdicts, so no method is recommended: "
               "read each run's verdict on the Compare page.", icon=":material/warning:")
st.markdown(f"**{method.title}**: {method.description}")
st.caption(f"Reference: {method.reference}")
defaults = method.defaults(cur.dataset.name, cur.choice.scenario)
prefix = f"hp.{name}.{cur.dataset.name}.{cur.choice.scenario}"
defaults_are = ("this dataset's preset, from mu_core/presets.json"
                if method.preset(cur.dataset.name, cur.choice.scenario)
                else "the method's published defaults")
with st.expander(f"Advanced: hyperparameters (the defaults are {defaults_are})",
                 expanded=not (recommended or closest)):
    values = hparams.hparam_inputs(method, defaults, prefix)
launch_col, reset_col = st.columns([1, 5])
launch = launch_col.button("Launch", type="primary", icon=":material/play_arrow:", width="stretch")
reset_col.button("Reset to defaults", icon=":material/restart_alt:", on_click=hparams.reset, args=(prefix,))

if launch:
    if cur.exp is None:
        st.error(f"Cannot launch: {cur.problem}", icon=":material/error:")
    else:
        try:
            tasks.submit_unlearn(cur.exp, spec_for(cur.exp, name, values), context.owner())
        except MUError as e:
            st.error(str(e), icon=":material/error:")
        else:
            st.rerun()  # the sidebar's queue shows the new job too

mine = tasks.unlearn_jobs(context.owner())
if mine:
    st.subheader("Your runs")
    latest = mine[-1]
    tasks.watch(latest.id, cancel_key=f"cancel.{latest.id}")
    for job in reversed(mine):
        if job.status == "done":
            try:
                run = context.store().get(job.result)
            except MUError:
                run = None  # the banner says why the store cannot be read
            if run is None:
                continue
            st.button(f"Open {metric_tables.run_label(run)} in Compare", key=f"open.{job.id}",
                      icon=":material/compare:",
                      help=f"{job.label}, stored as run {job.result}", on_click=sidebar.open_in_compare, args=(run,))
    for job in reversed(mine[:-1]):
        if job.status != "done":
            tasks.show_job(job)
