#!/bin/sh
# Runs every unit test binary given; prints the sum as "N passed, N failed".
pass=0; fail=0; bad=0
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  last=$(printf '%s\n' "$out" | tail -n 1)
  p=$(printf '%s' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
  f=$(printf '%s' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
  if [ -z "$p" ]; then
    echo "$t: crashed or printed no summary (exit $rc)"; printf '%s\n' "$out" | tail -n 20; bad=$((bad+1)); fail=$((fail+1)); continue
  fi
  [ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -v '^[0-9]* passed' | head -n 40
  echo "$(basename "$t"): $last"
  pass=$((pass+p)); fail=$((fail+f))
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && fail=$((fail+1))
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
