"""Reads the JSON of `python -m mu_core benchmark --seeds ...` and prints, per method, the figures the methods issue's
targets are read from: the largest time ratio over the seeds (target <= 0.10) and, for scale, the ratio of the mean
seconds to the Retrained model's mean seconds; the mean gap to Retrained and mean NoMUS against the Retrained's mean
NoMUS minus 0.02.

Usage: python scripts/check_targets.py out/benchmark-person.json [--gap 0.05] [--nomus-margin 0.02]"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mu_core.report import render  # noqa: E402  (run as a script from the repository)
from mu_core.tuning import GAP_TARGET, NOMUS_MARGIN, meets_target  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("json")
    p.add_argument("--gap", type=float, default=GAP_TARGET)
    p.add_argument("--nomus-margin", type=float, default=NOMUS_MARGIN)
    p.add_argument("--time-ratio", type=float, default=0.10)
    args = p.parse_args()
    by_method: dict[str, list[dict]] = {}
    for row in json.loads(Path(args.json).read_text())["rows"]:
        by_method.setdefault(row["method"], []).append(row)
    retrained_nomus = float(np.mean([r["metrics"]["nomus"] for r in by_method["retrained"]]))
    target_nomus = retrained_nomus - args.nomus_margin
    retrain_seconds = float(np.mean([r["seconds"] for r in by_method["retrained"]]))
    lines, passing = [], 0
    for method, rows in by_method.items():
        if method in ("original", "retrained"):
            continue
        ratio = max(r["time_ratio"] for r in rows)
        mean_ratio = float(np.mean([r["seconds"] for r in rows])) / retrain_seconds
        gap = float(np.mean([r["metrics"]["gap_to_retrained"] for r in rows]))
        nomus = float(np.mean([r["metrics"]["nomus"] for r in rows]))
        close = meets_target(gap, nomus, retrained_nomus, args.gap, args.nomus_margin)
        passing += close
        lines.append([method, f"{ratio:.3f}", "yes" if ratio <= args.time_ratio else "**no**", f"{mean_ratio:.3f}",
                      f"{gap:.4f}", f"{nomus:.4f}", "yes" if close else "no"])
    headings = ["method", "largest time ratio", f"<= {args.time_ratio:g}", "mean s / mean Retrained s", "mean gap",
                "mean NoMUS", f"gap <= {args.gap:g} and NoMUS >= {target_nomus:.4f}"]
    print(render(headings, lines, markdown=True))
    print(f"\n{passing} methods reach gap <= {args.gap:g} with NoMUS >= Retrained's mean "
          f"({retrained_nomus:.4f}) - {args.nomus_margin:g}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
