"""Plain-text, markdown and CSV views of model results (CLI output, README tables)."""
from __future__ import annotations

import csv
import io
import json

import numpy as np

from mu_core.metric_registry import REGISTRY, TABLE_KEYS, value_of

# The table columns, their headings and digits come from the metric registry.
KEYS = list(TABLE_KEYS)
HEADINGS = [REGISTRY[k].label for k in KEYS]


def result_row(result: dict) -> dict:
    """One flat row: method, seed and the table's metrics (seconds and time ratio included)."""
    row = {"method": result["method"], "seed": result["seed"]}
    row.update({key: value_of(result, key) for key in KEYS})
    return row


def _fmt(value, key: str = "") -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{REGISTRY[key].digits if key in REGISTRY else 4}f}"
    return str(value)


def render(headings: list[str], rows: list[list[str]], markdown: bool) -> str:
    """A table of text cells: markdown, or plain text with aligned columns."""
    if markdown:
        def cells(values: list[str]) -> str:
            return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

        return "\n".join([cells(headings), "|" + "---|" * len(headings)] + [cells(r) for r in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headings)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headings)] + [line(r) for r in rows])


def format_table(results: list[dict], markdown: bool = False, hparams: bool = False) -> str:
    """One line per model result; `hparams` adds the hyperparameters (for tuning tables)."""
    headings = ["method"] + HEADINGS + (["hyperparameters"] if hparams else [])
    rows = []
    for r in results:
        flat = result_row(r)
        cells = [flat["method"]] + [_fmt(flat[k], k) for k in KEYS]
        if hparams:
            cells.append(json.dumps(r["hparams"]) if r["method"] not in ("original", "retrained") else "")
        rows.append(cells)
    return render(headings, rows, markdown)


def summary_table(results: list[dict], markdown: bool = False) -> str:
    """Mean over seeds per method (with the standard deviation when there are several seeds)."""
    by_method: dict[str, list[dict]] = {}
    for r in results:
        by_method.setdefault(r["method"], []).append(result_row(r))
    rows = []
    for method, flats in by_method.items():
        cells = [method, str(len(flats))]
        for key in KEYS:
            values = [f[key] for f in flats if f[key] is not None]
            if not values:
                cells.append("-")
            elif len(values) == 1:
                cells.append(_fmt(float(values[0]), key))
            else:
                cells.append(f"{_fmt(float(np.mean(values)), key)} ± {_fmt(float(np.std(values)), key)}")
        rows.append(cells)
    return render(["method", "seeds"] + HEADINGS, rows, markdown)


def to_csv(results: list[dict]) -> str:
    """Flat rows (method, seed, metrics, seconds, time ratio, hyperparameters as JSON)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["method", "seed"] + KEYS + ["hparams"])
    writer.writeheader()
    for r in results:
        writer.writerow({**result_row(r), "hparams": json.dumps(r["hparams"])})
    return out.getvalue()


CHECK_WORDS = {True: "pass", False: "FAIL", None: "n/a"}
VERDICT_WORDS = {True: "FORGOTTEN", False: "NOT FORGOTTEN", None: "CANNOT TELL"}


def format_verdict(verdict: dict | None, name: str = "") -> str:
    """The verdict's summary line and one line per check (plain text, for the CLI)."""
    if not verdict:
        return f"verdict{' of ' + name if name else ''}: none (stored before verdicts existed)"
    level = "basic level" if verdict["level"] == "basic" else f"reference bank of {verdict['n_models']}"
    lines = [f"verdict{' of ' + name if name else ''} ({level}): {VERDICT_WORDS[verdict['forgotten']]}. "
             f"{verdict['summary']}"]
    lines += [f"  [{CHECK_WORDS[c['pass']]:>4}] {c['name']}: {c['text']}" for c in verdict["checks"]]
    return "\n".join(lines)
