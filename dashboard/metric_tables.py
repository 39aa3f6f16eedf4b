"""Model results as the Compare and Runs pages show them: labelled rows (Original, Retrained, stored runs), the
metric table with its uncertainty and sample sizes, per-sample outputs, and the runs' table with its exports."""
from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import context
from mu_core.methods import REGISTRY
from mu_core.metric_registry import get_metric
from mu_core.metrics import nomus_parts
from mu_core.pipeline import Scored, outputs_arrays
from mu_core.results import ModelResult

BASELINE_LABELS = {"original": "Original", "retrained": "Retrained"}


@dataclass(frozen=True)
class Row:
    """A model's result as the pages show it: its display label and, for a stored run, the run's id."""

    label: str
    result: ModelResult
    run_id: str | None = None


def run_label(run: dict) -> str:
    """A short unique label of a stored run: its method and the end of its id."""
    method = REGISTRY[run["method"]].title if run["method"] in REGISTRY else run["method"]
    return f"{method} #{run['id'][-6:]}"


def run_time(run: dict) -> str:
    return datetime.datetime.fromtimestamp(run["created"]).strftime("%Y-%m-%d %H:%M:%S")


def baseline_rows(base: dict[str, Scored]) -> list[Row]:
    return [Row(label, base[name].result) for name, label in BASELINE_LABELS.items()]


def run_rows(runs: list[dict]) -> list[Row]:
    """Results of finished runs, labelled."""
    return [Row(run_label(run), run["result"], run["id"]) for run in runs if run["result"]]


def by_label(rows: list[Row]) -> dict[str, ModelResult]:
    """The rows' results by label, as the plots take them."""
    return {row.label: row.result for row in rows}


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _fmt(value, digits: int = 3, missing: str = "–") -> str:
    value = _number(value)
    return missing if math.isnan(value) else f"{value:.{digits}f}"


def metric_table(rows: list[Row], lam: float, scenario_kind: str) -> pd.DataFrame:
    """Metrics down, models across: utility, forgetting (the attack's accuracy with the spread over its folds and
    the forgetting score kept apart, with the attack's sample sizes), NoMUS at `lam` split into its parts, time."""
    too_few = "n/a (too few photos)"
    lines: dict[str, list[str]] = {}
    for row in rows:
        m = row.result.metrics
        parts = nomus_parts(m["test_acc"], _number(m["mia_accuracy"]), lam)
        mia = _fmt(m["mia_accuracy"], missing=too_few)
        if not math.isnan(_number(m["mia_accuracy"])):
            mia += f" ± {_fmt(m.get('mia_accuracy_std'))}"
        values = {
            _label("test_acc"): _fmt(m["test_acc"]),
            _label("top2_acc"): _fmt(m.get("top2_acc")),
            _label("forget_acc"): _fmt(m["forget_acc"]),
            **({_label("unseen_acc"): _fmt(m["unseen_acc"])} if scenario_kind == "identity" else {}),
            _label("retain_acc"): _fmt(m["retain_acc"]),
            _label("mia_accuracy", " ± fold spread"): mia,
            _label("forgetting_score"): _fmt(m["forgetting_score"], missing=too_few),
            _label("mia_auc"): _fmt(m["mia_auc"]),
            _label("tpr_at_1pct_fpr"): _fmt(m["tpr_at_1pct_fpr"]),
            "attack samples (forgotten vs unseen)": f"{m['mia_n_members']} vs {m['mia_n_nonmembers']}",
            _label("nomus", f" at λ = {lam:.2f}"): _fmt(parts["nomus"], missing=too_few),
            "· utility part λ·test acc": _fmt(parts["utility"]),
            "· forgetting part (1−λ)(1 − 2·score)": _fmt(parts["forgetting"], missing=too_few),
            **{_label(k): _fmt(m.get(k), 2) for k in EVIDENCE_KEYS if m.get(k) is not None},
            _label("gap_to_retrained"): _fmt(m.get("gap_to_retrained")),
            _label("seconds"): _fmt(row.result.seconds, 1),
            _label("time_ratio"): _fmt(row.result.time_ratio, 2),
            _label("compute_ratio"): _fmt(m.get("compute_ratio"), 3),
        }
        for metric, text in values.items():
            lines.setdefault(metric, []).append(text)
    return pd.DataFrame(lines, index=[row.label for row in rows]).T.rename_axis("Metric").reset_index()


TABLE_ROWS = ("test_acc", "top2_acc", "forget_acc", "unseen_acc", "retain_acc", "mia_accuracy", "forgetting_score",
              "mia_auc", "tpr_at_1pct_fpr", "nomus", "identity_dprime", "identity_auc", "gap_to_retrained",
              "seconds", "time_ratio", "compute_ratio")
