"""Prints, for each method, the preset that the tuning rule (mu_core/tuning.py) picks from its recorded grid
searches in docs/tuning/orl-<scenario>/, beside the preset its module holds; exits 1 when any differ.

Usage: python scripts/pick_presets.py person|photos"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mu_core.methods import REGISTRY  # noqa: E402  (run as a script from the repository)
from mu_core.tuning import preset_from_tables  # noqa: E402


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in ("person", "photos"):
        print(__doc__)
        return 2
    scenario = sys.argv[1]
    differ = 0
    for method in REGISTRY.values():
        picked = preset_from_tables(method, ROOT / "docs" / "tuning" / f"orl-{scenario}")
        held = method.presets[f"orl/{scenario}"]
        differ += picked != held
        print(f"{method.name:16s} {'same' if picked == held else 'DIFFERS, module holds ' + json.dumps(held)}: "
              f"{json.dumps(picked)}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
