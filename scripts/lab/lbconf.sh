#!/usr/bin/env bash
# Print the pgsteerd config of lab node lb1 or lb2 (env: ATTACH=xdp|tc, VRRP=0|1, LB_EXTRA, LB_GLOBAL_EXTRA, LAB_DIR).
#
# usage: lbconf.sh lb1|lb2
# VRRP=1 (default) adds a vrrp section (vrid 51, priority 101 on lb1, 100 on lb2, adverts every
# LAB_ADVERT (default 300ms), VIP 10.100.1.100/24, the other node named, nopreempt as the seed's flow 3
# and the example config have it: a returning node stays backup; PREEMPT=1 for preempt instead;
# VRRP_EXTRA: more lines for it);
# 300ms keeps a loaded 2-core machine (a test run beside other work, the sanitized daemon) from
# false failovers: a backup gives up after 3 intervals plus skew, about 1.1 s, where 100ms adverts
# left 360 ms, less than one slow loop turn of a starved process. A test that measures fast takeover
# sets its own (LAB_ADVERT, or advert-interval in the config as bench_failover.sh does).
# VRRP=0 leaves it out: the lab then puts the VIP on lb1 statically.
# LB_EXTRA: newline-separated lines appended to the service section; LB_GLOBAL_EXTRA: to global.
# Every lab node logs connections to $LAB_DIR/NODE/connections.log (t_flows reads it) and names
# $LAB_DIR/NODE/pgb-admin, the PgBouncers' admin login (services.sh writes it; pgsteer clients).
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Print the pgsteerd config of NODE.
lbconf() {
  local node=$1 prio pgb servers="" item preempt=nopreempt
  case $node in
    lb1) prio=101 ;;
    lb2) prio=100 ;;
    *) die "usage: lbconf.sh lb1|lb2 (got '$node')" ;;
  esac
  [ "${PREEMPT:-0}" = 1 ] && preempt=preempt
  case ${ATTACH:-xdp} in xdp|tc) ;; *) die "ATTACH must be xdp or tc (got '$ATTACH')" ;; esac
  for item in $LAB_PGB_INSTANCES; do
    pgb=${item%%:*}
    servers+="$pgb=${LAB_ADDR[pgb]}:${item#*:} "
  done
  LB_NODE=$node LB_IFACE=eth0 LB_ATTACH=${ATTACH:-xdp} \
    LB_PIN_ROOT="$(lab_pin_root "$node")" \
    LB_SOCKET=$LAB_DIR/$node/pgsteerd.sock \
    LB_STATS=0.0.0.0:$LAB_STATS_PORT \
    LB_STATE_DIR=$LAB_DIR/$node/state \
    LB_WEBHOOK_FILE=$LAB_DIR/$node/slack-webhook \
    LB_VRRP=${VRRP:-1} LB_VRID=51 LB_PRIORITY=$prio LB_ADVERT=${LAB_ADVERT:-300ms} \
    LB_PEER_NAMES="lb1=${LAB_ADDR[lb1]} lb2=${LAB_ADDR[lb2]}" LB_VRRP_EXTRA="$preempt${VRRP_EXTRA:+
$VRRP_EXTRA}" \
    LB_VIP=$LAB_VIP/$LAB_PREFIX LB_BIND=$LAB_VIP:5432 LB_BALANCE=leastconn \
    LB_CHECK="pgsql inter 1s fall 3 rise 2 timeout 1s" \
    LB_SERVERS="$servers" LB_EXTRA="${LB_EXTRA:-}" LB_GLOBAL_EXTRA="log connections file $LAB_DIR/$node/connections.log
admin-credentials $LAB_DIR/$node/pgb-admin${LB_GLOBAL_EXTRA:+
$LB_GLOBAL_EXTRA}" \
    "$PROVISION/lb.sh" conf
}

[ $# -eq 1 ] || die "usage: lbconf.sh lb1|lb2"
lbconf "$1"
