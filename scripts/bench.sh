#!/usr/bin/env bash
# make bench: in one lab run, pgbench -S at 1 and 8 clients and pgbench -S -C (a new connection per
# transaction), directly to a PgBouncer, through pgsteer (XDP, then TC) and through HAProxy
# leastconn started beside it; a table of TPS, latency, ratios and LB CPU per transaction; then ns
# per packet of the BPF programs (BPF_PROG_TEST_RUN, a fresh frame each run).
# "direct" spreads the clients over the three PgBouncers by hand (one pgbench per PgBouncer, run at
# once, summed): the ideal balancer, so that only the balancer differs between the rows.
# env: BENCH_SECONDS=8 (per run)  BENCH_ROUNDS=5 (medians of)  BENCH_OUT=build/bench.md
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
LAB=$top/scripts/lab.sh
BUILD=${BUILD:-$top/build}
SECS=${BENCH_SECONDS:-8}
ROUNDS=${BENCH_ROUNDS:-5}
OUT=${BENCH_OUT:-$BUILD/bench.md}
LAB_NS=${LAB_NS:-pgs}
if [ "$LAB_NS" = pgs ]; then LAB_DIR=${LAB_DIR:-/tmp/pgsteer-lab}; else LAB_DIR=${LAB_DIR:-/tmp/pgsteer-lab-$LAB_NS}; fi
VIP=10.100.1.100
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (network namespaces, BPF)" >&2; exit 1; }

stats_was=$(cat /proc/sys/kernel/bpf_stats_enabled)
cleanup() {
  echo "$stats_was" > /proc/sys/kernel/bpf_stats_enabled
  "$LAB" down > /dev/null 2>&1 || true
}
trap cleanup EXIT
"$LAB" down > /dev/null 2>&1 || true
echo "bench: bringing the lab up (XDP)"
ATTACH=xdp "$LAB" up > /dev/null
"$LAB" haproxy start > /dev/null

declare -A TARGET=([direct]="10.100.1.5 6432" [haproxy]="10.100.1.11 5432" [xdp]="$VIP 5432" [tc]="$VIP 5432")
WORKLOADS=("c1" "c8" "conn")
declare -A WL_ARGS=([c1]="-S -c 1 -j 1" [c8]="-S -c 8 -j 2" [conn]="-S -C -c 8 -j 2")
declare -A WL_NAME=([c1]="pgbench -S, 1 client" [c8]="pgbench -S, 8 clients" [conn]="pgbench -S -C, 8 clients")
declare -A TPS LAT CPU

# pgbench's output -> "tps latency_ms transactions".
pgbench_figures() {
  awk -F'= ' '/^tps/ { split($2, a, " "); tps = a[1] } /^latency average/ { split($2, a, " "); lat = a[1] }
    /number of transactions actually processed/ { split($0, b, ": "); split(b[2], c, "/"); n = c[1] }
    END { if (tps == "") exit 1; printf "%s %s %s\n", tps, lat, n }'
}

# One pgbench run: prints "tps latency_ms transactions".
run_pgbench() {
  local host=$1 port=$2 wl=$3 out
  # shellcheck disable=SC2086
  out=$("$LAB" exec client pgbench -n ${WL_ARGS[$wl]} -T "$SECS" -h "$host" -p "$port" -U app app 2>&1)
  pgbench_figures <<< "$out" ||
    { echo "bench: pgbench failed against $host:$port:" >&2; echo "$out" | tail -5 >&2; exit 1; }
}

# The clients split over pgb1-3 by hand, one pgbench each, at once: summed TPS and transactions,
# latency weighted by transactions.
run_pgbench_split() {
  local wl=$1 args=${WL_ARGS[$1]} n i port tmp sum
  n=$(sed -E 's/.*-c ([0-9]+).*/\1/' <<< "$args")
  [ "$n" -ge 3 ] || { run_pgbench 10.100.1.5 6432 "$wl"; return; }
  tmp=$(mktemp -d)
  for i in 0 1 2; do
    port=$((6432 + i))
    # shellcheck disable=SC2086
    "$LAB" exec client pgbench -n $(sed -E "s/-c [0-9]+/-c $(( n / 3 + (i < n % 3) ))/; s/-j [0-9]+/-j 1/" <<< "$args") \
      -T "$SECS" -h 10.100.1.5 -p $port -U app app > "$tmp/$i" 2>&1 &
  done
  wait
  sum=$(for i in 0 1 2; do pgbench_figures < "$tmp/$i" || { tail -5 "$tmp/$i" >&2; exit 1; }; done |
    awk '{ tps += $1; tx += $3; lw += $2 * $3 } END { printf "%s %s %s\n", tps, tx ? lw / tx : 0, tx }')
  rm -rf "$tmp"
  echo "$sum"
}

