"""The one rule that turns the tuning's trial records into presets, and the presets file it writes.

A trial record (one JSON line of docs/tuning/trials/<dataset>-<scenario>/<method>.jsonl, written by mu_core.search)
holds the method's full hyperparameters and, for each tuning seed, the bank-level verdict and the
compute ratio. The rule: among the trials whose verdict is "forgotten" on every tuning seed, the one with the lowest
compute ratio (its largest over the seeds; ratios equal to RATIO_DIGITS decimals tie, and the higher mean forgetting
quality F wins the tie); when no trial forgets, no preset: the method runs with its declared defaults. The preset
stores the picked trial's values that differ from the declared defaults. The baseline (mu_core.yardstick) is studied
for the curve but gets no preset: its budget is the compute it is compared at."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from mu_core.experiment import REPO_ROOT
from mu_core.jsonio import dumps
from mu_core.methods import REGISTRY
from mu_core.methods.base import PRESETS_FILE
from mu_core.yardstick import BASELINE

TRIALS_ROOT = REPO_ROOT / "docs" / "tuning" / "trials"
RATIO_DIGITS = 4


def study_folder(dataset: str, scenario: str) -> str:
    return f"{dataset}-{scenario}"


def read_trials(path: Path) -> list[dict[str, Any]]:
    """The records of a study file (JSON Lines), in the order they were written; [] when there is none."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def forgets_everywhere(record: dict[str, Any]) -> bool:
    """Whether the trial's verdict is "forgotten" on every tuning seed it ran on."""
    return bool(record["per_seed"]) and all(s["forgotten"] is True for s in record["per_seed"])


def compute_ratio(record: dict[str, Any]) -> float:
    """The trial's compute ratio: its largest over the tuning seeds (infinite when unknown)."""
    ratios = [s["compute_ratio"] for s in record["per_seed"]]
    return max(ratios) if ratios and None not in ratios else float("inf")


def forget_quality(record: dict[str, Any]) -> float:
    """The trial's mean forgetting quality F over the tuning seeds (0 where F is unknown)."""
    values = [s.get("forget_quality") or 0.0 for s in record["per_seed"]]
    return sum(values) / len(values) if values else 0.0


def pick(records: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The rule (see the module doc): the trial the preset comes from, or None."""
    passing = [r for r in records if forgets_everywhere(r)]
    if not passing:
        return None
    return min(passing, key=lambda r: (round(compute_ratio(r), RATIO_DIGITS), -forget_quality(r)))


def preset_values(method: str, record: dict[str, Any]) -> dict[str, Any]:
    """The picked trial's hyperparameters that differ from the method's declared defaults."""
    declared = REGISTRY[method].declared_defaults()
    return {k: v for k, v in record["hparams"].items() if declared.get(k) != (tuple(v) if isinstance(v, list) else v)}


def generate(trials_root: Path, current: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The presets file's entries: for each method and data with a study file under `trials_root`, the rule's pick
    (no entry when nothing forgets everywhere, nor for the baseline); every other entry of `current` as it is."""
    studied: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in sorted(trials_root.glob("*/*.jsonl")):
        for record in read_trials(path):
            studied.setdefault((record["method"], f"{record['dataset']}/{record['scenario']}"), []).append(record)
    out = {method: {data: entry for data, entry in entries.items() if (method, data) not in studied}
           for method, entries in current.items()}
    for (method, data), records in sorted(studied.items()):
        best = pick(records) if method != BASELINE else None
        if best is not None:
            folder = study_folder(*data.split("/"))
            out.setdefault(method, {})[data] = {
                "values": preset_values(method, best),
                "source": f"docs/tuning/trials/{folder}/{method}.jsonl, trial {best['trial']} (mu_core.tuning.pick "
                          f"over {len(records)} trials)"}
    return {method: entries for method, entries in out.items() if entries}


def write_presets(trials_root: Path = TRIALS_ROOT, path: Path = PRESETS_FILE) -> dict[str, Any]:
    """Regenerate the presets file from the trial records (see `generate`); returns the document written."""
    document = json.loads(path.read_text())
    document["presets"] = generate(trials_root, document["presets"])
    path.write_text(dumps(document, indent=1) + "\n")
    return document


def smallest_passing_ratio(records: Iterable[dict[str, Any]]) -> float | None:
    """The lowest compute ratio at which the trials forget on every tuning seed (the picked trial's), or None."""
    best = pick(records)
    return None if best is None else compute_ratio(best)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return json.loads(dumps(a)) == json.loads(dumps(b))  # as stored: a tuple equals its JSON list


def at_current_settings(rows: list, dataset: str, scenario: str) -> tuple[list, list[str]]:
    """The benchmark rows (ModelResult) run with their method's current settings for the data (declared defaults and
    preset), and the names of the methods whose rows ran with other settings (their preset changed since): those
    rows no longer describe the method as it ships. Rows of models that are not methods (Original) are kept."""
    kept, stale = [], []
    for row in rows:
        method = REGISTRY.get(row.method)
        if method is None or _same(row.hparams, method.defaults(dataset, scenario)):
            kept.append(row)
        elif row.method not in stale:
            stale.append(row.method)
    return kept, stale
