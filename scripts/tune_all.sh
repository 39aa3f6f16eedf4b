#!/usr/bin/env bash
# Every study of docs/tuning/studies.txt, in rounds: each round gives every study ROUND more trials (a study
# continues where it stopped: its earlier records are told to Optuna first, and the sampler seed is the round's
# number, so no round repeats another's random draws), JOBS studies at a time, until ROUNDS rounds are done or
# DEADLINE (a Unix time: a running study is stopped there and keeps the trials it finished). Rounds are numbered from
# FIRST_ROUND (default 1): a later session starts after the rounds already run. Other arguments go to
# every `tune` call (e.g. --in-process, --device cuda, --out DIR). Each call's log is in LOGS. Then regenerate the
# presets with `python -m mu_core presets`.
# Usage: JOBS=2 ROUND=2 ROUNDS=8 FIRST_ROUND=1 DEADLINE= LOGS=dir scripts/tune_all.sh [tune flags...]
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHON=${PYTHON:-.venv/bin/python} ROUND=${ROUND:-2} DEADLINE=${DEADLINE:-0} EXTRA="$*" T0=$(date +%s)
export LOGS=${LOGS:-$(mktemp -d)}
mkdir -p "$LOGS"
jobs=${JOBS:-2}
rounds=${ROUNDS:-8}
first=${FIRST_ROUND:-1}
studies=${STUDIES:-docs/tuning/studies.txt}
for round in $(seq "$first" $(( first + rounds - 1 ))); do
    grep -v -e '^\s*#' -e '^\s*$' "$studies" | sed "s/^/$round /" | xargs -r -P "$jobs" -L 1 bash -c '
        round=$0 method=$1 scenario=$2; shift 2
        left=$(( DEADLINE > 0 ? DEADLINE - $(date +%s) : 86400 ))
        (( left > 5 )) || exit 0
        timeout "$left" "$PYTHON" -m mu_core tune --method "$method" --scenario "$scenario" --trials "$ROUND" \
            --sampler-seed "$round" "$@" $EXTRA > "$LOGS/$method-$scenario-round$round.log" 2>&1
        echo "round $round $method $scenario: exit $? at $(( $(date +%s) - T0 )) s"'
    (( DEADLINE > 0 && $(date +%s) >= DEADLINE )) && break
done
echo "tuning: $(( $(date +%s) - T0 )) s wall, up to $rounds rounds of $ROUND trials per study, $jobs studies at a time"
