#!/bin/bash
# Runs each libFuzzer binary given for FUZZ_SECONDS (default 60) on its own
# corpus (build/fuzz/corpus-<target>/, seeded from tests/cases/ first),
# one after the other (the machine has 2 cores and the targets are
# single-threaded), then prints executions and findings per target and the
# closing "N passed, N failed". A finding leaves its input as
# build/fuzz/<target>-crash-* (or -leak-, -timeout-, -oom-) and the log beside it.
set -uo pipefail
OUT=${FUZZ_OUT:-build/fuzz}
SECS=${FUZZ_SECONDS:-60}
CASES=${FUZZ_CASES:-tests/cases}

python3 tools/fuzz-seed.py "$CASES" "$OUT" || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# a known leak inside libfyaml itself (see the file)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tools/lsan-fuzz.supp}

# libFuzzer names what it finds PREFIX{crash,leak,timeout,oom,slow-unit}-SHA1.
findings() { ls "$OUT" | grep -c -E "^$1-(crash|leak|timeout|oom|slow-unit)-"; }

pass=0; fail=0; summary=()
for bin in "$@"; do
  t=$(basename "$bin")
  corpus="$OUT/corpus-$t"; log="$OUT/$t.log"
  mkdir -p "$corpus"
  before=$(findings "$t")
  echo "fuzz: $t for ${SECS}s ($(ls "$corpus" | wc -l) inputs in $corpus)"
  "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
         -artifact_prefix="$OUT/$t-" "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  after=$(findings "$t")
  found=$((after - before))
  if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then found=1; fi
  line="$t: ${execs:-?} executions, $found findings, corpus $(ls "$corpus" | wc -l) inputs"
  if [ "$rc" -eq 0 ] && [ "$found" -eq 0 ]; then
    pass=$((pass + 1)); summary+=("  ok   $line")
  else
    fail=$((fail + 1)); summary+=("  FAIL $line (exit $rc, log $log)")
    # The sanitizer's report: the part of the log worth reading first.
    grep -m1 -A20 'ERROR: \|runtime error:\|==ERROR' "$log" | head -n 30
  fi
done
printf '%s\n' "${summary[@]}"
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
