"""Plain-text and tabular views of model results (CLI output, README tables, CSV)."""
from __future__ import annotations

# (metric key, column heading) in the benchmark README's order, plus the extras of design.md section 8.
COLUMNS = [
    ("test_acc", "test acc"), ("top2_acc", "top-2"), ("forget_acc", "forget acc"),
    ("unseen_acc", "unseen acc"), ("mia_accuracy", "MIA accuracy"), ("forgetting_score", "forgetting |MIA-0.5|"),
    ("nomus", "NoMUS"), ("gap_to_retrained", "gap to Retrained"),
]


def result_row(result: dict) -> dict:
    """One flat row: method, the scalar metrics of COLUMNS, seconds and time ratio."""
    m = result["metrics"]
    row = {"method": result["method"]}
    row.update({key: m.get(key) for key, _ in COLUMNS})
    row.update(seconds=result["seconds"], time_ratio=result["time_ratio"])
    return row


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def format_table(results: list[dict], markdown: bool = False) -> str:
    headings = ["method"] + [h for _, h in COLUMNS] + ["seconds", "time ratio"]
    keys = ["method"] + [k for k, _ in COLUMNS] + ["seconds", "time_ratio"]
    rows = [[_fmt(result_row(r)[k]) for k in keys] for r in results]
    if markdown:
        lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headings)]
    fmt = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt(headings)] + [fmt(r) for r in rows])
