#!/usr/bin/env bash
# make bench: every path a PgBouncer user could put in front of PgBouncer, side by side, in one lab
# run: interleaved rounds, medians.
#   direct   the clients split over the three PgBouncers by hand (the ideal balancer, no hop)
#   xdp, tc  pgsteer on lb1 (VIP 10.100.1.100), native XDP, then TC
#   haproxy  HAProxy 2.6 leastconn in lb2 (10.100.1.11)
#   ipvs     IPVS in lb2, scheduler lc, NAT (masquerading) mode plus an SNAT rule with the VIP as source
#            (10.100.1.102): full NAT, as IPVS runs in front of PgBouncer when the servers are not
#            routed back through the balancer (kube-proxy's IPVS mode does the same); skipped with a
#            reason where the kernel has no IP_VS
#   nat      the kernel's conntrack NAT in lb2 (iptables DNAT, a random server per connection, plus
#            SNAT to its VIP 10.100.1.104): the stack's forwarding path, measurable on any kernel
#   fwd      a bare XDP forwarder on the app node (bpf/bench_fwd.bpf.c, VIP 10.100.1.103): the same
#            full-NAT rewrite with a static mapping, no flow state, no selection: this hop's limit
# Workloads: pgbench -S at BENCH_CLIENTS clients (TPS, p50 and p99 from the per-transaction log), and
# pgbench -S -C at 8 clients (a new connection per transaction). LB CPU per transaction: the BPF
# programs' run time (kernel run-time stats) on the node's interface, HAProxy's process CPU time; ipvs
# and nat work in softirq, which no process owns: not attributed. Then ns per packet of the BPF
# programs (BPF_PROG_TEST_RUN). The idle run: BENCH_IDLE_SESSIONS libpq sessions (tests/tools/pgs_idle)
# logged in through pgsteer XDP and through HAProxy and held with no traffic: the LB's memory per flow
# (pgsteer: its flow maps' bytes per entry, preallocated, plus pgsteerd's RSS growth; HAProxy: its RSS
# growth plus its two kernel sockets a session, estimated from the slab object sizes and the buffers
# `ss -m` shows), and the LB's CPU over BENCH_IDLE_SECONDS with the sessions held and, before, with none.
# The PgBouncers' max_client_conn and file limits and HAProxy's maxconn are raised for it. Then the report:
# $BENCH_DIR/results.json, bench.md and PNG plots (scripts/bench_report.py, gnuplot).
# env: BENCH_SECONDS=5 (per run)  BENCH_ROUNDS=3 (medians of)  BENCH_CLIENTS="1 4 8 16 32 64"
#      BENCH_PATHS="direct xdp tc haproxy ipvs nat fwd"  BENCH_DIR=build/bench
#      BENCH_PKTBENCH=1  BENCH_IDLE_SESSIONS=10000 (0: no idle run)  BENCH_IDLE_SECONDS=10
#      BENCH_QUICK=1: one round of 3 s, clients "1 8", no ns per packet, no idle run (the CI smoke test)
#      LAB_NS=pgs (the lab's namespace prefix)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
LAB=$top/scripts/lab.sh
export BUILD=${BUILD:-$top/build}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  SECS=${BENCH_SECONDS:-3} ROUNDS=${BENCH_ROUNDS:-1} CLIENTS=${BENCH_CLIENTS:-"1 8"} PKTBENCH=${BENCH_PKTBENCH:-0}
  IDLE_N=${BENCH_IDLE_SESSIONS:-0}
else
  SECS=${BENCH_SECONDS:-5} ROUNDS=${BENCH_ROUNDS:-3} CLIENTS=${BENCH_CLIENTS:-"1 4 8 16 32 64"} PKTBENCH=${BENCH_PKTBENCH:-1}
  IDLE_N=${BENCH_IDLE_SESSIONS:-10000}
