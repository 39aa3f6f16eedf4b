"""Runs: every run ever launched (kept in SQLite across restarts), the leaderboard, trade-offs, exports and the
audit record of each run."""
import streamlit as st

from dashboard import context, demo, metric_tables, sidebar, verdict_card
from mu_core import jsonio, plots

cur = sidebar.active()
st.title(":material/history: Runs")
everything = context.runs()
here = [r for r in everything if r["dataset"] == cur.dataset.name and r["scenario"] == cur.choice.scenario
        and r["forget"] == cur.spec and r["seed"] == cur.choice.seed]
usable = [r for r in here if r["status"] == "done" and not r["damaged"]]
st.caption(f"{len(everything)} runs stored in `{context.store().db}` (they survive restarts of the app).")
damaged = [r for r in everything if r["damaged"]]
if damaged:
    st.warning(f"{len(damaged)} damaged run(s), listed as **damaged** in the history and left out of the "
               "leaderboard and Compare; the other runs are unaffected.", icon=":material/broken_image:")

metrics = [metric_tables.heading(key) for key in metric_tables.RUN_METRICS]
st.subheader("Leaderboard on this forget set")
gap = metric_tables.heading("gap_to_retrained")
board = metric_tables.readable(metric_tables.runs_table(usable).sort_values(gap).reset_index(drop=True))
board.insert(0, "Rank", range(1, len(board) + 1))
if board.empty:
    st.info(f"No finished run on the sidebar's forget set `{cur.spec}` (seed {cur.choice.seed}) yet: launch one on "
            "the Unlearn page.", icon=":material/info:")
else:
    st.caption(f"Finished runs on `{cur.spec}` (seed {cur.choice.seed}), closest to the Retrained model (the gold "
               "standard) first.")
    st.dataframe(board[["Rank", "Label", *metrics, "Hyperparameters"]], hide_index=True, width="stretch",
                 column_config={"Hyperparameters": st.column_config.TextColumn("Hyperparameters", width="large")})

base = context.baselines(cur.exp) if cur.exp is not None else None
rows = metric_tables.run_rows(usable)
if base is not None and rows:
    st.subheader("Trade-offs on this forget set")
    everyone = metric_tables.baseline_rows(base) + rows
    st.plotly_chart(plots.tradeoff(metric_tables.by_label(everyone), "forgetting_score", "test_acc"),
                    key="tradeoff_forgetting")
    st.plotly_chart(plots.tradeoff(metric_tables.by_label(everyone), "seconds", "nomus"), key="tradeoff_time")

st.subheader("History")
shown = here if st.toggle("Only this forget set", value=False) else everything
table = metric_tables.runs_table(shown)
history = ["Run", "Started", "Status", "Method", "Dataset", "Scenario", "Forget", "Seed",
           *(metric_tables.heading(k) for k in ("test_acc", "forget_acc", "nomus", "seconds")), "Message"]
st.dataframe(metric_tables.readable(table)[history], hide_index=True, width="stretch")
with st.container(horizontal=True):
    st.download_button("Export the table as CSV", metric_tables.runs_csv(table), file_name="runs.csv", mime="text/csv",
                       icon=":material/download:", help="Numbers rounded to 4 significant digits.")
    st.download_button("Export the runs as JSON", jsonio.dumps(shown, indent=2), file_name="runs.json",
                       mime="application/json", icon=":material/download:",
                       help="Everything stored, at full precision (null where a value is missing).")

if shown:
    st.subheader("Audit record")
    by_id = {r["id"]: r for r in shown}
    run_id = st.selectbox("Run", list(by_id), index=metric_tables.latest_finished(shown),
                          format_func=lambda i: f"{metric_tables.run_label(by_id[i])} · {by_id[i]['status']} · "
                                                f"{metric_tables.run_time(by_id[i])}")
    run = by_id[run_id]
    if run["damaged"]:
        st.warning(f"This run is damaged: {run['damaged']}.", icon=":material/broken_image:")
    if run["audit"]:
        audit = run["audit"]
        st.markdown(f"**{metric_tables.run_label(run)}** (run `{run_id}`) was asked to forget "
                    f"**{len(audit['forgotten'])} photos** (`{audit['forget']}`) with "
                    f"**{audit['method']}**, seed {audit['seed']}; weights `{audit['weights_sha256_before'][:12]}…` "
                    f"before, `{audit['weights_sha256_after'][:12]}…` after.")
        who = (demo.forget_name(cur.dataset, audit["forget"]) if run["dataset"] == cur.dataset.name
               else audit["forget"])
        colour, words = verdict_card.headline(audit.get("verdict"), who)
        st.markdown(f"Verdict: :{colour}[**{words}**]")
        with st.container(horizontal=True):
            st.download_button("Download the audit record", jsonio.dumps(audit, indent=2),
                               file_name=f"audit-{run_id}.json", mime="application/json", icon=":material/verified:")
            if run["dataset"] == cur.dataset.name and not run["damaged"]:
                st.button("Open in Compare", icon=":material/compare:", on_click=sidebar.open_in_compare,
                          args=(run,))
        with st.expander("The whole record"):
            st.json(audit, expanded=1)
    else:
        message = (run["message"] or "no result").rstrip(". ")
        st.warning(f"This run is **{run['status']}**: {message}."
                   + ("" if "stored" in message else " Nothing else was stored."), icon=":material/warning:")
