#!/bin/bash
# bench/floor/run.sh BUILD_DIR — the Runtime API floor, measured in this
# run: floor-responder (a trivial server) against the bare floor-client and
# against floor-crt (the C runtime client, libstepd-runtime.a), over TCP on
# 127.0.0.1 and over a Unix socket. Builds nothing: BUILD_DIR/bench/floor-*
# must exist (`make bench-floor` builds and runs).
#
# The metric is the responder's, per invocation: from writing the answer
# to GET next (stamped just before write) to having read the whole POST
# response, i.e. the worker's share: one delivery each way plus the
# client's own work; p50/p90/p99/max in µs. "cycle" is from one POST read
# to the next: a whole invocation, two round trips. Where the two
# processes run decides the figures: on one CPU a delivery is a context
# switch (a few µs), across CPUs a wake-up of the other CPU (~25 µs on
# this VM). So each placement is pinned with taskset: "cross" (responder
# and client on two CPUs: the floor the issue quotes) and "same" (both on
# one CPU: the client's own CPU cost shows most). The runs are interleaved
# (rounds, the clients alternating first) and the samples of each
# configuration pooled, so a burst of load from elsewhere falls on both
# clients alike.
#
# Env: FLOOR_N (20000) measured invocations per configuration, in
# FLOOR_ROUNDS (5) runs, each after FLOOR_WARMUP (1000) unmeasured ones;
# FLOOR_PLACEMENTS ("cross same"; "none" leaves it to the scheduler);
# IDLE_WAIT (10 s, 0 skips) waits for an idle CPU first as bench/run.sh
# does. Prints a table and one JSON line per configuration; the lines also
# go to BUILD_DIR/bench/floor.jsonl.
set -euo pipefail
B=${1:?usage: bench/floor/run.sh BUILD_DIR}
B=$(cd "$B" && pwd)
cd "$(dirname "$0")/../.."
source bench/common.sh
N=${FLOOR_N:-20000}
ROUNDS=${FLOOR_ROUNDS:-5}
W=${FLOOR_WARMUP:-1000}
PLACEMENTS=${FLOOR_PLACEMENTS:-cross same}
IDLE_WAIT=${IDLE_WAIT:-10}
OUT=$B/bench/floor.jsonl
PER=$(( (N + ROUNDS - 1) / ROUNDS ))
for b in floor-responder floor-client floor-crt; do
  [ -x "$B/bench/$b" ] || { echo "floor: $B/bench/$b is missing (make bench-floor)" >&2; exit 2; }
done

# The first two CPUs this script may use.
read -r CPU0 CPU1 < <(python3 -c 'import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[1] if len(c) > 1 else "")')
if ! command -v taskset >/dev/null; then
  echo "floor: no taskset: placement left to the scheduler" >&2
  PLACEMENTS=none
elif [ -z "$CPU1" ]; then
  PLACEMENTS=${PLACEMENTS//cross/}
  PLACEMENTS=${PLACEMENTS:-same}
fi

TMP=$(mktemp -d)
RPID=""; CPID=""
cleanup() {
  [ -z "$CPID" ] || kill "$CPID" 2>/dev/null || true
  [ -z "$RPID" ] || kill "$RPID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# run_one PLACEMENT TRANSPORT CLIENT ROUND: one responder, one client; the
# raw samples go to $TMP/raw.PLACEMENT.TRANSPORT.CLIENT.ROUND.
run_one() {
  local placement=$1 transport=$2 client=$3 round=$4 addr rpin=() cpin=() listen
  case $placement in
    cross) rpin=(taskset -c "$CPU0"); cpin=(taskset -c "$CPU1");;
    same)  rpin=(taskset -c "$CPU0"); cpin=(taskset -c "$CPU0");;
  esac
  [ "$transport" = tcp ] && listen=(-p 0) || listen=(-u "$TMP/rt.sock")
  : > "$TMP/resp.out"
  "${rpin[@]}" "$B/bench/floor-responder" -n "$PER" -w "$W" -o "$TMP/raw.$placement.$transport.$client.$round" \
    "${listen[@]}" > "$TMP/resp.out" &
  RPID=$!
  for _ in $(seq 100); do [ -s "$TMP/resp.out" ] && break; sleep 0.05; done
  addr=$(head -n 1 "$TMP/resp.out")
  [ "$transport" = tcp ] && addr=127.0.0.1:$addr || addr=unix:$addr
  if [ "$client" = bare ]; then
    "${cpin[@]}" "$B/bench/floor-client" -n $((PER + W)) "$addr" &
  else
    # The runtime client loops until the responder exits, then logs that
    # it cannot reconnect: expected, kept out of the output.
    AWS_LAMBDA_RUNTIME_API=$addr "${cpin[@]}" "$B/bench/floor-crt" 2>> "$TMP/crt.log" &
  fi
  CPID=$!
  wait -n "$RPID" "$CPID" || true
  # The bare client ends with the last 202, as the responder reports: give
  # the responder a moment to finish.
  for _ in $(seq 100); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$RPID" 2>/dev/null; then
    echo "floor: the $client client over $transport ($placement) exited early" >&2
    kill "$RPID"; wait "$RPID" 2>/dev/null || true; RPID=""
    return 1
  fi
  wait "$RPID" 2>/dev/null || true; RPID=""
  kill "$CPID" 2>/dev/null || true; wait "$CPID" 2>/dev/null || true; CPID=""
  [ -s "$TMP/raw.$placement.$transport.$client.$round" ] ||
    { echo "floor: no samples from the responder" >&2; return 1; }
}

