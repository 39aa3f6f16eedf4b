"""Write docs/results/recommended.json: per dataset and scenario, the method the shipped benchmark results show
forgetting at the lowest cost (the Unlearn page preselects it in demo mode).

Rule, applied to the rows of docs/results/bank-<scenario>.json (the benchmark with a reference bank), else of
docs/results/benchmark-<scenario>.json:
- only the rows run at their method's current settings count (mu_core.tuning.at_current_settings: a row run with
  a preset that has changed since no longer describes the method as it ships);
- a row passes only when it carries a verdict whose `forgotten` is true; a row without a verdict (results recorded
  before verdicts) was not judged and does not pass;
- Retrained for the same compute is the yardstick, never recommended; a method is recommended when it passes on every
  seed; among those, the lowest mean compute ratio;
- when none passes, `closest` names the judged method with the fewest failed checks (ties: the highest mean forgetting
  quality F, the membership evidence closest to Retrained's; then the lowest mean compute ratio) and `failed` its
  failed checks, so the page can say what the demo will show instead of a silent failure.

Usage: python scripts/recommend.py [--dataset orl]"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mu_core.data import load_dataset  # noqa: E402  (the repository root first on the path)
from mu_core.baselines import BASELINES  # noqa: E402
from mu_core.yardstick import BASELINE  # noqa: E402
from mu_core.results import ModelResult  # noqa: E402
from mu_core.tuning import at_current_settings  # noqa: E402

RESULTS = ROOT / "docs" / "results"


def _failed(row: ModelResult) -> list[str] | None:
    """The failed checks of a judged row, None for a row without a verdict."""
    if not row.verdict:
        return None
    return [c["name"] for c in row.verdict.get("checks", []) if c.get("pass") is False]


def _mean(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _cost(rows: list[ModelResult]) -> float:
    """Mean compute ratio (FLOPs), else mean time ratio for rows recorded before FLOPs were counted."""
    cost = _mean([r.metrics.get("compute_ratio") for r in rows])
    return cost if cost is not None else _mean([r.time_ratio for r in rows])


def _forget_quality(rows: list[ModelResult]) -> float:
    return _mean([r.metrics.get("forget_quality") for r in rows]) or 0.0


def recommend(rows: list[ModelResult]) -> dict:
    """{"method", "cost", "passed", "closest", "failed", "seeds", "level"}; method None when none passes."""
    by_method: dict[str, list[ModelResult]] = {}
    for row in rows:
        if row.method not in BASELINES and row.method != BASELINE:  # the yardstick, not an unlearning method
            by_method.setdefault(row.method, []).append(row)
    passed = {name: _cost(runs) for name, runs in by_method.items()
              if all((r.verdict or {}).get("forgotten") is True for r in runs)}
    judged = {name: sorted({c for r in runs for c in _failed(r)}) for name, runs in by_method.items()
              if all(_failed(r) is not None for r in runs)}
    closest = (min(judged, key=lambda n: (len(judged[n]), -_forget_quality(by_method[n]), _cost(by_method[n])))
               if judged and not passed else None)
    best = min(passed, key=passed.get) if passed else None
    levels = sorted({(r.verdict or {}).get("level") or "none" for r in rows if r.method not in BASELINES})
    return {"method": best, "cost": passed.get(best), "passed": sorted(passed, key=passed.get),
            "closest": closest, "failed": judged.get(closest, []),
            "seeds": sorted({r.seed for r in rows}), "level": ", ".join(levels)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="orl", help="the dataset the shipped benchmark results are of")
    args = parser.parse_args(argv)
    out = {"rule": __doc__.split("\n\n")[1], args.dataset: {}}
    for scenario in load_dataset(args.dataset).scenarios:
        paths = [RESULTS / f"bank-{scenario}.json", RESULTS / f"benchmark-{scenario}.json"]
        path = next((p for p in paths if p.is_file()), None)
        if path is not None:
            rows, _ = at_current_settings([ModelResult.from_dict(row) for row in json.loads(path.read_text())["rows"]],
                                          args.dataset, scenario)
            out[args.dataset][scenario] = {**recommend(rows),
                                           "results": str(path.relative_to(ROOT))}
    (RESULTS / "recommended.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out[args.dataset], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