EVIDENCE_KEYS = ("identity_dprime", "identity_auc")


def _label(key: str, qualifier: str = "") -> str:
    """A metric's label as the registry declares it (with `qualifier`), and what is better."""
    metric = get_metric(key)
    return f"{metric.label}{qualifier} ({metric.better})"


def definitions() -> str:
    """The registry's definition of every metric in the table, as a markdown list."""
    return "\n".join(f"- **{get_metric(k).label}** ({get_metric(k).better}): {get_metric(k).definition}"
                     for k in TABLE_ROWS)


RUN_METRICS = ("test_acc", "forget_acc", "mia_accuracy", "forgetting_score", "nomus", "gap_to_retrained", "seconds")
CSV_DIGITS = 4  # significant digits of the numbers in the CSV export (the JSON export keeps them all)


def heading(key: str) -> str:
    """A metric's column heading: its label in the metric registry, capitalised."""
    text = get_metric(key).label
    return text[:1].upper() + text[1:]


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.{CSV_DIGITS}g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_short(v) for v in value)
    return str(value)


def hparams_text(hparams: dict | None) -> str:
    """Hyperparameters as "k=v" text (numbers to 4 significant digits, lists as 3,5,9); a dash when none."""
    return ", ".join(f"{k}={_short(v)}" for k, v in (hparams or {}).items()) or "–"


def runs_table(runs: list[dict]) -> pd.DataFrame:
    """One row per stored run: what it is, its status, its metrics (numbers; NaN where missing), its message and
    hyperparameters (as text)."""
    metrics = [heading(key) for key in RUN_METRICS]
    return pd.DataFrame([{
        "Run": r["id"], "Label": run_label(r), "Started": run_time(r),
        "Status": "damaged" if r["damaged"] else r["status"],
        "Method": r["method"], "Dataset": r["dataset"], "Scenario": r["scenario"], "Forget": r["forget"],
        "Seed": r["seed"],
        **{heading(key): _number(r["result"].value(key) if r["result"] else None) for key in RUN_METRICS},
        "Message": f"Damaged: {r['damaged']}." if r["damaged"] else r["message"] or "",
        "Hyperparameters": hparams_text(r["hparams"]),
    } for r in runs], columns=["Run", "Label", "Started", "Status", "Method", "Dataset", "Scenario", "Forget", "Seed",
                               *metrics, "Message", "Hyperparameters"]).astype({m: float for m in metrics})


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The runs' table for reading: metrics as text with 3 decimals (seconds with 1), a dash where missing."""
    return table.assign(**{heading(key): [_fmt(v, min(3, get_metric(key).digits)) for v in table[heading(key)]]
                           for key in RUN_METRICS})


def round_significant(value, digits: int = CSV_DIGITS) -> float:
    """`value` rounded to `digits` significant digits (NaN stays NaN)."""
    number = _number(value)
    return float(f"{number:.{digits}g}") if math.isfinite(number) else float("nan")


def runs_csv(table: pd.DataFrame) -> str:
    """The runs' table as CSV, metrics rounded to CSV_DIGITS significant digits, empty where missing."""
    return table.assign(**{heading(key): table[heading(key)].map(round_significant)
                           for key in RUN_METRICS}).to_csv(index=False)


def latest_finished(runs: list[dict]) -> int:
    """Position of the newest finished, undamaged run among `runs` (newest first); 0 when there is none."""
    return next((i for i, r in enumerate(runs) if r["status"] == "done" and not r["damaged"]), 0)


def show_metric_table(frame: pd.DataFrame) -> None:
    st.dataframe(frame, hide_index=True, width="stretch", height=38 + 35 * len(frame),
                 column_config={"Metric": st.column_config.TextColumn("Metric", width="large", pinned=True)})
    with st.expander("What the metrics mean"):
        st.markdown(definitions())


@st.cache_data(show_spinner=False, max_entries=64)
def run_outputs(run_id: str, root: str) -> dict[str, np.ndarray]:
    """Per-sample outputs of a finished run (they never change once stored)."""
    return context.store().outputs(run_id)


def outputs_of(row: Row, base: dict[str, Scored]) -> dict[str, np.ndarray]:
    """Per-sample outputs (split.field arrays) of a labelled row, baseline or stored run."""
    if row.run_id is not None:
        return run_outputs(row.run_id, str(context.store().root))
    name = next(n for n, label in BASELINE_LABELS.items() if label == row.label)
    return outputs_arrays(base[name].evaluation)

