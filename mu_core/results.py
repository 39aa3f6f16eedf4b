"""A model's result and its tables.

`ModelResult` is what the pipeline gives for every model (Original, Retrained, an unlearned run) and what the store,
the plots, the tables and the evidence pack take. Its dict form (`to_dict`, `from_dict`) is the one JSON shape of a
result in stored runs, the CLI's --json files and docs/results/: {"method", "hparams", "seed", "seconds",
"time_ratio", "metrics"} plus "original" and "verdict" where present. The plain-text, markdown and CSV tables of the
CLI and the README read their columns, headings and digits from the metric registry."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from mu_core.baselines import BASELINES
from mu_core.metric_registry import REGISTRY, SAMPLE_SIZES, TABLE_KEYS, get_metric

REQUIRED = ("method", "hparams", "seed", "seconds", "time_ratio", "metrics")


@dataclass(frozen=True)
class ModelResult:
    """One model's result. `metrics` is keyed by the metric registry (plus the per-class and sample-size entries
    the evaluation adds); `hparams` are the method's hyperparameters (for a baseline: its training recipe and what
    it was trained on); `original` says which Original the model came from or was compared with; `verdict` is the
    verdict's dict (mu_core.verdict), absent for Retrained and for runs stored before verdicts existed. Changed
    only by making a new one (`with_metrics`, `with_verdict`)."""

    method: str
    hparams: Mapping[str, Any]
    seed: int
    seconds: float
    time_ratio: float | None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    original: Mapping[str, Any] | None = None
    verdict: Mapping[str, Any] | None = None

    @classmethod
    def measured(cls, method: str, hparams: Mapping[str, Any], seed: int, seconds: float, retrain_seconds: float,
                 metrics: Mapping[str, Any], original: Mapping[str, Any] | None = None) -> ModelResult:
        """A result whose time_ratio is `seconds` over Retrained's training seconds (None when those are 0)."""
        return cls(method, dict(hparams), seed, float(seconds),
                   float(seconds / retrain_seconds) if retrain_seconds else None, dict(metrics), original)

    def value(self, key: str) -> Any:
        """A registry metric's value (seconds and time_ratio from the result itself); None when absent."""
        return getattr(self, key) if get_metric(key).in_result else self.metrics.get(key)

    def with_metrics(self, extra: Mapping[str, Any]) -> ModelResult:
        return replace(self, metrics={**self.metrics, **extra})

    def with_verdict(self, verdict: Mapping[str, Any] | None) -> ModelResult:
        return replace(self, verdict=verdict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON names of a result; "original" and "verdict" only where present."""
        out = {"method": self.method, "hparams": dict(self.hparams), "seed": self.seed, "seconds": self.seconds,
               "time_ratio": self.time_ratio, "metrics": dict(self.metrics)}
        if self.original is not None:
            out["original"] = dict(self.original)
        if self.verdict is not None:
            out["verdict"] = dict(self.verdict)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelResult:
        """A result from its dict form (as stored; other keys beside a result, such as the CLI's "run_id", are
        left out). Raises ValueError when a required name is missing."""
        missing = [key for key in REQUIRED if key not in data]
        if missing:
            raise ValueError(f"not a model result: no {', '.join(missing)}")
        return cls(data["method"], dict(data["hparams"]), data["seed"], data["seconds"], data["time_ratio"],
                   dict(data["metrics"]), data.get("original"), data.get("verdict"))


# ----- tables ----------------------------------------------------------------------------------------------------

KEYS = list(TABLE_KEYS)
HEADINGS = [REGISTRY[k].label for k in KEYS]


def result_row(result: ModelResult) -> dict[str, Any]:
    """One flat row: method, seed and the table's metrics (seconds and time ratio included)."""
    return {"method": result.method, "seed": result.seed, **{key: result.value(key) for key in KEYS}}


def format_value(value: Any, key: str = "") -> str:
    """A metric's value with the registry's digits; a dash when it is missing or not a number."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{REGISTRY[key].digits if key in REGISTRY else 4}f}"
    return str(value)


def sample_sizes(metrics: Mapping[str, Any], key: str) -> str:
    """The sample sizes a registry metric declares, in words ("7 members (forgotten photos), 3 non-members
    (unseen photos)"); empty when it declares none or the result holds none."""
    return ", ".join(f"{metrics[k]} {SAMPLE_SIZES[k]}" for k in get_metric(key).sample_keys
                     if metrics.get(k) is not None)


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


def format_table(results: list[ModelResult], markdown: bool = False, hparams: bool = False) -> str:
    """One line per model result; `hparams` adds the hyperparameters (for tuning tables)."""
    headings = ["method"] + HEADINGS + (["hyperparameters"] if hparams else [])
    rows = []
    for r in results:
        flat = result_row(r)
        cells = [flat["method"]] + [format_value(flat[k], k) for k in KEYS]
        if hparams:
            cells.append(json.dumps(dict(r.hparams)) if r.method not in BASELINES else "")
        rows.append(cells)
    return render(headings, rows, markdown)


def summary_table(results: list[ModelResult], markdown: bool = False) -> str:
    """Mean over seeds per method (with the standard deviation when there are several seeds)."""
    by_method: dict[str, list[dict]] = {}
    for r in results:
        by_method.setdefault(r.method, []).append(result_row(r))
    rows = []
    for method, flats in by_method.items():
        cells = [method, str(len(flats))]
        for key in KEYS:
            values = [f[key] for f in flats if f[key] is not None]
            if not values:
                cells.append("-")
            elif len(values) == 1:
                cells.append(format_value(float(values[0]), key))
            else:
                cells.append(f"{format_value(float(np.mean(values)), key)} ± "
                             f"{format_value(float(np.std(values)), key)}")
        rows.append(cells)
    return render(["method", "seeds"] + HEADINGS, rows, markdown)


def to_csv(results: list[ModelResult]) -> str:
    """Flat rows (method, seed, metrics, seconds, time ratio, hyperparameters as JSON)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["method", "seed"] + KEYS + ["hparams"])
    writer.writeheader()
    for r in results:
        writer.writerow({**result_row(r), "hparams": json.dumps(dict(r.hparams))})
    return out.getvalue()


CHECK_WORDS = {True: "pass", False: "FAIL", None: "n/a"}
VERDICT_WORDS = {True: "FORGOTTEN", False: "NOT FORGOTTEN", None: "CANNOT TELL"}


def format_verdict(verdict: Mapping[str, Any] | None, name: str = "") -> str:
    """The verdict's summary line and one line per check (plain text, for the CLI)."""
    if not verdict:
        return f"verdict{' of ' + name if name else ''}: none (stored before verdicts existed)"
    level = "basic level" if verdict["level"] == "basic" else f"reference bank of {verdict['n_models']}"
    lines = [f"verdict{' of ' + name if name else ''} ({level}): {VERDICT_WORDS[verdict['forgotten']]}. "
             f"{verdict['summary']}"]
    lines += [f"  [{CHECK_WORDS[c['pass']]:>4}] {c['name']}: {c['text']}" for c in verdict["checks"]]
    return "\n".join(lines)
