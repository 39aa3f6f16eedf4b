"""Writes docs/benchmarks.md from the bank-level benchmarks (docs/results/bank-<scenario>.json and .meta.json, made
by scripts/benchmark.sh) and the tuning's trial records (docs/tuning/trials/orl-<scenario>/<method>.jsonl): per
scenario, each method's bank-level verdict on each seed, compute ratio, the benchmark's MIA accuracy and NoMUS, and
whether it meets the issue's target; and, from the trials, the smallest compute ratio at which each method forgets
on every tuning seed against "Retrained for the same compute".

Usage: python scripts/benchmark_docs.py"""
from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mu_core.methods import REGISTRY  # noqa: E402  (run as a script from the repository)
from mu_core.results import ModelResult, render  # noqa: E402
from mu_core.tuning import (TRIALS_ROOT, at_current_settings, compute_ratio, read_trials,  # noqa: E402
                             smallest_passing_ratio)
from mu_core.yardstick import BASELINE  # noqa: E402

RESULTS = ROOT / "docs" / "results"
MAX_RATIO = 0.10                       # the issue's target: forgotten at a compute ratio of at most this
TARGET_METHODS = {"person": 3, "photos": 2}
WORD = {True: "forgotten", False: "not", None: "cannot tell"}


def trials_of(scenario: str) -> dict[str, list[dict]]:
    return {p.stem: read_trials(p) for p in sorted((TRIALS_ROOT / f"orl-{scenario}").glob("*.jsonl"))}


def beats(ratio: float | None, baseline: float | None, tried: bool) -> str:
    """Whether a method forgetting at `ratio` beats the baseline, whose smallest passing ratio is `baseline`."""
    if ratio is None:
        return "no"
    if not tried:
        return "no baseline curve"
    return "yes" if baseline is None or ratio < baseline else "no"


def mean(values: list) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.mean(known):.3f}" if known else "n/a"


def benchmark_section(scenario: str, current: list[ModelResult], stale: list[str], meta: dict,
                      baseline: float | None, tried: bool) -> list[str]:
    rows: dict[str, list[ModelResult]] = {}
    for row in current:
        if row.method != "retrained":
            rows.setdefault(row.method, []).append(row)
    lines, meeting = [], []
    for method, runs in rows.items():
        verdicts = [r.verdict for r in runs]
        ratios = [r.metrics.get("compute_ratio") for r in runs]
        ratio = max(ratios) if None not in ratios else None
        every = all(v["forgotten"] is True and v["level"] == "bank" for v in verdicts)
        beat = beats(ratio if every else None, baseline, tried) if method not in ("original", BASELINE) else "-"
        on_target = every and ratio is not None and ratio <= MAX_RATIO and beat == "yes"
        meeting += [method] if on_target else []
        lines.append([REGISTRY[method].title if method in REGISTRY else method,
                      ", ".join(f"{r.seed}: {WORD[r.verdict['forgotten']]}" for r in runs),
                      "n/a" if ratio is None else f"{ratio:.4f}", mean([r.time_ratio for r in runs]),
                      mean([r.metrics.get("mia_accuracy") for r in runs]),
                      mean([r.metrics.get("nomus") for r in runs]),
                      mean([r.metrics.get("forget_quality") for r in runs]), beat, "yes" if on_target else "no"])
    n = verdicts[0].get("n_models") if verdicts else "?"
    headings = ["method", "verdict per seed (bank level)", "largest compute ratio", "mean time ratio",
                "mean MIA accuracy", "mean NoMUS", f"mean F (N = {n})", "beats Retrained for the same compute",
                f"forgotten on every seed, ratio <= {MAX_RATIO:g}, beats it"]
    need = TARGET_METHODS.get(scenario)
    missing = [m.title for name, m in REGISTRY.items() if name not in rows and name not in stale]
    retrained = {r.seed: r.seconds for r in current if r.method == "retrained" and r.seconds}
    notes = not_shown(stale) + ([f"Not benchmarked: {', '.join(missing)}.", ""] if missing else []) + ([
        "A time ratio divides by the seed's Retrained training time as it was measured when that model was trained "
        "and cached (" + ", ".join(f"seed {seed}: {sec:.1f} s" for seed, sec in sorted(retrained.items()))
        + "), so it depends on the load at that moment; the compute ratio (FLOPs) does not.", ""] if retrained else [])
    return runs_lines(meta) + [render(headings, lines, markdown=True), ""] + notes + [
            f"**{len(meeting)} method(s) meet the target** ({', '.join(meeting) or 'none'})"
            + (f"; the issue asks for at least {need}." if need else "."), ""]


def runs_lines(meta: dict) -> list[str]:
    """The command, machine, start and wall time of each run that wrote a results file (a .meta.json holds one run,
    or several under "runs" when the seeds were run in several goes by scripts/benchmark.sh)."""
    lines = []
    for run in meta.get("runs", [meta]):
        lines += [f"`{run['command']}`", "",
                  f"Machine: {run['machine']}; started {run['date']} (load average {run['load_at_start']}); wall "
                  f"time {run['seconds'] / 60:.0f} min.", ""]
    return lines


def _check(verdict: dict, name: str) -> dict:
    return next(c for c in verdict["checks"] if c["name"] == name)


def load(path: Path, scenario: str, current: bool = True) -> tuple[list[ModelResult], list[str]]:
    """The rows of a results file, and the methods left out: with `current`, only the rows run at their method's
    current settings are kept (the others no longer describe the method as it ships)."""
    rows = [ModelResult.from_dict(r) for r in json.loads(path.read_text())["rows"]]
    return at_current_settings(rows, "orl", scenario) if current else (rows, [])


