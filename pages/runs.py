"""Runs: every run ever launched (kept in SQLite across restarts), the leaderboard, trade-offs, exports and the
audit record of each run."""
import json

import pandas as pd
import streamlit as st

from dashboard import context, results, sidebar
from mu_core import plots

GOTO = "goto_compare"
METRICS = {"test_acc": "Test acc", "forget_acc": "Forget acc", "mia_accuracy": "MIA acc",
           "forgetting_score": "Forgetting |MIA−0.5|", "nomus": "NoMUS", "gap_to_retrained": "Gap to Retrained"}


def compare(choice: context.Choice, run: dict) -> None:
    """Button callback: point the sidebar at the run's forget set and open it in Compare."""
    st.session_state[context.SCENARIO] = run["scenario"]
    st.session_state[context.SEED] = run["seed"]
    context.set_forget_spec(context.Choice(choice.dataset, choice.data_dir, run["scenario"], run["seed"]),
                            run["forget"])
    st.session_state[context.COMPARE_RUNS] = [run["id"]]
    st.session_state[GOTO] = True


if st.session_state.pop(GOTO, False):
    st.switch_page("pages/compare.py")
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


def runs_table(runs: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "Run": r["id"], "Label": results.run_label(r), "Started": results.run_time(r),
        "Status": "damaged" if r["damaged"] else r["status"],
        "Method": r["method"], "Dataset": r["dataset"], "Scenario": r["scenario"], "Forget": r["forget"],
        "Seed": r["seed"],
        **{title: (r["result"] or {}).get("metrics", {}).get(key) for key, title in METRICS.items()},
        "Seconds": (r["result"] or {}).get("seconds"),
        "Message": f"Damaged: {r['damaged']}." if r["damaged"] else r["message"] or "",
        "Hyperparameters": json.dumps(r["hparams"]),
    } for r in runs], columns=["Run", "Label", "Started", "Status", "Method", "Dataset", "Scenario", "Forget", "Seed",
                               *METRICS.values(), "Seconds", "Message", "Hyperparameters"])


number = {title: st.column_config.NumberColumn(title, format="%.3f") for title in METRICS.values()}
number["Seconds"] = st.column_config.NumberColumn("Seconds", format="%.1f")

st.subheader("Leaderboard on this forget set")
board = runs_table(usable).sort_values("Gap to Retrained").reset_index(drop=True)
board.insert(0, "Rank", range(1, len(board) + 1))
if board.empty:
    st.info(f"No finished run on the sidebar's forget set `{cur.spec}` (seed {cur.choice.seed}) yet: launch one on "
            "the Unlearn page.", icon=":material/info:")
else:
    st.caption(f"Finished runs on `{cur.spec}` (seed {cur.choice.seed}), closest to the Retrained model (the gold "
               "standard) first.")
    st.dataframe(board[["Rank", "Label", *METRICS.values(), "Seconds", "Hyperparameters"]], hide_index=True,
                 width="stretch", column_config={
                     **number, "Hyperparameters": st.column_config.TextColumn("Hyperparameters", width="large")})

base = context.baselines(cur.exp) if cur.exp is not None else None
rows = results.run_rows(usable)
if base is not None and rows:
    st.subheader("Trade-offs on this forget set")
    everyone = results.baseline_rows(base) + rows
    st.plotly_chart(plots.tradeoff(everyone, "forgetting_score", "test_acc"), key="tradeoff_forgetting")
    st.plotly_chart(plots.tradeoff(everyone, "seconds", "nomus"), key="tradeoff_time")

st.subheader("History")
shown = here if st.toggle("Only this forget set", value=False) else everything
table = runs_table(shown)
st.dataframe(table[["Run", "Started", "Status", "Method", "Dataset", "Scenario", "Forget", "Seed", "Test acc",
                    "Forget acc", "NoMUS", "Seconds", "Message"]], hide_index=True, width="stretch",
             column_config=number)
with st.container(horizontal=True):
    st.download_button("Export the table as CSV", table.to_csv(index=False), file_name="runs.csv", mime="text/csv",
                       icon=":material/download:")
    st.download_button("Export the runs as JSON", json.dumps(shown, indent=2, default=float), file_name="runs.json",
                       mime="application/json", icon=":material/download:")

if shown:
    st.subheader("Audit record")
    by_id = {r["id"]: r for r in shown}
    run_id = st.selectbox("Run", list(by_id),
                          format_func=lambda i: f"{results.run_label(by_id[i])} · {by_id[i]['status']} · "
                                                f"{results.run_time(by_id[i])}")
    run = by_id[run_id]
    if run["damaged"]:
        st.warning(f"This run is damaged: {run['damaged']}.", icon=":material/broken_image:")
    if run["audit"]:
        audit = run["audit"]
        st.markdown(f"**{results.run_label(run)}** (run `{run_id}`) forgot **{len(audit['forgotten'])} photos** "
                    f"(`{audit['forget_selection']}`) with "
                    f"**{audit['method']}**, seed {audit['seed']}; weights `{audit['weights_sha256_before'][:12]}…` "
                    f"before, `{audit['weights_sha256_after'][:12]}…` after.")
        with st.container(horizontal=True):
            st.download_button("Download the audit record", json.dumps(audit, indent=2, default=float),
                               file_name=f"audit-{run_id}.json", mime="application/json", icon=":material/verified:")
            if run["dataset"] == cur.dataset.name and not run["damaged"]:
                st.button("Open in Compare", icon=":material/compare:", on_click=compare, args=(cur.choice, run))
        with st.expander("The whole record"):
            st.json(audit, expanded=1)
    else:
        st.warning(f"This run is **{run['status']}**: {run['message'] or 'no result'}. Nothing else was stored.",
                   icon=":material/warning:")