fi
IDLE_S=${BENCH_IDLE_SECONDS:-10}
PATHS=${BENCH_PATHS:-"direct xdp tc haproxy ipvs nat fwd"}
OUT=${BENCH_DIR:-$BUILD/bench}
export LAB_NS=${LAB_NS:-pgs}
if [ "$LAB_NS" = pgs ]; then LAB_DIR=${LAB_DIR:-/tmp/pgsteer-lab}; else LAB_DIR=${LAB_DIR:-/tmp/pgsteer-lab-$LAB_NS}; fi
export LAB_DIR
WORK=$LAB_DIR/bench
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (network namespaces, BPF)" >&2; exit 1; }
say() { echo "bench: $*" >&2; }
ns() { printf '%s-%s\n' "$LAB_NS" "$1"; }
in_node() { local n=$1; shift; nsenter --net="/run/netns/$(ns "$n")" -- "$@"; }

declare -A TARGET=([xdp]="10.100.1.100 5432" [tc]="10.100.1.100 5432" [haproxy]="10.100.1.11 5432"
  [ipvs]="10.100.1.102 5432" [nat]="10.100.1.104 5432" [fwd]="10.100.1.103 5432")
PGB_ADDR=10.100.1.5 PGB_PORTS="6432 6433 6434" CLIENT_ADDR=10.100.1.2
declare -A SKIPPED=()
FWD_PID=""

stats_was=$(cat /proc/sys/kernel/bpf_stats_enabled)
cleanup() {
  echo "$stats_was" > /proc/sys/kernel/bpf_stats_enabled
  [ -z "$FWD_PID" ] || { kill "$FWD_PID" 2>/dev/null; wait "$FWD_PID" 2>/dev/null; } || true
  [ "${BENCH_KEEP_LAB:-0}" = 1 ] || "$LAB" down > /dev/null 2>&1 || true
}
trap cleanup EXIT

mac_of() { ip -n "$(ns "$1")" -j link show eth0 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["address"])'; }

# The bare forwarder on the app node: XDP_TX on a veth needs an XDP program on its peer.
fwd_start() {
  local cm pm ports i
  ip -n "$(ns sw)" link set dev app xdp obj "$BUILD/bpf/xdp_pass.bpf.o" sec xdp
  ip -n "$(ns app)" addr add 10.100.1.103/24 dev eth0
  cm=$(mac_of client) pm=$(mac_of pgb) ports=$(tr ' ' , <<< "$PGB_PORTS")
  # nsenter itself, not in_node: a function in the background is a subshell, and $! must be the tool.
  nsenter --net="/run/netns/$(ns app)" -- "$BUILD/tools/pgs_benchfwd" eth0 10.100.1.103:5432 "$CLIENT_ADDR=$cm" "$PGB_ADDR=$pm" "$ports" \
    > "$WORK/fwd.log" 2>&1 &
  FWD_PID=$!
  for ((i = 0; i < 100; i++)); do grep -q '^attached' "$WORK/fwd.log" && return 0; sleep 0.1; done
  say "the bare forwarder did not attach: $(cat "$WORK/fwd.log")"
  return 1
}

# IPVS in lb2: lc over the PgBouncers in NAT mode; SNAT to the VIP makes it full NAT (conntrack=1 lets
# netfilter NAT see IPVS connections). All of it inside lb2's namespace.
ipvs_start() {
  local vip=10.100.1.102 p err
  # IPVS is the kernel's: built in (/proc/net/ip_vs exists) or a module modprobe finds.
  if [ ! -e /proc/net/ip_vs ] && ! err=$(modprobe ip_vs 2>&1); then
    SKIPPED[ipvs]="not measurable here: kernel $(uname -r) has no IP_VS (no /proc/net/ip_vs; modprobe ip_vs: $(tr '\n' ' ' <<< "$err"))"
    return 1
  fi
  if ! err=$(in_node lb2 ipvsadm -Ln 2>&1); then
    SKIPPED[ipvs]="ipvsadm cannot reach IPVS in lb2: $(tr '\n' ' ' <<< "$err")"
    return 1
  fi
  in_node lb2 sysctl -qw net.ipv4.vs.conntrack=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
  ip -n "$(ns lb2)" addr add $vip/32 dev eth0
  in_node lb2 ipvsadm -A -t $vip:5432 -s lc
  for p in $PGB_PORTS; do in_node lb2 ipvsadm -a -t $vip:5432 -r "$PGB_ADDR:$p" -m -w 1; done
  in_node lb2 iptables -t nat -A POSTROUTING -m ipvs --vaddr $vip/32 --vport 5432 -j SNAT --to-source $vip
}