wait_idle
for round in $(seq "$ROUNDS"); do
  # Alternate which client goes first, so that neither always runs right
  # after the other's responder has exited.
  [ $((round % 2)) = 1 ] && clients="bare crt" || clients="crt bare"
  for placement in $PLACEMENTS; do
    for transport in tcp unix; do
      for client in $clients; do
        run_one "$placement" "$transport" "$client" "$round"
      done
    done
  done
done

mkdir -p "$(dirname "$OUT")"
python3 - "$TMP" "$PLACEMENTS" "$W" "$OUT" <<'PY'
import glob, json, os, sys
tmp, placements, warmup, out = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), sys.argv[4]

def pct(v, p):          # nearest rank, v sorted
    k = max(1, min(len(v), -(-len(v) * p // 100)))
    return round(v[k - 1] / 1000.0, 1)

rows = []
for pl in placements:
    for tr in ("tcp", "unix"):
        for cl in ("bare", "crt"):
            lat, cyc = [], []
            files = sorted(glob.glob(os.path.join(tmp, "raw.%s.%s.%s.*" % (pl, tr, cl))))
            for f in files:
                for line in open(f):
                    a, b = line.split()
                    lat.append(int(a)); cyc.append(int(b))
            lat.sort(); cyc.sort()
            rows.append({"bench": "runtime-floor", "placement": pl, "transport": tr,
                         "client": cl, "n": len(lat), "runs": len(files), "warmup": warmup,
                         "p50_us": pct(lat, 50), "p90_us": pct(lat, 90), "p99_us": pct(lat, 99),
                         "max_us": round(lat[-1] / 1000.0, 1),
                         "mean_us": round(sum(lat) / len(lat) / 1000.0, 1),
                         "cycle_p50_us": pct(cyc, 50), "cycle_p99_us": pct(cyc, 99)})
floor = {(r["placement"], r["transport"]): r for r in rows if r["client"] == "bare"}
for r in rows:
    f = floor[(r["placement"], r["transport"])]
    r["x_p50"] = round(r["p50_us"] / f["p50_us"], 3)
    r["x_p99"] = round(r["p99_us"] / f["p99_us"], 3)

print("Runtime API floor: GET next answer written -> POST response read by the server, µs")
print("(bare = floor-client, crt = libstepd-runtime.a; x = crt / bare; cycle = POST to POST)")
print("%-6s %-5s %-5s %6s %7s %7s %7s %8s %8s %7s %7s" % (
    "place", "trans", "client", "n", "p50", "p90", "p99", "max", "cyc p50", "x p50", "x p99"))
for r in rows:
    print("%-6s %-5s %-5s %7d %7.1f %7.1f %7.1f %8.1f %8.1f %7.2f %7.2f" % (
        r["placement"], r["transport"], r["client"], r["n"], r["p50_us"], r["p90_us"],
        r["p99_us"], r["max_us"], r["cycle_p50_us"], r["x_p50"], r["x_p99"]))
with open(out, "a") as f:
    for r in rows:
        line = json.dumps(r, separators=(",", ":"))
        print(line)
        f.write(line + "\n")
PY
