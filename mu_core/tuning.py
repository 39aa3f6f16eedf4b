"""The rule that turns a method's recorded grid searches (docs/tuning/orl-<scenario>/<method>.md, the markdown
tables of `python -m mu_core tune`) into its preset, so that the presets can be checked against the tables."""
from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

from mu_core.methods import Method
from mu_core.report import KEYS

BUDGET_SECONDS = 8.0  # a little under 10% of the Retrained model's ~90-145 s on the built-in faces, for timing noise
TIE = 0.001  # gaps this close count as equal; the higher NoMUS wins
FALLBACK_SLACK = 1.25  # with nothing in budget: settings up to this multiple of the fastest one compete
GAP_TARGET = 0.05  # the methods issue's target: a gap to Retrained of at most this...
NOMUS_MARGIN = 0.02  # ...with a NoMUS no lower than the Retrained model's minus this


def read_rows(markdown: str, method: str) -> list[dict[str, Any]]:
    """Every row of `method` in the tables of a tuning file (report.format_table with hyperparameters: the method,
    the KEYS columns, then the hyperparameters): gap (None for the Retrained model's "-"), NoMUS, seconds,
    hyperparameters ({} where the cell is empty), and the tuning seed named by the `--seed` of the command line
    above its table."""
    column = {key: 1 + i for i, key in enumerate(KEYS)}
    rows, seed = [], None
    for line in markdown.splitlines():
        named = re.search(r"--seed (\d+)", line)
        if named:
            seed = int(named.group(1))
        if line.startswith(f"| {method} |"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            gap = cells[column["gap_to_retrained"]]
            rows.append({"nomus": float(cells[column["nomus"]]), "gap": None if gap == "-" else float(gap),
                         "seconds": float(cells[column["seconds"]]),
                         "hparams": json.loads(cells[1 + len(KEYS)] or "{}"), "seed": seed})
    return rows


def over_seeds(rows: list[dict[str, Any]], retrained: dict[int, float]) -> list[dict[str, Any]]:
    """One row per setting: its gap and NoMUS averaged over the tuning seeds it ran on (a setting run twice on one
    seed counts that seed once, with its first row), the Retrained models' NoMUS (`retrained`, by seed) averaged
    over the same seeds, its slowest seconds, and `seeds`, how many there were."""
    settings: dict[str, dict[int | None, dict[str, Any]]] = {}
    for row in rows:
        settings.setdefault(json.dumps(row["hparams"], sort_keys=True), {}).setdefault(row["seed"], row)
    return [{"gap": statistics.mean(r["gap"] for r in per_seed.values()),
             "nomus": statistics.mean(r["nomus"] for r in per_seed.values()),
             "retrained_nomus": statistics.mean(retrained[seed] for seed in per_seed),
             "seconds": max(r["seconds"] for r in per_seed.values()),
             "hparams": next(iter(per_seed.values()))["hparams"], "seeds": len(per_seed)}
            for per_seed in settings.values()]


def meets_target(gap: float, nomus: float, retrained_nomus: float, max_gap: float = GAP_TARGET,
                 margin: float = NOMUS_MARGIN) -> bool:
    """The methods issue's target: a gap to Retrained of at most `max_gap` with a NoMUS no lower than the Retrained
    model's minus `margin` (for the tuning, means over the tuning seeds; for the benchmark, over its seeds)."""
    return gap <= max_gap and nomus >= retrained_nomus - margin


def pick(rows: list[dict[str, Any]], retrained: dict[int, float], budget: float = BUDGET_SECONDS) -> dict[str, Any]:
    """Among the settings run on the most tuning seeds (averaged over them, see over_seeds) and within `budget`
    seconds (when none is, those that took at most FALLBACK_SLACK times the fastest one): the lowest gap among those
    on target (see meets_target), or among all of them when none is; ties go to the higher NoMUS."""
    if not rows:
        raise ValueError("no tuning rows")
    settings = over_seeds(rows, retrained)
    most = max(r["seeds"] for r in settings)
    settings = [r for r in settings if r["seeds"] == most]
    candidates = [r for r in settings if r["seconds"] <= budget]
    if not candidates:
        fastest = min(r["seconds"] for r in settings)
        candidates = [r for r in settings if r["seconds"] <= fastest * FALLBACK_SLACK]
    candidates = [r for r in candidates if meets_target(r["gap"], r["nomus"], r["retrained_nomus"])] or candidates
    best_gap = min(r["gap"] for r in candidates)
    return max((r for r in candidates if r["gap"] <= best_gap + TIE), key=lambda r: r["nomus"])


def preset_from_tables(method: Method, folder: Path) -> dict[str, Any]:
    """The values of the picked row that differ from the method's declared defaults (what its preset stores). A
    row recorded before a hyperparameter was declared ran with that hyperparameter's `earlier` value."""
    markdown = (folder / f"{method.name}.md").read_text()
    retrained = {row["seed"]: row["nomus"] for row in read_rows(markdown, "retrained")}
    declared = method.declared_defaults()
    earlier = {h.name: h.earlier for h in method.hparams if h.earlier is not None}
    picked = {**earlier, **pick(read_rows(markdown, method.name), retrained)["hparams"]}
    return {k: v for k, v in picked.items() if declared.get(k) != v}
