#!/usr/bin/env bash
# Runs the lab tests: the namespace lab comes up once per attach mode (XDP, then TC), every t_*.sh
# runs against it, and it goes down again. Tests that do not depend on the attach mode say so
# (ONCE=1 in their header) and run in the first pass only.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
log=${1:-$(mktemp -d)}
results=${2:-$log/results}
modes=${LAB_MODES:-xdp tc}
first=1

for mode in $modes; do
  export ATTACH=$mode
  echo "== lab ($mode)"
  if ! timeout 120 "$top/scripts/lab.sh" up > "$log/lab-up-$mode.log" 2>&1; then
    echo "FAIL lab/$mode/up: the lab did not come up (log: $log/lab-up-$mode.log)" | tee -a "$results"
    tail -n 15 "$log/lab-up-$mode.log" | sed 's/^/    /'
    "$top/scripts/lab.sh" down > /dev/null 2>&1
    continue
  fi
  echo "PASS lab/$mode/up" | tee -a "$results"
  # The tests start from a settled pair: lb1 elected master (a few advert intervals after up).
  for ((i = 0; i < 50; i++)); do
    "$top/scripts/lab.sh" exec lb1 pgsteer status -j 2>/dev/null | grep -q '"state": "MASTER"' && break
    sleep 0.2
  done
  for t in "$here"/t_*.sh; do
    [ -f "$t" ] || continue
    if grep -q '^# ONCE=1' "$t" && [ $first -eq 0 ]; then continue; fi
    name=$(basename "$t" .sh)
    out=$log/$mode-$name.log
    timeout 900 bash "$t" > "$out" 2>&1
    rc=$?
    grep -E '^(PASS|FAIL|SKIP) ' "$out" | tee -a "$results"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
      echo "FAIL lab/$mode/$name: exited with status $rc (log: $out)" | tee -a "$results"
      tail -n 15 "$out" | sed 's/^/    /'
    elif grep -q '^FAIL ' "$out"; then
      echo "    (log: $out)"
    fi
  done
  "$top/scripts/lab.sh" down > "$log/lab-down-$mode.log" 2>&1 ||
    echo "FAIL lab/$mode/down: (log: $log/lab-down-$mode.log)" | tee -a "$results"
  first=0
done
