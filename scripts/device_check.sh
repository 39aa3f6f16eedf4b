#!/usr/bin/env bash
# The GPU figures, in one go on a machine with a CUDA device: `python -m mu_core.bench`, the build time of a
# reference bank of 16 (person, seed 0), the tuning seeds' baselines and banks of 6 for both scenarios, then the
# tuning studies (scripts/tune_all.sh, in this process group, JOBS at a time) with the engine tests running beside
# them (MU_DEVICE=cuda; the dashboard's tests need Streamlit and are left out), until DEADLINE (a Unix time).
# Logs and the trial records go to OUT_DIR. FIGURES=0 leaves out the bench and the bank of 16 (their figures are in
# docs/gpu.md), for a run that is mostly tuning; the tune_all.sh variables (ROUND, ROUNDS, FIRST_ROUND, STUDIES) pass on.
# Usage: OUT_DIR=dir DEADLINE=unix-time JOBS=8 PYTHON=python3 [FIGURES=0] scripts/device_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT_DIR:?set OUT_DIR}
export PYTHON=${PYTHON:-python3} MU_DEVICE=${MU_DEVICE:-cuda} PYTHONUNBUFFERED=1
export MU_CHECKPOINTS=${MU_CHECKPOINTS:-$out/checkpoints} MU_RUNS=${MU_RUNS:-$out/runs}
deadline=${DEADLINE:?set DEADLINE}
mkdir -p "$out"
[[ -d $out/trials ]] || cp -r docs/tuning/trials "$out/trials"  # trial numbers go on from the stored ones
t0=$(date +%s)
phase() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$out/phases.log"; }
phase "start: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null), $(nproc) CPUs," \
      "torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
if [[ ${FIGURES:-1} != 0 ]]; then
    timeout 150 "$PYTHON" -m mu_core.bench > "$out/bench.log" 2>&1; phase "bench: exit $?"
    started=$(date +%s)
    timeout 200 "$PYTHON" -m mu_core references --scenario person --seed 0 --n 16 --device "$MU_DEVICE" \
        --json "$out/bank16.json" > "$out/bank16.log" 2>&1
    phase "bank of 16 (person, seed 0, baselines included): exit $?, $(( $(date +%s) - started )) s"
fi
started=$(date +%s)
for scenario in person photos; do for seed in 100 101; do
    timeout 200 "$PYTHON" -m mu_core references --scenario $scenario --seed $seed --n 6 --device "$MU_DEVICE" \
        > "$out/bank6-$scenario-$seed.log" 2>&1 &
done; done
wait
phase "tuning seeds' baselines and banks of 6, 4 at a time: $(( $(date +%s) - started )) s"
(timeout $(( deadline - $(date +%s) )) "$PYTHON" -m pytest -q -p no:cacheprovider --continue-on-collection-errors \
    tests -m "not browser" --ignore-glob='tests/test_app*' > "$out/tests.log" 2>&1
 phase "engine tests (MU_DEVICE=$MU_DEVICE): exit $?") &
DEADLINE=$deadline LOGS=$out/tune-logs PYTHON=$PYTHON scripts/tune_all.sh --in-process --device "$MU_DEVICE" \
    --out "$out/trials" > "$out/tune.log" 2>&1
phase "tuning: $(tail -n 1 "$out/tune.log")"
wait
phase "done"