def not_shown(stale: list[str]) -> list[str]:
    return [f"Not shown: {', '.join(REGISTRY[m].title for m in stale)}: rows in the results file ran with settings "
            "that are no longer theirs (the preset changed since), so they no longer describe the method as it "
            "ships; they need a new run.", ""] if stale else []


def evidence_section(rows: list[ModelResult]) -> list[str]:
    """Per judged model: the forgetting quality F with N, its epsilon ceiling, the split-half score against the
    Retrained-vs-Retrained noise floor, the forgotten people's identity d' against the Retrained band, and the checks
    that fail."""
    rows = [r for r in rows if r.verdict and r.verdict.get("level") == "bank"]
    if not rows:
        return []
    lines = []
    for r in rows:
        member, ident = _check(r.verdict, "membership"), _check(r.verdict, "identity_features")
        value = member["value"]
        band = ident["floor"]
        lines.append([REGISTRY[r.method].title if r.method in REGISTRY else r.method, str(r.seed),
                      WORD[r.verdict["forgotten"]],
                      f"{value['forget_quality']:.3f} (N = {value['n_models']}, ceiling {value['epsilon_ceiling']:g})",
                      f"{value['forget_quality_half']:.3f} vs {member['floor']:.3f}"
                      if member["floor"] is not None else "n/a",
                      f"{value['inside']} / {value['remembered']} / {value['over_forgotten']}",
                      f"{ident['value']['dprime']:.2f} vs {ident['reference']:.2f} ({band[0]:.2f}-{band[1]:.2f})"
                      if ident["value"] else "n/a",
                      ", ".join(c["name"] for c in r.verdict["checks"] if c["pass"] is False) or "none"])
    headings = ["model", "seed", "verdict", "forgetting quality F", "F on halves vs noise floor",
                "photos inside / remembered / over-forgotten", "identity d' vs Retrained (band of the bank)",
                "failed checks"]
    return ["Evidence behind each verdict. Membership fails when the split-half F (the method's runs against one "
            "half of the bank) is shown below the noise floor (the other half against the same half) by a 95% "
            "bootstrap over the photos; identity fails when the forgotten people's d' is above the bank's band:", "",
            render(headings, lines, markdown=True), ""]


def extra_section(path: Path, scenario: str) -> list[str]:
    """A judged run outside the benchmark (docs/results/bank-<name>.json without a scenario of its own), with the
    command and machine from its .meta.json. Its rows at settings the methods no longer ship are left out, unless
    the meta's "settings" is "explicit" (hyperparameters set on the command line, not the presets of the time)."""
    meta = json.loads(path.with_suffix(".meta.json").read_text())
    rows, stale = load(path, scenario, current=meta.get("settings") != "explicit")
    return [f"### {meta['title']}", ""] + runs_lines(meta) + ([meta["note"], ""] if meta.get("note") else []) \
        + not_shown(stale) + evidence_section(rows)


def failed_checks(trials: list[dict]) -> str:
    """Each check that failed on a tuning seed, with the number of trials it failed in."""
    counts = Counter(check for trial in trials
                     for check in {c for seed in trial["per_seed"] for c, ok in seed["checks"].items() if ok is False})
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{check.replace('_', ' ')} {n}" for check, n in ordered) or "none"


def curve_section(records: dict[str, list[dict]]) -> tuple[list[str], float | None, bool]:
    tried = BASELINE in records
    baseline = smallest_passing_ratio(records.get(BASELINE, []))
    lines = []
    for method, trials in records.items():
        passing = smallest_passing_ratio(trials)
        largest = max((compute_ratio(t) for t in trials if compute_ratio(t) != float("inf")), default=None)
        where = (f"{passing:.4f}" if passing is not None else
                 f"does not pass within {largest:.3g}" if largest is not None else "does not pass")
        lines.append([REGISTRY[method].title if method in REGISTRY else method, str(len(trials)),
                      ", ".join(sorted({str(s) for t in trials for s in t["seeds"]})),
                      ", ".join(sorted({str(t["n_models"]) for t in trials})), where,
                      "-" if method == BASELINE else beats(passing, baseline, tried), failed_checks(trials)])
    headings = ["method", "trials", "tuning seeds", "bank N", "smallest compute ratio forgotten on every seed",
                "beats Retrained for the same compute", "checks that failed on a tuning seed (in how many trials)"]
    return [render(headings, lines, markdown=True), ""], baseline, tried


def main() -> int:
    out = ["# Benchmarks", "",
           "Generated by `python scripts/benchmark_docs.py` from docs/results/bank-<scenario>.json (made by "
           "`scripts/benchmark.sh`) and the tuning's trial records in docs/tuning/trials; do not edit by hand. The "
           "verdict is the bank-level one (N Retrained models, the method run N times). \"Beats "
           "Retrained for the same compute\": the method forgets at a compute ratio below the smallest one at which "
           "the baseline forgets on every tuning seed (from its trials).", ""]
    for scenario in ("person", "photos"):
        curve, baseline, tried = curve_section(trials_of(scenario))
        out += [f"## The {scenario} scenario", "", "### Bank-level benchmark (reported seeds)", ""]
        path = RESULTS / f"bank-{scenario}.json"
        if path.exists():
            rows, stale = load(path, scenario)
            meta = json.loads(path.with_suffix(".meta.json").read_text())
            out += benchmark_section(scenario, rows, stale, meta, baseline, tried) + evidence_section(rows)
        else:
            out += [f"No bank-level benchmark of the {scenario} scenario yet (scripts/benchmark.sh {scenario}).", ""]
        for extra in sorted(RESULTS.glob(f"bank-{scenario}-*.json")):
            if not extra.name.endswith(".meta.json"):
                out += extra_section(extra, scenario)
        out += ["### Compute vs forgetting (tuning seeds; the trials of `python -m mu_core tune`)", ""] + curve
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(out))
    print("wrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
