#!/usr/bin/env bash
# systemd's Type=notify protocol, read by a minimal service manager (tests/lab/notifysink.py): the
# backup node runs the installed pgsteerd (make install, started with the installed unit's ExecStart
# options) and it says READY=1 once its datapath is attached and it knows its VRRP role (at
# that moment its runtime socket answers and the VIP takes connections), STATUS= with the role and
# the servers UP, WATCHDOG=1 every half WatchdogSec while it runs, STOPPING=1 on SIGTERM.
# ONCE=1
set -uo pipefail
. "$(dirname "$0")/lib.sh"
dir=$LAB_DIR_TEST/lb2
conf=$dir/pgsteerd.conf
log=$dir/pgsteerd-t_notify.log
sock=$dir/notify.sock
msgs=$dir/notify.msgs
: > "$msgs"
: > "$log"
alive() { kill -0 "$1" 2>/dev/null; }

# The installed layout: make install into a scratch root, the unit's ExecStart options on the lab's config.
inst=$(mktemp -d /tmp/pgsteer-notify-inst.XXXXXX)
trap 'rm -rf "$inst"' EXIT
make -s -C "$TOP" BUILD="${BUILD:-$TOP/build}" install DESTDIR="$inst" PREFIX=/usr > "$inst.log" 2>&1 ||
  { fail installed "make install: $(tail -n 3 "$inst.log")"; rm -f "$inst.log"; exit 0; }
rm -f "$inst.log"
start=$(sed -n 's/^ExecStart=//p' "$inst/usr/lib/systemd/system/pgsteerd.service")
bin=$inst${start%% *}
opts=$(sed -e 's/^[^ ]* //' -e 's/ -f [^ ]*//' <<< "$start")
check_eval installed_unit_runs_installed_pgsteerd '[ "$start" = "/usr/sbin/pgsteerd -d -f /etc/pgsteer/pgsteer.conf" ] && [ -x "$bin" ]'

lab kill lb2 > /dev/null
# What READY=1 promises, checked the moment it arrives.
ON_READY="'$LAB' exec lb2 pgsteer status > /dev/null && \
  [ \"\$('$LAB' exec client psql -h $VIP -U app -d app -X -At -c 'select 1')\" = 1 ]" \
  python3 "$TOP/tests/lab/notifysink.py" "$sock" "$msgs" 40 &
SINK=$!
wait_until 5 test -S "$sock"
t0=$(date +%s%N)
# shellcheck disable=SC2086  # the unit's options, split as systemd splits them
NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 "$LAB" exec lb2 "$bin" $opts -f "$conf" >> "$log" 2>&1 < /dev/null &
PID=$!
check ready_arrives wait_until 20 grep -q ' READY=1$' "$msgs"
check ready_after_the_vip_is_steerable wait_until 10 grep -q ' ON_READY=0$' "$msgs"
check status_names_role_and_servers grep -Eq ' STATUS=VRRP (BACKUP|MASTER); [0-9]+/[0-9]+ servers UP$' "$msgs"
n0=$(grep -c ' WATCHDOG=1$' "$msgs")
sleep 3
n1=$(grep -c ' WATCHDOG=1$' "$msgs")
# Every 500 ms for WatchdogSec=1s: six in 3 s; at least three even on a loaded machine.
check_eval watchdog_keeps_arriving '[ $((n1 - n0)) -ge 3 ]'
echo "    READY=1 after $(awk '/ READY=1$/ { print $1; exit }' "$msgs") ms; $((n1 - n0)) WATCHDOG=1 in 3 s (started $(( ($(date +%s%N) - t0) / 1000000 )) ms ago)"
kill -TERM "$PID"
check stopping_on_sigterm wait_until 15 grep -q ' STOPPING=1$' "$msgs"
wait_until 15 eval "! alive $PID" || kill -KILL "$PID"
wait "$SINK" 2> /dev/null
lab start lb2 > /dev/null
