# bench/common.sh: helpers sourced by bench/run.sh and bench/serve.sh.

# node_major NODE: the major version of that node binary (empty when none).
node_major() { "$1" --version 2>/dev/null | sed -n 's/^v\([0-9]*\).*/\1/p'; }

# wait_idle: waits until the CPUs were >= 90% idle over one second,
# IDLE_WAIT seconds at most (0 skips it).
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