# Kernel conntrack NAT in lb2: DNAT to a PgBouncer picked at random per connection, SNAT to the VIP.
nat_start() {
  local vip=10.100.1.104 p n=3 i=0
  in_node lb2 sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
  ip -n "$(ns lb2)" addr add $vip/32 dev eth0
  for p in $PGB_PORTS; do
    if [ $((n - i)) -gt 1 ]; then
      in_node lb2 iptables -t nat -A PREROUTING -d $vip -p tcp --dport 5432 -m statistic --mode random \
        --probability "$(awk -v k=$((n - i)) 'BEGIN { printf "%.5f", 1 / k }')" -j DNAT --to-destination "$PGB_ADDR:$p"
    else
      in_node lb2 iptables -t nat -A PREROUTING -d $vip -p tcp --dport 5432 -j DNAT --to-destination "$PGB_ADDR:$p"
    fi
    i=$((i + 1))
  done
  in_node lb2 iptables -t nat -A POSTROUTING -m conntrack --ctorigdst $vip -j SNAT --to-source $vip
}

set_attach() { # restart lb1's pgsteerd in place in another attach mode
  sed -i "s/^    attach .*/    attach          $1/" "$LAB_DIR/lb1/pgsteerd.conf"
  "$LAB" exec lb1 pgsteer restart > /dev/null
}

# Nanoseconds of BPF run time of every program on NODE's eth0 (XDP and TC), from the kernel's stats.
bpf_ns_on() {
  in_node "$1" bpftool -j net show dev eth0 | python3 -c '
import json, subprocess, sys
ids = [p["id"] for n in json.load(sys.stdin) for k in ("xdp", "tc") for p in n.get(k, [])]
tot = 0
for i in ids:
    tot += json.loads(subprocess.check_output(["bpftool", "-j", "prog", "show", "id", str(i)])).get("run_time_ns", 0)
print(tot)'
}

# CPU the load balancer of PATH spent so far, in ns, or "null" where no process owns it.
lb_cpu_ns() {
  case $1 in
    xdp|tc) bpf_ns_on lb1 ;;
    fwd) bpf_ns_on app ;;
    haproxy) awk '{ print ($14 + $15) * 1000000000 / '"$(getconf CLK_TCK)"' }' "/proc/$(cat "$LAB_DIR/haproxy/haproxy.pid")/stat" ;;
    *) echo null ;;
  esac
}

