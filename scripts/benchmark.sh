#!/usr/bin/env bash
# The bank-level benchmark behind docs/benchmarks.md: every method at its preset, judged against a reference bank of
# N Retrained models (and run N times), on the reported seeds. Writes docs/results/bank-<scenario>.json (the
# benchmark's JSON) and .meta.json (command, machine, load, date, wall time); scripts/benchmark_docs.py turns them
# into tables.
# Usage: scripts/benchmark.sh person|photos [N=16] [SEEDS=0,1,2] [METHODS=all]
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:?usage: scripts/benchmark.sh person|photos [N] [SEEDS] [METHODS]}
n=${2:-16}
seeds=${3:-0,1,2}
methods=${4:-all}
python=${PYTHON:-.venv/bin/python}
out=docs/results/bank-$scenario
args=(-m mu_core benchmark --scenario "$scenario" --references "$n" --seeds "$seeds" --methods "$methods"
      --json "$out.json")
load=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$SECONDS
"$python" "${args[@]}" > "$out.log" 2>&1
"$python" - "$out.meta.json" "python ${args[*]}" "$started" "$((SECONDS - t0))" "$load" <<'PY'
import json, os, platform, sys
path, command, started, seconds, load = sys.argv[1:]
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
json.dump({"command": command, "date": started, "seconds": int(seconds), "load_at_start": load,
           "machine": f"{cpu or platform.machine()}, {os.cpu_count()} cores"}, open(path, "w"), indent=1)
PY
echo "wrote $out.json and $out.meta.json"
