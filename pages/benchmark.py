"""Benchmark: the compute-vs-forgetting curve of every method against "Retrained for the same compute" (from the
tuning's trial records) and the bank-level benchmark tables (docs/benchmarks.md)."""
import streamlit as st

from mu_core.experiment import REPO_ROOT
from mu_core.methods import REGISTRY
from mu_core.plots_compute import compute_curve
from mu_core.tuning import TRIALS_ROOT, read_trials

st.title(":material/leaderboard: Benchmark")
st.caption("A method is worth its name only where it forgets at less compute than retraining from scratch for "
           "the same compute (the black dashed line). Points are tuning trials on the tuning seeds, never the "
           "reported ones; the tables below are the reported seeds.")
titles = {name: method.title for name, method in REGISTRY.items()}
studies = sorted(p for p in TRIALS_ROOT.glob("*") if p.is_dir())
if not studies:
    st.info("No trial records yet: run `python -m mu_core tune --method NAME` to draw the curve.")
for tab, folder in zip(st.tabs([p.name for p in studies]) if studies else [], studies):
    with tab:
        records = {p.stem: read_trials(p) for p in sorted(folder.glob("*.jsonl"))}
        st.plotly_chart(compute_curve(records, titles, f"Compute vs forgetting: {folder.name}"),
                        width="stretch")
tables = REPO_ROOT / "docs" / "benchmarks.md"
if tables.exists():
    st.markdown(tables.read_text().split("\n", 1)[1])
else:
    st.info("No benchmark tables yet: `scripts/benchmark.sh person` then `python scripts/benchmark_docs.py`.")