# CPU the load balancer spent: the BPF programs' run time (kernel stats) or HAProxy's process time, in ns.
lb_cpu_ns() {
  case $1 in
    xdp|tc) bpftool prog show -j | python3 -c '
import json, sys
print(sum(p.get("run_time_ns", 0) for p in json.load(sys.stdin) if p.get("name") in ("pgs_xdp", "pgs_tc")))' ;;
    haproxy) awk '{ print ($14 + $15) * 1000000000 / '"$(getconf CLK_TCK)"' }' "/proc/$(cat "$LAB_DIR/haproxy/haproxy.pid")/stat" ;;
    *) echo 0 ;;
  esac
}

set_attach() { # restart lb1's pgsteerd in place in another attach mode
  sed -i "s/^    attach .*/    attach          $1/" "$LAB_DIR/lb1/pgsteerd.conf"
  "$LAB" exec lb1 pgsteer restart > /dev/null
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The kernel's run-time stats for BPF programs cost ~40 ns a run: on for the CPU figures only, for
# every target alike (it touches only pgsteer's rows).
echo 1 > /proc/sys/kernel/bpf_stats_enabled
declare -A samples_tps samples_lat samples_cpu
for round in $(seq 1 "$ROUNDS"); do
  for mode in xdp tc; do
    set_attach "$mode"
    for t in direct haproxy $mode; do
      [ "$t" = direct ] || [ "$t" = haproxy ] && [ "$mode" = tc ] && continue
      for wl in "${WORKLOADS[@]}"; do
        read -r host port <<< "${TARGET[$t]}"
        c0=$(lb_cpu_ns "$t")
        if [ "$t" = direct ]; then
          read -r tps lat n <<< "$(run_pgbench_split "$wl")"
        else
          read -r tps lat n <<< "$(run_pgbench "$host" "$port" "$wl")"
        fi
        c1=$(lb_cpu_ns "$t")
        cpu=$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.1f", n ? (b - a) / n / 1000 : 0 }')
        samples_tps[$t.$wl]+="$tps "; samples_lat[$t.$wl]+="$lat "; samples_cpu[$t.$wl]+="$cpu "
        printf 'bench: round %s  %-8s %-26s %10.1f tps  %7.3f ms  LB %6s us/tx\n' "$round" "$t" "${WL_NAME[$wl]}" "$tps" "$lat" "$cpu"
      done
    done
  done
done
for t in direct xdp tc haproxy; do
  for wl in "${WORKLOADS[@]}"; do
    # shellcheck disable=SC2086
    TPS[$t.$wl]=$(median ${samples_tps[$t.$wl]}); LAT[$t.$wl]=$(median ${samples_lat[$t.$wl]}); CPU[$t.$wl]=$(median ${samples_cpu[$t.$wl]})
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
{
  echo "| workload | path | TPS | latency ms | vs direct | vs HAProxy | LB CPU µs/tx |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  for wl in "${WORKLOADS[@]}"; do
    for t in direct xdp tc haproxy; do
      name=$t; [ "$t" = direct ] && name="direct"; [ "$t" = xdp ] && name="pgsteer XDP"; [ "$t" = tc ] && name="pgsteer TC"
      [ "$t" = haproxy ] && name="HAProxy leastconn"
      printf '| %s | %s | %.0f | %.3f | %s | %s | %s |\n' "${WL_NAME[$wl]}" "$name" "${TPS[$t.$wl]}" "${LAT[$t.$wl]}" \
        "$(ratio "${TPS[$t.$wl]}" "${TPS[direct.$wl]}")" "$(ratio "${TPS[$t.$wl]}" "${TPS[haproxy.$wl]}")" \
        "$([ "$t" = direct ] && echo - || echo "${CPU[$t.$wl]}")"
    done
  done
  echo
  echo "Medians of $ROUNDS runs of ${SECS} s each, interleaved, in one lab run (\`make bench\`). \"direct\": 1 client to pgb1;"
  echo "8 clients split 3/3/2 over pgb1-3 by hand (three pgbench at once, summed). LB CPU: the BPF programs' run"
  echo "time (kernel run-time stats, on for every row) or HAProxy's CPU time, per transaction."
  echo
  echo '```'
  "$BUILD/tools/pgs_pktbench"
  echo '```'
} > "$OUT"
echo
cat "$OUT"
