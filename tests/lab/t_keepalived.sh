#!/usr/bin/env bash
# VRRP interop with Debian's keepalived 2.2 (vrrp_version 3) as the other node, in place of lb2's
# pgsteerd: failover both ways, never two masters, in multicast and in unicast mode.
# ONCE=1
set -uo pipefail
. "$(dirname "$0")/lib.sh"
KA=$LAB_DIR_TEST/keepalived
conf1=$LAB_DIR_TEST/lb1/pgsteerd.conf
mkdir -p "$KA"; chmod 755 "$KA"
cp "$conf1" "$KA/lb1.conf.orig"

ka_state() { cat "$KA/state" 2>/dev/null; }
# keepalived advertises at the lab's interval (advert-interval of lb1's config, e.g. 300ms).
KA_ADVERT=$(awk '$1 == "advert-interval" { print $2 }' "$conf1")

cat > "$KA/notify.sh" <<'SH'
#!/bin/sh
# keepalived notify: $1 INSTANCE|GROUP, $2 name, $3 state
echo "$3" > "$(dirname "$0")/state"
SH
chmod 755 "$KA/notify.sh"

# The lab's keepalived config (scripts/lab/keepalived.sh) for lb2, priority 100 under lb1's 101.
# shellcheck source=../../scripts/lab/keepalived.sh
. "$TOP/scripts/lab/keepalived.sh"
ka_conf() { # $1: multicast|unicast
  local uni=()
  [ "$1" = unicast ] && uni=(10.100.1.11 10.100.1.10)
  keepalived_conf "$VIP/24" 100 "$KA_ADVERT" "$KA/notify.sh" "${uni[@]}" > "$KA/keepalived.conf"
}
ka_start() {
  # A crashed keepalived leaves its pid files, and its killed children may not be reaped yet
  # (PID 1 reaps slowly here): it would refuse to start ("daemon is already running").
  rm -f "$KA/state" "$KA/keepalived.pid" "$KA/vrrp.pid"
  "$LAB" exec lb2 keepalived -n -l -D --vrrp -f "$KA/keepalived.conf" -p "$KA/keepalived.pid" \
    -r "$KA/vrrp.pid" > "$KA/keepalived.log" 2>&1 &
  KA_PID=$!
  BG_PIDS+=($KA_PID)
  wait_until 30 test -s "$KA/state"
}
# A crash (crash_lb): lb2's link cut, then keepalived's VRRP child and its parent killed.
ka_crash() {
  local kids
  kids=$(pgrep -P "$KA_PID" keepalived | xargs)
  # shellcheck disable=SC2086
  crash_lb lb2 $kids "$KA_PID"
  wait "$KA_PID" 2>/dev/null
}

# Who holds the VIP, sampled every 20 ms (both nodes at nearly the same instant, see vipholders.py).
samples=$(mktemp -u)
vip_sampler_start "$samples"

lab kill lb2 TERM > /dev/null
for mode in multicast unicast; do
  if [ $mode = unicast ]; then
    sed -i 's/^vrrp$/vrrp\n    unicast-peer    10.100.1.11 name lb2/' "$conf1"
    on lb1 pgsteer restart > /dev/null
  fi
  ka_conf $mode
  ka_start
  wait_eval 30 '[ "$(ka_state)" = BACKUP ] && [ "$(vrrp_of lb1 state)" = MASTER ]'
  check "${mode}_pgsteerd_master_keepalived_backup" eval '[ "$(ka_state)" = BACKUP ] && holds_vip lb1 && ! holds_vip lb2'

  # pgsteerd crashes: keepalived takes over.
  t0=$(mono_ms)
  crash_lb lb1
  wait_until 30 holds_vip lb2
  t1=$(( $(mono_ms) - t0 ))
  check "${mode}_keepalived_takes_over_crashed_pgsteerd" eval '[ "$(ka_state)" = MASTER ] && holds_vip lb2'
  # pgsteerd comes back with preempt (the lab's default is nopreempt) and preempts (101 over 100).
  sed -i 's/^    nopreempt$/    preempt/' "$conf1"
  return_lb lb1
  wait_eval 30 '[ "$(vrrp_of lb1 state)" = MASTER ] && [ "$(ka_state)" = BACKUP ]'
  check "${mode}_pgsteerd_preempts_keepalived" eval 'holds_vip lb1 && ! holds_vip lb2 && [ "$(ka_state)" = BACKUP ]'

  # pgsteerd stops gracefully: priority 0, keepalived takes over for that reason (it logs "Backup
  # received priority 0 advertisement"), not because pgsteerd went silent.
  ka_from=$(stat -c %s "$KA/keepalived.log")
  t0=$(mono_ms)
  lab kill lb1 TERM > /dev/null &
  killer=$!
  wait_until 30 holds_vip lb2
  t2=$(( $(mono_ms) - t0 ))
  wait $killer
  wait_eval 30 '[ "$(ka_state)" = MASTER ]'
  check "${mode}_keepalived_takes_over_graceful_stop" eval '[ "$(ka_state)" = MASTER ] && holds_vip lb2 &&
    tail -c +$((ka_from + 1)) "$KA/keepalived.log" | grep -q "received priority 0"'

  # The other way: pgsteerd returns without preempting (nopreempt again), keepalived crashes,
  # pgsteerd takes over.
  sed -i 's/^    preempt$/    nopreempt/' "$conf1"
  lab start lb1 > /dev/null
  wait_eval 30 '[ "$(vrrp_of lb1 state)" = BACKUP ] && [ "$(vrrp_of lb1 master)" = 10.100.1.11 ]'
  check "${mode}_pgsteerd_backup_under_keepalived" eval '[ "$(vrrp_of lb1 state)" = BACKUP ] && [ "$(vrrp_of lb1 master)" = 10.100.1.11 ]'
  t0=$(mono_ms)
  ka_crash
  wait_until 30 holds_vip lb1
  t3=$(( $(mono_ms) - t0 ))
  check "${mode}_pgsteerd_takes_over_crashed_keepalived" eval '[ "$(vrrp_of lb1 state)" = MASTER ] && holds_vip lb1'
  # keepalived left the VIP behind (SIGKILL): the node comes back as after a reboot.
  ip -n "$(nsof lb2)" addr del "$VIP/24" dev eth0 2>/dev/null
  lab link lb2 up > /dev/null
  echo "    $mode: keepalived took over a crashed pgsteerd in $t1 ms, a stopped one in $t2 ms; pgsteerd took over a crashed keepalived in $t3 ms"
done
check vip_never_on_two_nodes_with_keepalived [ "$(vip_sampler_stop "$samples")" = 0 ]

# Back to the lab as it was.
cp "$KA/lb1.conf.orig" "$conf1"
on lb1 pgsteer restart > /dev/null
lab start lb2 > /dev/null
wait_eval 30 '[ "$(vrrp_of lb1 state)/$(vrrp_of lb2 state)" = MASTER/BACKUP ]'
