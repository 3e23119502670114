#!/bin/bash
# VRRPv3 interop: pgsteer's VRRP instance (build/tools/vrrp_node) against keepalived 2.2
# (vrrp_version 3) on a bridge in vt-* network namespaces, multicast and unicast, each side master
# in turn. Who holds the VIP is sampled every 20 ms during every transition: never two at once.
# Measures failover times (median of 3) for a graceful stop, a crash, a fault, and preemption.
# Root. Prints PASS/FAIL lines and "N passed, N failed". Nothing is added to the root namespace.
#
#   tests/interop/vrrp_keepalived.sh   (BUILD=build or NODE=path/to/vrrp_node; ROUNDS=3; KEEP=1 keeps logs)
set -u

BUILD=${BUILD:-build}
NODE=${NODE:-$BUILD/tools/vrrp_node}
KEEPALIVED=${KEEPALIVED:-keepalived}
ROUNDS=${ROUNDS:-3}
ADVERT_MS=100

SW=vt-sw N1=vt-n1 N2=vt-n2 CL=vt-cl      # switch, ours, keepalived, client
A1=10.77.0.11 A2=10.77.0.12 ACL=10.77.0.2 VIP=10.77.0.100 VRID=77
WORK=$(mktemp -d /tmp/vt-vrrp.XXXXXX)
NODE_PID= KA_PID=
passed=0 failed=0
declare -A TIMES=()

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name" "${WHY:-check failed}"; fi; WHY=; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
msleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# A process we started is alive: exists and is not a zombie (PID 1 here reaps slowly).
alive() {
	local st
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# Kill one of our processes by PID and wait (bounded) until it is gone.
stop_pid() {
	local pid=$1 sig=$2 i
	alive "$pid" || return 0
	kill "-$sig" "$pid" 2>/dev/null
	for i in $(seq 1 100); do alive "$pid" || return 0; msleep 20; done
	kill -KILL "$pid" 2>/dev/null
	for i in $(seq 1 100); do alive "$pid" || return 0; msleep 20; done
	return 1
}

cleanup() {
	stop_node TERM
	stop_ka TERM
	for ns in $CL $N2 $N1 $SW; do ip netns del "$ns" 2>/dev/null; done
	if [ -n "${KEEP:-}" ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM

net_up() {
	local ns
	for ns in $SW $N1 $N2 $CL; do ip netns add "$ns" || return 1; ip -n "$ns" link set lo up; done
	ip -n $SW link add br0 type bridge && ip -n $SW link set br0 up || return 1
	ip -n $SW link add p1 type veth peer name eth0 netns $N1 &&
	ip -n $SW link add p2 type veth peer name eth0 netns $N2 &&
	ip -n $SW link add p3 type veth peer name eth0 netns $CL || return 1
	for p in p1 p2 p3; do ip -n $SW link set $p master br0 && ip -n $SW link set $p up || return 1; done
	ip -n $N1 addr add $A1/24 dev eth0 && ip -n $N1 link set eth0 up &&
	ip -n $N2 addr add $A2/24 dev eth0 && ip -n $N2 link set eth0 up &&
	ip -n $CL addr add $ACL/24 dev eth0 && ip -n $CL link set eth0 up || return 1
	# The client learns the VIP's MAC from gratuitous ARP alone.
	ip netns exec $CL sysctl -qw net.ipv4.conf.all.arp_accept=1 net.ipv4.conf.eth0.arp_accept=1
}

mac_of() { ip -n "$1" -o link show dev eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }
# The node's eth0 is up and carries the VIP (a node whose link is down holds nothing reachable).
has_vip() { ip -n "$1" -4 -o addr show dev eth0 up | grep -q " $VIP/"; }

# Who holds the VIP: "", "n1", "n2", or "n1 n2" only when n1 held it both before and after n2 was
# seen holding it (so the few ms between two looks cannot fake an overlap).
holders() {
	local a= b= c=
	has_vip $N1 && a=1
	has_vip $N2 && b=1
	has_vip $N1 && c=1
	if [ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ]; then echo "n1 n2"
	elif [ -n "$c" ] && [ -z "$b" ]; then echo n1
	elif [ -n "$b" ] && [ -z "$c" ]; then echo n2
	elif [ -n "$b" ]; then echo "n2 n1?"   # an overlap that could not be confirmed: sample again
	fi
}

# Sample holders every 20 ms until exactly $1 holds the VIP (bounded by $2 ms). Sets ELAPSED to
# the ms since $3 (epoch ms), -1 on time-out, and DOUBLE=1 if any sample saw two holders.
wait_holder() {
	local want=$1 limit=$2 t0=$3 h t
	while :; do
		h=$(holders)
		[ "$h" = "n1 n2" ] && DOUBLE=1
		t=$(now_ms)
		if [ "$h" = "$want" ]; then ELAPSED=$((t - t0)); return 0; fi
		[ $((t - t0)) -gt "$limit" ] && { ELAPSED=-1; return 1; }
		msleep 20
	done
}

# Keep sampling for $1 ms after a transition: the holder must stay $2, never two.
steady() {
	local until=$(($(now_ms) + $1)) h
	while [ "$(now_ms)" -lt $until ]; do
		h=$(holders)
		[ "$h" = "n1 n2" ] && DOUBLE=1
		[ "$h" = "$2" ] || { WHY="holder '$h', expected '$2'"; return 1; }
		msleep 20
	done
}

# --- configurations -------------------------------------------------------------------------------

# node_conf PRIO MODE [extra vrrp lines]
node_conf() {
	{
		echo "global"
		echo "    interface eth0"
		echo "    stats none"
		echo "vrrp"
		echo "    vrid $VRID"
		echo "    priority $1"
		echo "    advert-interval ${ADVERT_MS}ms"
		echo "    vip $VIP/24"
		echo "    garp-delay 1s"
		if [ "$2" = unicast ]; then echo "    unicast-peer $A2"; fi
		[ $# -ge 3 ] && printf '    %s\n' "${@:3}"
		echo "service pgsql"
		echo "    bind $VIP:5432"
		echo "    server pgb1 10.77.0.50:6432"
	} >"$WORK/node.conf"
}

# ka_conf PRIO MODE [extra instance lines]
ka_conf() {
	cat >"$WORK/ka-notify.sh" <<EOF
#!/bin/sh
# keepalived notify: \$1 type, \$2 name, \$3 state, \$4 priority
t=\$(date +%s%3N)
echo "\$t \$3" >>"$WORK/ka.state"
EOF
	chmod 755 "$WORK/ka-notify.sh"
	{
		echo "global_defs {"
		echo "    vrrp_version 3"
		echo "    script_user root"
		echo "    vrrp_garp_master_delay 1"
		echo "}"
		echo "vrrp_instance VI_1 {"
		echo "    state BACKUP"
		echo "    interface eth0"
		echo "    virtual_router_id $VRID"
		echo "    priority $1"
		printf '    advert_int %d.%02d\n' $((ADVERT_MS / 1000)) $((ADVERT_MS % 1000 / 10))
		echo "    notify $WORK/ka-notify.sh"
		if [ "$2" = unicast ]; then
			echo "    unicast_src_ip $A2"
			echo "    unicast_peer {"
			echo "        $A1"
			echo "    }"
		fi
		[ $# -ge 3 ] && printf '    %s\n' "${@:3}"
		echo "    virtual_ipaddress {"
		echo "        $VIP/24 dev eth0"
		echo "    }"
		echo "}"
	} >"$WORK/ka.conf"
}

# --- the two nodes ------------------------------------------------------------------------------------

start_node() {
	: >>"$WORK/node.state"
	ip netns exec $N1 "$NODE" -f "$WORK/node.conf" -s "$WORK/node.state" -v >>"$WORK/node.log" 2>&1 &
	NODE_PID=$!
	disown "$NODE_PID"
}

stop_node() {
	[ -n "$NODE_PID" ] || return 0
	stop_pid "$NODE_PID" "$1"
	NODE_PID=
}

start_ka() {
	: >>"$WORK/ka.state"
	ip netns exec $N2 "$KEEPALIVED" -n -R -l -D -P -f "$WORK/ka.conf" -p "$WORK/ka.pid" -r "$WORK/ka-vrrp.pid" \
		-c "$WORK/ka-chk.pid" >>"$WORK/ka.log" 2>&1 &
	KA_PID=$!
	disown "$KA_PID"
}

# TERM: keepalived's graceful stop (priority 0). KILL: a crash, the VRRP child first (-R: the
# parent does not respawn it). A child is ours only if its command line names our config.
ka_child() {
	local child
	child=$(cat "$WORK/ka-vrrp.pid" 2>/dev/null)
	[ -n "$child" ] && alive "$child" && tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null | grep -q -- "$WORK/ka.conf" &&
		echo "$child"
}

stop_ka() {
	local child
	[ -n "$KA_PID" ] || return 0
	child=$(ka_child)
	[ "$1" = KILL ] && [ -n "$child" ] && stop_pid "$child" KILL
	stop_pid "$KA_PID" "$1"
	child=$(ka_child)
	[ -n "$child" ] && stop_pid "$child" KILL
	KA_PID=
}

# The last state a node reported: ours from vrrp_node -s, keepalived's from its notify script.
node_state() { tail -n 1 "$WORK/node.state" 2>/dev/null | awk '{print $2}'; }
ka_state() { tail -n 1 "$WORK/ka.state" 2>/dev/null | awk '{print $2}'; }

# Bring both up in the given roles and wait for the expected holder.
pair_up() { # MODE OUR_PRIO KA_PRIO HOLDER [extra node lines]
	stop_node TERM; stop_ka TERM
	node_conf "$2" "$1" "${@:5}"
	ka_conf "$3" "$1"
	: >"$WORK/node.state"; : >"$WORK/ka.state"
	start_ka
	wait_file "$WORK/ka.state" BACKUP 5000 || { WHY="keepalived did not start"; return 1; }
	start_node
	DOUBLE=0
	wait_holder "$4" 5000 "$(now_ms)" || { WHY="holder '$(holders)' after 5 s"; return 1; }
	steady 500 "$4" && [ "$DOUBLE" = 0 ]
}

client_mac_for_vip() {
	ip -n $CL neigh show $VIP dev eth0 | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p'
}

# Wait (bounded, in ms) until FILE contains WORD.
wait_file() {
	local i
	for i in $(seq 1 $(($3 / 20))); do grep -qw "$2" "$1" 2>/dev/null && return 0; msleep 20; done
	return 1
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

record() { # KEY MS
	TIMES[$1]="${TIMES[$1]:-} $2"
}

# One failover: run ACTION, wait for WANT to hold the VIP; record and check it.
failover() { # NAME KEY WANT LIMIT_MS ACTION...
	local name=$1 key=$2 want=$3 limit=$4 t0 ms
	shift 4
	DOUBLE=0
	t0=$(now_ms)
	"$@"
	wait_holder "$want" 5000 "$t0"
	ms=$ELAPSED
	if [ "$ms" -lt 0 ]; then
		fail "$name" "holder '$(holders)' after 5 s, want $want"
		return 1
	fi
	record "$key" "$ms"
	steady 300 "$want" || { fail "$name" "$WHY"; return 1; }
	if [ "$DOUBLE" = 1 ]; then
		fail "$name" "two nodes held the VIP at once"
	elif [ "$ms" -gt "$limit" ]; then
		fail "$name" "took $ms ms (limit $limit ms)"
	else
		pass "$name ($ms ms)"
	fi
}

crash_node() { stop_node KILL; ip -n $N1 link set eth0 down; }
crash_ka() { stop_ka KILL; ip -n $N2 link set eth0 down; }
# A rebooted keepalived node: SIGKILL left the VIP on its interface; a reboot would not.
reboot_ka() { ip -n $N2 addr del $VIP/24 dev eth0 2>/dev/null; ip -n $N2 link set eth0 up; start_ka; }
# Our node restarts while its link is still down (FAULT, stale VIP removed), then the link returns.
reboot_node() { start_node; msleep 300; ip -n $N1 link set eth0 up; }

# --- scenarios -------------------------------------------------------------------------------------

ours_master() { # MODE
	local m=$1 i
	check "$m: pgsteer (101) master, keepalived (100) backup" pair_up "$m" 101 100 n1
	check "$m: states agree (pgsteer MASTER, keepalived BACKUP)" \
		test "$(node_state)/$(ka_state)" = "MASTER/BACKUP"
	check "$m: client learnt the VIP at pgsteer's MAC (GARP)" test "$(client_mac_for_vip)" = "$(mac_of $N1)"
	for i in $(seq 1 "$ROUNDS"); do
		failover "$m: graceful stop of pgsteer, keepalived takes over #$i" "$m:ka-after-graceful" n2 600 \
			kill -TERM "$NODE_PID"
		stop_node TERM
		failover "$m: pgsteer restarts and preempts #$i" "$m:pgsteer-preempt" n1 1500 start_node
	done
	check "$m: client follows the VIP back to pgsteer's MAC" test "$(client_mac_for_vip)" = "$(mac_of $N1)"
	for i in $(seq 1 "$ROUNDS"); do
		failover "$m: crash of pgsteer (kill -9, link down), keepalived takes over #$i" \
			"$m:ka-after-crash" n2 1000 crash_node
		check "$m: client moved to keepalived's MAC #$i" test "$(client_mac_for_vip)" = "$(mac_of $N2)"
		failover "$m: pgsteer reboots (FAULT while link down) and preempts #$i" "$m:pgsteer-reboot" n1 2500 \
			reboot_node
	done
	WHY="pgsteer states: $(awk '{print $2}' "$WORK/node.state" | tail -n 4 | tr '\n' ' ')"
	check "$m: pgsteer went FAULT -> BACKUP -> MASTER on reboot" \
		sh -c "awk '{print \$2}' '$WORK/node.state' | tail -n 3 | tr '\n' ' ' | grep -q 'FAULT BACKUP MASTER'"
	for i in $(seq 1 "$ROUNDS"); do
		failover "$m: pgsteer's link goes down as master, keepalived takes over #$i" "$m:ka-after-linkdown" n2 1000 \
			ip -n $N1 link set eth0 down
		check "$m: pgsteer in FAULT with no VIP #$i" sh -c "[ \"\$(tail -n1 '$WORK/node.state' | awk '{print \$2}')\" = FAULT ] && ! ip -n $N1 -4 -o addr show dev eth0 | grep -q ' $VIP/'"
		failover "$m: link back, pgsteer preempts #$i" "$m:pgsteer-linkup" n1 1500 ip -n $N1 link set eth0 up
	done
	for i in $(seq 1 "$ROUNDS"); do
		failover "$m: datapath fault on pgsteer (priority 0), keepalived takes over #$i" \
			"$m:ka-after-fault" n2 600 kill -USR1 "$NODE_PID"
		failover "$m: fault cleared, pgsteer preempts #$i" "$m:pgsteer-unfault" n1 1500 kill -USR2 "$NODE_PID"
	done
}

ka_master() { # MODE
	local m=$1 i
	check "$m: keepalived (101) master, pgsteer (100) backup" pair_up "$m" 100 101 n2
	check "$m: states agree (keepalived MASTER, pgsteer BACKUP)" \
		test "$(ka_state)/$(node_state)" = "MASTER/BACKUP"
	for i in $(seq 1 "$ROUNDS"); do
		failover "$m: graceful stop of keepalived, pgsteer takes over #$i" "$m:pgsteer-after-graceful" n1 600 \
			kill -TERM "$KA_PID"
		stop_ka TERM
		check "$m: pgsteer took over on keepalived's priority 0 #$i" \
			grep -q "MASTER priority 0 from $A2" "$WORK/node.state"
		check "$m: client moved to pgsteer's MAC #$i" test "$(client_mac_for_vip)" = "$(mac_of $N1)"
		: >"$WORK/node.state"
		failover "$m: keepalived restarts and preempts #$i" "$m:ka-preempt" n2 1500 start_ka
	done
	for i in $(seq 1 "$ROUNDS"); do
		failover "$m: crash of keepalived (kill -9, link down), pgsteer takes over #$i" \
			"$m:pgsteer-after-crash" n1 1000 crash_ka
		failover "$m: keepalived reboots and preempts #$i" "$m:ka-reboot" n2 2500 reboot_ka
	done
	WHY="keepalived log: $(grep -ci 'checksum\|wrong\|ttl' "$WORK/ka.log") complaints"
	check "$m: keepalived never complained about our adverts" \
		sh -c "! grep -qi 'invalid\|wrong VRRP\|checksum\|ttl' '$WORK/ka.log'"
}

# keepalived <= 1.3.6's unicast checksum (pseudo-header with 224.0.0.18): keepalived 2.2 accepts it
# and switches its own to match ("Setting unicast VRRPv3 checksum to old version"); we accept both.
old_unicast() {
	local m=unicast
	check "old-unicast checksum: pgsteer (101) master, keepalived (100) backup" \
		pair_up $m 101 100 n1 "checksum old-unicast"
	check "old-unicast checksum: states agree" test "$(node_state)/$(ka_state)" = "MASTER/BACKUP"
	failover "old-unicast checksum: graceful stop of pgsteer, keepalived takes over" "old-unicast:ka-after-graceful" \
		n2 600 kill -TERM "$NODE_PID"
	stop_node TERM
	failover "old-unicast checksum: pgsteer restarts and preempts" "old-unicast:pgsteer-preempt" n1 1500 start_node
	WHY="vrrp_node log: $(grep -o 'use the [a-z0-9-]* checksum' "$WORK/node.log" | sort -u | tr '\n' ' ')"
	check "old-unicast checksum: keepalived's adverts validated" grep -q "adverts from $A2 use the" "$WORK/node.log"
}

# --- main ------------------------------------------------------------------------------------------

if [ "$(id -u)" != 0 ]; then echo "SKIP vrrp_keepalived: needs root"; exit 0; fi
if ! command -v "$KEEPALIVED" >/dev/null; then echo "SKIP vrrp_keepalived: no keepalived"; exit 0; fi
if [ ! -x "$NODE" ]; then echo "FAIL vrrp_keepalived: $NODE not built"; exit 1; fi
for ns in $SW $N1 $N2 $CL; do
	if ip netns list | grep -qw "$ns"; then echo "FAIL vrrp_keepalived: namespace $ns exists"; trap - EXIT; exit 1; fi
done
check "lab: vt-* namespaces on a bridge" net_up || exit 1

for mode in multicast unicast; do
	ours_master $mode
	ka_master $mode
done
old_unicast

# No process of ours may be left, and the namespaces are removed by the trap.
stop_node TERM; stop_ka TERM
echo "failover times in ms (advert interval ${ADVERT_MS} ms), median of each series:"
for k in $(printf '%s\n' "${!TIMES[@]}" | sort); do
	# shellcheck disable=SC2086
	printf '  %-34s median %4s  [%s ]\n' "$k" "$(median ${TIMES[$k]})" "${TIMES[$k]}"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
