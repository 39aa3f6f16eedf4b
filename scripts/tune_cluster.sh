#!/usr/bin/env bash
# Measures a study on a Ray cluster of two one-CPU nodes on this machine (a head and one worker on 127.0.0.1, token
# authentication on), then tears both down. The wall time against the same study on a local Ray instance gives the
# projection to a cluster of K machines (docs/tuning/README.md).
# Usage: scripts/tune_cluster.sh PORT TUNE-ARGUMENTS...   (e.g. 6390 --method finetune --trials 4 ...)
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:?usage: scripts/tune_cluster.sh PORT TUNE-ARGUMENTS...}
shift
python=${PYTHON:-.venv/bin/python}
ray=$(dirname "$python")/ray
export RAY_AUTH_MODE=token RAY_USAGE_STATS_ENABLED=0
"$ray" start --head --block --port "$port" --node-ip-address 127.0.0.1 --num-cpus 1 --include-dashboard false \
  > /tmp/ray-head-$port.log 2>&1 &
head=$!
worker=
stop() {  # each `ray start --block` stops the processes it started when it is terminated
  set +e
  [ -n "$worker" ] && kill "$worker" && wait "$worker"
  kill "$head" && wait "$head"
  # `ray start --head` records its address for later `ray.init()` calls, which would then try the dead cluster
  grep -qs ":$port\$" /tmp/ray/ray_current_cluster && rm -f /tmp/ray/ray_current_cluster
}
trap stop EXIT
for _ in $(seq 60); do grep -q "Ray runtime started" /tmp/ray-head-$port.log && break; sleep 1; done
"$ray" start --block --address "127.0.0.1:$port" --node-ip-address 127.0.0.1 --num-cpus 1 \
  > /tmp/ray-worker-$port.log 2>&1 &
worker=$!
sleep 10
started=$SECONDS
"$python" -m mu_core tune --ray-address "127.0.0.1:$port" --workers 2 "$@"
echo "cluster of 2 one-CPU nodes: $((SECONDS - started)) s"