# --- the idle run ---------------------------------------------------------------------------------
# PID of the LB process of PATH (pgsteerd on lb1, HAProxy on lb2).
lb_pid() { if [ "$1" = haproxy ]; then cat "$LAB_DIR/haproxy/haproxy.pid"; else head -1 "$LAB_DIR/lb1/pgsteerd.pid"; fi; }
proc_cpu_ns() { awk '{ print ($14 + $15) * 1000000000 / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"; }
proc_rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }
# CPU of PATH's balancer in ns so far: HAProxy's process; pgsteerd's process plus its BPF programs.
idle_cpu_ns() {
  if [ "$1" = haproxy ]; then proc_cpu_ns "$(lb_pid haproxy)"; else echo $(( $(proc_cpu_ns "$(lb_pid xdp)" | cut -d. -f1) + $(bpf_ns_on lb1) )); fi
}
# Sessions the balancer holds: pgsteer's active sessions over the servers; HAProxy's established
# client-side sockets on its frontend.
idle_flows() {
  if [ "$1" = haproxy ]; then
    in_node lb2 ss -Htn state established "( sport = :5432 )" | wc -l
  else
    PGSTEER_SOCKET=$LAB_DIR/lb1/pgsteerd.sock PGSTEER_CONF=$LAB_DIR/lb1/pgsteerd.conf "$BUILD/pgsteer" status -j |
      python3 -c 'import json, sys; print(sum(s["scur"] for v in json.load(sys.stdin)["services"] for s in v["servers"]))'
  fi
}
# Kernel bytes per HAProxy session: two TCP sockets (client and server side), each a TCP, socket-inode,
# file and dentry slab object, plus the buffer memory ss -m shows for lb2's sockets, shared out.
haproxy_kernel_bytes() { # SESSIONS
  local slab bufs socks
  slab=$(awk '$1 == "TCP" || $1 == "sock_inode_cache" || $1 == "filp" || $1 == "dentry" { s += $4 } END { print s + 0 }' /proc/slabinfo)
  read -r socks bufs <<< "$(in_node lb2 ss -Htnm state established | awk '/skmem:/ { n++; if (match($0, /skmem:\([^)]*\)/)) {
      split(substr($0, RSTART + 7, RLENGTH - 8), f, ","); for (i in f) if (f[i] ~ /^(r|t|f|w|o)[0-9]/) b += substr(f[i], 2) } }
      END { print n + 0, b + 0 }')"
  awk -v n="$1" -v s="$socks" -v slab="$slab" -v b="$bufs" 'BEGIN { if (!n) print "null"; else printf "%.0f", (s * slab + b) / n }'
}
# pgsteer's flow memory per flow: pgs_flows and its reverse twin are preallocated hash maps, their
# memory (the kernel's count of it) shared over their entries.
pgsteer_map_bytes() {
  local root m
  root=$(lab_pin lb1)
  for m in pgs_flows pgs_rflows; do bpftool -j map show pinned "$root/$m"; echo; done | python3 -c '
import json, sys
t = 0.0
for line in sys.stdin:
    if line.strip():
        m = json.loads(line)
        t += m["bytes_memlock"] / m["max_entries"]
print("%.0f" % t)'
}
lab_pin() { if [ "$LAB_NS" = pgs ]; then echo "/sys/fs/bpf/pgsteer-$1"; else echo "/sys/fs/bpf/pgsteer-$LAB_NS-$1"; fi; }

