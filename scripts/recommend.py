"""Write docs/results/recommended.json: per dataset and scenario, the method the shipped benchmark results show
forgetting at the lowest cost (the Unlearn page preselects it in demo mode).

Rule, applied to every seed of docs/results/benchmark-<scenario>.json:
- rows that carry a verdict pass when `verdict.forgotten` is true;
- otherwise (results recorded before verdicts): forget accuracy and unseen accuracy at most Retrained's of the
  same seed plus TOLERANCE (one photo in ten), test accuracy at least Retrained's minus TOLERANCE, and the face
  features changed (scenarios that forget whole people): the identity d' at most Retrained's when recorded, else a method that trains below the head
  (a change of the classifier head alone keeps the Original's features, so the identity check cannot pass);
- a method is recommended when it passes on every seed; among those, the lowest mean compute ratio (mean time
  ratio when compute was not recorded).

Usage: python scripts/recommend.py [--dataset orl]"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mu_core.data import load_dataset  # noqa: E402  (the repository root first on the path)

RESULTS = ROOT / "docs" / "results"
TOLERANCE = 0.1
BASELINES = ("original", "retrained")


def _passes(row: dict, retrained: dict, identity: bool) -> bool:
    if row.get("verdict") is not None:
        return row["verdict"].get("forgotten") is True
    m, r = row["metrics"], retrained["metrics"]
    recognition = all(m.get(k) is not None and m[k] <= r[k] + TOLERANCE for k in ("forget_acc", "unseen_acc")
                      if r.get(k) is not None)
    utility = m["test_acc"] >= r["test_acc"] - TOLERANCE
    if not identity:
        features = True
    elif m.get("identity_dprime") is not None and r.get("identity_dprime") is not None:
        features = m["identity_dprime"] <= r["identity_dprime"]
    else:
        features = row["hparams"].get("train_from", "") != "fc"
    return recognition and utility and features


def _cost(rows: list[dict]) -> float:
    compute = [r["metrics"].get("compute_ratio") for r in rows]
    values = compute if all(c is not None for c in compute) else [r["time_ratio"] for r in rows]
    return sum(values) / len(values)


def recommend(rows: list[dict], identity: bool) -> dict:
    """{"method", "cost", "passed": [methods passing on every seed], "seeds"}; method None when none passes."""
    retrained = {r["seed"]: r for r in rows if r["method"] == "retrained"}
    by_method: dict[str, list[dict]] = {}
    for row in rows:
        if row["method"] not in BASELINES:
            by_method.setdefault(row["method"], []).append(row)
    passed = {name: _cost(runs) for name, runs in by_method.items()
              if all(_passes(r, retrained[r["seed"]], identity) for r in runs)}
    best = min(passed, key=passed.get) if passed else None
    return {"method": best, "cost": passed.get(best), "passed": sorted(passed, key=passed.get),
            "seeds": sorted(retrained)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="orl", help="the dataset the shipped benchmark results are of")
    args = parser.parse_args(argv)
    out = {"rule": __doc__.split("\n\n")[1], args.dataset: {}}
    scenarios = load_dataset(args.dataset).scenarios
    for path in sorted(RESULTS.glob("benchmark-*.json")):
        scenario = path.stem.removeprefix("benchmark-")
        identity = scenario in scenarios and scenarios[scenario].kind == "identity"
        out[args.dataset][scenario] = recommend(json.loads(path.read_text())["rows"], identity)
    (RESULTS / "recommended.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out[args.dataset], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
