#!/usr/bin/env bash
# The bank-level benchmark behind docs/benchmarks.md: every method at its preset, judged against a reference bank of
# N Retrained models (and run N times), on the reported seeds. Writes docs/results/bank-<scenario>.json (the
# benchmark's JSON) and .meta.json (one entry per run: command, machine, load, date, wall time);
# scripts/benchmark_docs.py turns them into tables. Seeds can be run in several goes: a later run's rows replace
# the file's rows of the same method and seed, and its entry is added to the .meta.json.
# Usage: scripts/benchmark.sh person|photos [N=16] [SEEDS=0,1,2] [METHODS=all]
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:?usage: scripts/benchmark.sh person|photos [N] [SEEDS] [METHODS]}
n=${2:-16}
seeds=${3:-0,1,2}
methods=${4:-all}
python=${PYTHON:-.venv/bin/python}
out=docs/results/bank-$scenario
part=$(mktemp --suffix=.json)
trap 'rm -f "$part"' EXIT
args=(-m mu_core benchmark --scenario "$scenario" --references "$n" --seeds "$seeds" --methods "$methods"
      --json "$part")
load=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$SECONDS
"$python" "${args[@]}" > "$out-$seeds.log" 2>&1
"$python" - "$out" "$part" "python ${args[*]/$part/$out.json}" "$started" "$((SECONDS - t0))" "$load" <<'PY'
import json, os, platform, sys
from pathlib import Path

out, part, command, started, seconds, load = sys.argv[1:]
result, meta = Path(out + ".json"), Path(out + ".meta.json")
new = json.loads(Path(part).read_text())["rows"]
replaced = {(r["method"], r["seed"]) for r in new}
old = json.loads(result.read_text())["rows"] if result.exists() else []
rows = [r for r in old if (r["method"], r["seed"]) not in replaced] + new
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
run = {"command": command, "date": started, "seconds": int(seconds), "load_at_start": load,
       "machine": f"{cpu or platform.machine()}, {os.cpu_count()} cores"}
earlier = json.loads(meta.read_text()) if meta.exists() and old else {}
runs = earlier.get("runs", [earlier] if earlier else []) + [run]
for path, data in ((result, {"rows": rows}), (meta, {"runs": runs})):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
PY
echo "wrote $out.json and $out.meta.json"