# One idle run through PATH: the balancer's CPU over IDLE_S s with no session, IDLE_N sessions logged
# in, the memory they cost, the CPU over IDLE_S s while they are held, then one query each.
idle_run() {
  local path=$1 n=$IDLE_N host port pid f cpu0 cpu1 base held rss0 rss1 t0 t1 flows mem kern=null maps=null i
  [ "$path" = haproxy ] && n=$HA_IDLE_N
  read -r host port <<< "${TARGET[$path]}"
  f=$WORK/idle-$path.out
  pid=$(lb_pid "$path")
  cpu0=$(idle_cpu_ns "$path"); t0=$(date +%s%N); sleep "$IDLE_S"
  cpu1=$(idle_cpu_ns "$path"); t1=$(date +%s%N)
  base=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$((t1 - t0))" 'BEGIN { printf "%.3f", (b - a) / t * 1000 }')
  rss0=$(proc_rss_bytes "$pid")
  in_node client env PGPASSWORD=app-secret "$BUILD/tools/pgs_idle" "$host" "$port" "$n" 900 > "$f" 2> "$f.err" &
  local bg=$! qpid
  # Logging in IDLE_N sessions takes a while on a loaded machine (SCRAM); bounded at 600 s.
  for ((i = 0; i < 6000; i++)); do
    grep -q '^# holding' "$f" 2>/dev/null && break
    kill -0 "$bg" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^# holding' "$f"; then
    say "idle run $path: the sessions did not come up: $(tail -3 "$f.err" | tr '\n' ' ')"
    kill "$(pgrep -P "$bg")" "$bg" 2>/dev/null; wait "$bg" 2>/dev/null
    printf '%s\t%s\tnull\tnull\tnull\tnull\tnull\tnull\tnull\tnull\tnull\t%s\n' "$path" "$n" "$base" >> "$WORK/idle.tsv"
    return 0
  fi
  sleep 1
  flows=$(idle_flows "$path")
  rss1=$(proc_rss_bytes "$pid")
  cpu0=$(idle_cpu_ns "$path"); t0=$(date +%s%N); sleep "$IDLE_S"
  cpu1=$(idle_cpu_ns "$path"); t1=$(date +%s%N)
  held=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$((t1 - t0))" 'BEGIN { printf "%.3f", (b - a) / t * 1000 }')
  if [ "$path" = haproxy ]; then kern=$(haproxy_kernel_bytes "$flows"); else maps=$(pgsteer_map_bytes); fi
  # The tool's own PID (it runs under the function's subshell and nsenter): SIGUSR1 ends its hold.
  qpid=$(awk '/^# holding/ { print $3 }' "$f")
  kill -USR1 "$qpid"; wait "$bg" || true
  read -r _ _ conn _ failed _ ms <<< "$(grep '^# connected' "$f")"
  read -r _ _ answered _ _ <<< "$(grep '^# answered' "$f" || echo "# answered null of")"
  mem=$(awk -v a="$rss0" -v b="$rss1" -v n="$flows" 'BEGIN { if (!n) print "null"; else printf "%.0f", (b - a) / n }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$path" "$n" "$conn" "$failed" "$ms" "$answered" "$flows" \
    "$mem" "$maps" "$kern" "$held" "$base" >> "$WORK/idle.tsv"
  say "$(printf 'idle     %-8s %s sessions: %s up (%s failed) in %s ms, %s answered after %s s; LB holds %s; per flow: RSS %s B, maps %s B, kernel %s B; CPU ms/s idle: %s held, %s empty' \
    "$path" "$n" "$conn" "$failed" "$ms" "$answered" "$IDLE_S" "$flows" "$mem" "$maps" "$kern" "$held" "$base")"
}

# One pgbench -S run of PATH at CLIENTS (CONNECT=1: -C), writing per-transaction logs under DIR;
# prints "tps transactions". "direct" runs one pgbench per PgBouncer at once, the clients split.
run_pgbench() {
  local path=$1 clients=$2 connect=$3 dir=$4 host port i n c pids=() flags=(-n -S)
  [ "$connect" = 1 ] && flags+=(-C)
  if [ "$path" = direct ]; then
    n=0
    for port in $PGB_PORTS; do
      c=$((clients / 3 + (n < clients % 3)))
      n=$((n + 1))
      [ $c -gt 0 ] || continue
      in_node client env PGPASSWORD=app-secret pgbench "${flags[@]}" -c $c -j 1 -T "$SECS" --log --log-prefix="$dir/log$n" \
        -h "$PGB_ADDR" -p "$port" -U app app > "$dir/out$n" 2>&1 &
      pids+=($!)
    done
  else
    read -r host port <<< "${TARGET[$path]}"
    in_node client env PGPASSWORD=app-secret pgbench "${flags[@]}" -c "$clients" -j $((clients < 2 ? 1 : 2)) -T "$SECS" \
      --log --log-prefix="$dir/log1" -h "$host" -p "$port" -U app app > "$dir/out1" 2>&1 &
    pids+=($!)
  fi
  for i in "${pids[@]}"; do wait "$i" || true; done
  # Summed TPS and transactions of the pgbench runs; each must have succeeded.
  local figures=""
  for i in "$dir"/out*; do
    figures+=$(awk -F'= ' '/^tps/ { split($2, a, " "); tps = a[1] } /number of transactions actually processed/ {
      split($0, b, ": "); split(b[2], c, "/"); n = c[1] } /number of failed transactions: [1-9]/ { bad = 1 }
      END { if (tps == "" || bad) exit 1; print tps, n }' "$i")$'\n' ||
      { say "pgbench failed ($path, $clients clients):"; tail -5 "$i" >&2; return 1; }
  done
  awk 'NF { tps += $1; n += $2 } END { print tps, n }' <<< "$figures"
}

# p50 and p99 in ms of the transactions logged under DIR (column 3: latency in µs).
latency_pcts() {
  cat "$1"/log* | awk '{ print $3 }' | sort -n -S 64M | awk '{ v[NR] = $1 }
    END {
      if (!NR) { print "null null"; exit }
      a = int(NR * 0.50); if (a < 1) a = 1
      b = int(NR * 0.99); if (b < 1) b = 1
      printf "%.3f %.3f\n", v[a] / 1000, v[b] / 1000
    }'
}

# One measured run: appends a row to the samples and prints it.
measure() {
  local round=$1 path=$2 clients=$3 connect=$4 dir c0 c1 tps n p50 p99 cpu
  dir=$(mktemp -d "$WORK/run.XXXXXX")
  c0=$(lb_cpu_ns "$path")
  if ! read -r tps n <<< "$(run_pgbench "$path" "$clients" "$connect" "$dir")" || [ -z "$tps" ]; then
    printf '%s\t%s\t%s\t%s\tnull\tnull\tnull\tnull\n' "$round" "$path" "$clients" "$connect" >> "$WORK/samples.tsv"
    rm -rf "$dir"
    return 0
  fi
  c1=$(lb_cpu_ns "$path")
  read -r p50 p99 <<< "$(latency_pcts "$dir")"
  cpu=$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { if (a == "null" || !n) print "null"; else printf "%.2f", (b - a) / n / 1000 }')
  rm -rf "$dir"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$path" "$clients" "$connect" "$tps" "$p50" "$p99" "$cpu" >> "$WORK/samples.tsv"
  say "$(printf 'round %s  %-8s %3s clients%s %9.1f tps  p50 %7s ms  p99 %7s ms  LB %s us/tx' "$round" "$path" "$clients" \
    "$([ "$connect" = 1 ] && echo ' -C' || echo '   ')" "$tps" "$p50" "$p99" "$cpu")"
}

# Every workload of the paths in ACTIVE, the paths interleaved within each workload.
run_half() {
  local round=$1 c p
  shift
  for c in $CLIENTS; do for p in "$@"; do measure "$round" "$p" "$c" 0; done; done
  for p in "$@"; do measure "$round" "$p" 8 1; done
}

has_path() { [[ " $PATHS " == *" $1 "* ]] && [ -z "${SKIPPED[$1]:-}" ]; }

"$LAB" down > /dev/null 2>&1 || true
if [ "$IDLE_N" -gt 0 ]; then
  # The lab's processes inherit this shell's hard file limit; raising it needs CAP_SYS_RESOURCE, which
  # a container may not have. pgsteer holds no descriptor for a flow, each PgBouncer one a session (it
  # may get all of them), HAProxy two (client and server side): where the limit is short of that,
  # HAProxy's run holds what fits and says so.
  nofile=$(ulimit -Hn)
  if [ "$nofile" != unlimited ] && [ "$nofile" -lt $((2 * IDLE_N + 2048)) ]; then
    ulimit -Hn $((2 * IDLE_N + 2048)) 2> /dev/null || true
  fi
  nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=$((2 * IDLE_N + 2048))
  ulimit -n "$nofile"
  HA_IDLE_N=$(( IDLE_N < (nofile - 1024) / 2 ? IDLE_N : (nofile - 1024) / 2 ))
  [ "$HA_IDLE_N" = "$IDLE_N" ] ||
    say "idle run: HAProxy holds $HA_IDLE_N sessions, not $IDLE_N: two descriptors a session, and the hard file limit here is $nofile"
  export LAB_PGB_MAX_CLIENT=$((IDLE_N + 500)) LAB_PGB_NOFILE=$(( IDLE_N + 1024 < nofile ? IDLE_N + 1024 : nofile ))
  export LAB_HAPROXY_MAXCONN=$((HA_IDLE_N + 200))
fi
say "bringing the lab up (LAB_NS=$LAB_NS, XDP)"
ATTACH=xdp "$LAB" up > /dev/null
mkdir -p "$WORK" "$OUT"
: > "$WORK/samples.tsv"; : > "$WORK/idle.tsv"
has_path haproxy && "$LAB" haproxy start > /dev/null
if has_path ipvs; then ipvs_start || say "ipvs skipped: ${SKIPPED[ipvs]}"; fi
has_path nat && nat_start
has_path fwd && fwd_start

# The kernel's run-time stats for BPF programs cost ~40 ns a run: on for the CPU figures, for every path alike.
echo 1 > /proc/sys/kernel/bpf_stats_enabled
others=()
for p in direct xdp haproxy ipvs nat fwd; do has_path "$p" && others+=("$p"); done
for round in $(seq 1 "$ROUNDS"); do
  # The TC half goes first every other round, so neither half always runs on a warmer machine.
  halves="xdp tc"; [ $((round % 2)) = 0 ] && halves="tc xdp"
  for mode in $halves; do
    if [ "$mode" = tc ]; then
      has_path tc || continue
      set_attach tc
      run_half "$round" tc
    elif [ ${#others[@]} -gt 0 ]; then
      set_attach xdp
      run_half "$round" "${others[@]}"
    fi
  done
done
set_attach xdp
if [ "$IDLE_N" -gt 0 ]; then
  for p in xdp haproxy; do has_path "$p" && idle_run "$p"; done
fi
echo "$stats_was" > /proc/sys/kernel/bpf_stats_enabled

# New connections through XDP with syn-cookies auto (the default: no flood, no cookie) and always
# (every handshake through a cookie): pgbench -S -C at 8 clients, interleaved, medians of ROUNDS.
# Printed and kept in $OUT/syncookies.txt; the service's config is back to auto after.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "null" }'; }
if has_path xdp; then
  declare -A CK=([auto]="" [always]="")
  for round in $(seq 1 "$ROUNDS"); do
    for mode in auto always; do
      sed -i '/^    syn-cookies /d' "$LAB_DIR/lb1/pgsteerd.conf"
      [ $mode = auto ] || sed -i "/^service pgsql/a\\    syn-cookies $mode" "$LAB_DIR/lb1/pgsteerd.conf"
      "$LAB" exec lb1 pgsteer reload > /dev/null
      d=$(mktemp -d "$WORK/run.XXXXXX")
      read -r tps _ <<< "$(run_pgbench xdp 8 1 "$d")" && CK[$mode]+="$tps "
      rm -rf "$d"
    done
  done
  sed -i '/^    syn-cookies /d' "$LAB_DIR/lb1/pgsteerd.conf"
  "$LAB" exec lb1 pgsteer reload > /dev/null
  # shellcheck disable=SC2086
  say "$(printf 'xdp, new connections (pgbench -S -C, 8 clients): syn-cookies auto %s tps, always %s tps (medians of %s)' \
    "$(median ${CK[auto]})" "$(median ${CK[always]})" "$ROUNDS" | tee "$OUT/syncookies.txt")"
fi

if [ "$PKTBENCH" = 1 ]; then
  say "ns per packet (BPF_PROG_TEST_RUN)"
  "$BUILD/tools/pgs_pktbench" > "$WORK/pktbench.txt"
else
  rm -f "$WORK/pktbench.txt"
fi
for p in "${!SKIPPED[@]}"; do printf '%s\t%s\n' "$p" "${SKIPPED[$p]}"; done > "$WORK/skipped.tsv"
{
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) CPUs at the end; $(uname -r)"
  echo "cpu: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
} > "$WORK/machine.txt"
python3 "$top/scripts/bench_report.py" --work "$WORK" --out "$OUT" --seconds "$SECS" --rounds "$ROUNDS" --paths "$PATHS" \
  --idle-seconds "$IDLE_S"
