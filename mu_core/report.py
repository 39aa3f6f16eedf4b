"""Plain-text, markdown and CSV views of model results (CLI output, README tables)."""
from __future__ import annotations

import csv
import io
import json

import numpy as np

# (metric key, column heading) in the benchmark README's order, plus the extras of design.md section 8.
COLUMNS = [
    ("test_acc", "test acc"), ("top2_acc", "top-2"), ("forget_acc", "forget acc"),
    ("unseen_acc", "unseen acc"), ("mia_accuracy", "MIA accuracy"), ("forgetting_score", "forgetting |MIA-0.5|"),
    ("nomus", "NoMUS"), ("gap_to_retrained", "gap to Retrained"),
]
KEYS = [k for k, _ in COLUMNS] + ["seconds", "time_ratio"]
HEADINGS = [h for _, h in COLUMNS] + ["seconds", "time ratio"]


def result_row(result: dict) -> dict:
    """One flat row: method, seed, the scalar metrics of COLUMNS, seconds and time ratio."""
    m = result["metrics"]
    row = {"method": result["method"], "seed": result["seed"]}
    row.update({key: m.get(key) for key, _ in COLUMNS})
    row.update(seconds=result["seconds"], time_ratio=result["time_ratio"])
    return row


DIGITS = {"seconds": 1, "time_ratio": 3}  # every metric: 4


def _fmt(value, key: str = "") -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{DIGITS.get(key, 4)}f}"
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
