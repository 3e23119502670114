#!/usr/bin/env bash
# Provision the load-balancer role: kernel settings, pgsteerd's config and webhook file, static VIP.
#
# usage: lb.sh [sysctl|conf|webhook|vip]...
#   sysctl   IPv4 forwarding on $LB_IFACE and "all" (bpf_fib_lookup needs it), ip_nonlocal_bind=1;
#            also written to $LB_SYSCTL_FILE when set (a VM keeps them across reboots)
#   conf     print pgsteerd's config on stdout (syntax: doc/pgsteer.conf.example)
#   webhook  write $LB_WEBHOOK_URL to $LB_WEBHOOK_FILE, mode 600 (the URL is a secret)
#   vip      add $LB_VIP to $LB_IFACE (only when pgsteerd does not run VRRP)
#   start    start pgsteerd in the background unless it runs (where there is no systemd: the Vagrant
#            lab's containers) with the command lines of the installed unit $PGSTEERD_UNIT
#            (ExecStartPre, ExecStart); wait until `pgsteer status` answers on $LB_SOCKET
# env: LB_NODE (node-name, required for conf)  LB_IFACE (default: the interface holding LB_ADDR, else eth0)
#      LB_ATTACH=xdp  LB_PIN_ROOT=/sys/fs/bpf/pgsteer  LB_SOCKET=/run/pgsteer/pgsteerd.sock
#      LB_STATS=0.0.0.0:8404  LB_STATE_DIR=/var/lib/pgsteer  LB_WEBHOOK_FILE=/etc/pgsteer/slack-webhook
#      LB_PEER_NAMES="lb1=ADDR lb2=ADDR" (names for alerts)  LB_VRRP_EXTRA (more vrrp lines)
#      LB_VRRP=0|1  LB_VRID=51  LB_PRIORITY=100  LB_ADVERT=100ms  LB_VIP=CIDR (required for conf and vip)
#      LB_BIND=<vip>:5432  LB_BALANCE=leastconn  LB_CHECK="pgsql inter 1s fall 3 rise 2 timeout 1s"
#      LB_SERVERS="pgb1=HOST:PORT pgb2=HOST:PORT ..." (required for conf)
#      LB_EXTRA / LB_GLOBAL_EXTRA: extra lines for the service / global section (newline-separated)
#      for start: PGSTEERD_UNIT=/usr/local/lib/systemd/system/pgsteerd.service (make install's, or the
#      package's /lib/systemd/system/pgsteerd.service) LB_PIDFILE=/run/pgsteer/pgsteerd.pid
#      LB_LOG=/var/log/pgsteerd.log PGSTEER=/usr/local/sbin/pgsteer
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LOG_TAG=${LOG_TAG:-lb}

LB_ATTACH=${LB_ATTACH:-xdp}
LB_PIN_ROOT=${LB_PIN_ROOT:-/sys/fs/bpf/pgsteer}
LB_SOCKET=${LB_SOCKET:-/run/pgsteer/pgsteerd.sock}
LB_STATS=${LB_STATS:-0.0.0.0:8404}
LB_STATE_DIR=${LB_STATE_DIR:-/var/lib/pgsteer}
LB_WEBHOOK_FILE=${LB_WEBHOOK_FILE:-/etc/pgsteer/slack-webhook}
LB_VRRP=${LB_VRRP:-0}
LB_VRID=${LB_VRID:-51}
LB_PRIORITY=${LB_PRIORITY:-100}
LB_ADVERT=${LB_ADVERT:-100ms}
LB_BALANCE=${LB_BALANCE:-leastconn}
LB_CHECK=${LB_CHECK:-pgsql inter 1s fall 3 rise 2 timeout 1s}
LB_EXTRA=${LB_EXTRA:-}
LB_GLOBAL_EXTRA=${LB_GLOBAL_EXTRA:-}

# Print the interface to use: LB_IFACE, else the one holding LB_ADDR, else eth0.
lb_iface() {
  local dev=""
  if [ -n "${LB_IFACE:-}" ]; then
    dev=$LB_IFACE
  elif [ -n "${LB_ADDR:-}" ]; then
    dev=$(ip -o -4 addr show | awk -v a="$LB_ADDR" '{split($4, p, "/"); if (p[1] == a) {print $2; exit}}')
    [ -n "$dev" ] || die "no interface holds LB_ADDR=$LB_ADDR"
  else
    dev=eth0
  fi
  printf '%s\n' "$dev"
}

# Apply (and optionally persist) the sysctls the datapath needs. A setting that already has its value
# is not written (a container's /proc/sys is read-only; its host sets them when wiring it).
lb_sysctl() {
  local dev settings s
  dev=$(lb_iface)
  settings=("net.ipv4.conf.all.forwarding=1" "net.ipv4.conf.$dev.forwarding=1" "net.ipv4.ip_nonlocal_bind=1")
  for s in "${settings[@]}"; do
    [ "$(sysctl -n "${s%%=*}" 2>/dev/null)" != "${s#*=}" ] || continue
    sysctl -q -w "$s" >/dev/null || die "sysctl -w $s failed"
  done
  if [ -n "${LB_SYSCTL_FILE:-}" ]; then
    printf '# written by scripts/provision/lb.sh\n' >"$LB_SYSCTL_FILE"
    printf '%s\n' "${settings[@]}" >>"$LB_SYSCTL_FILE"
  fi
  log "forwarding on $dev, ip_nonlocal_bind on"
}

# Print newline-separated LINES indented as section content, skipping blank lines.
lb_indent() {
  local line
  while IFS= read -r line; do
    line=${line#"${line%%[![:space:]]*}"}
    [ -n "$line" ] && printf '    %s\n' "$line"
  done <<<"$1"
  return 0
}

# Print the config.
lb_conf() {
  local vip_addr item
  [ -n "${LB_NODE:-}" ] || die "LB_NODE (node-name) is not set"
  [ -n "${LB_VIP:-}" ] || die "LB_VIP (VIP/prefix) is not set"
  [ -n "${LB_SERVERS:-}" ] || die "LB_SERVERS (name=host:port ...) is not set"
  vip_addr=${LB_VIP%/*}
  cat <<EOF
# pgsteerd config for $LB_NODE, written by scripts/provision/lb.sh
global
    interface       $(lb_iface)
    attach          $LB_ATTACH
    pin-root        $LB_PIN_ROOT
    runtime-socket  $LB_SOCKET
    stats           $LB_STATS
    state-dir       $LB_STATE_DIR
    node-name       $LB_NODE
    alert slack webhook-file $LB_WEBHOOK_FILE
EOF
  lb_indent "$LB_GLOBAL_EXTRA"
  if [ "$LB_VRRP" = 1 ]; then
    cat <<EOF

vrrp
    vrid            $LB_VRID
    priority        $LB_PRIORITY
    advert-interval $LB_ADVERT
    vip             $LB_VIP
EOF
    for item in ${LB_PEER_NAMES:-}; do
      [ "${item%%=*}" = "$LB_NODE" ] || printf '    peer-name       %s %s\n' "${item#*=}" "${item%%=*}"
    done
    lb_indent "${LB_VRRP_EXTRA:-}"
  fi
  cat <<EOF

service pgsql
    bind            ${LB_BIND:-$vip_addr:5432}
    balance         $LB_BALANCE
    check           $LB_CHECK
EOF
  for item in $LB_SERVERS; do
    printf '    server %s %s\n' "${item%%=*}" "${item#*=}"
  done
  lb_indent "$LB_EXTRA"
}

# Write the webhook URL file, readable by root only.
lb_webhook() {
  [ -n "${LB_WEBHOOK_URL:-}" ] || die "LB_WEBHOOK_URL is not set"
  mkdir -p "$(dirname "$LB_WEBHOOK_FILE")"
  (umask 077 && printf '%s\n' "$LB_WEBHOOK_URL" >"$LB_WEBHOOK_FILE")
  log "webhook URL written to $LB_WEBHOOK_FILE"
}

# Add the VIP to the interface (idempotent).
lb_vip() {
  local dev
  [ -n "${LB_VIP:-}" ] || die "LB_VIP (VIP/prefix) is not set"
  dev=$(lb_iface)
  if ip -o -4 addr show dev "$dev" | grep -qw "inet $LB_VIP"; then
    return 0
  fi
  ip addr add "$LB_VIP" dev "$dev" || die "cannot add $LB_VIP to $dev"
  log "VIP $LB_VIP on $dev (static)"
}

# The command line of the unit's KEY (ExecStart, ExecStartPre): systemd's "@SBINDIR@" already filled in
# by make install.
lb_unit_cmd() {
  sed -n "s/^$2=//p" "$1" | head -n 1
}

# Start pgsteerd detached from this shell unless it runs, as the installed unit does (its config check,
# then pgsteerd -d in the foreground); its pid goes to $LB_PIDFILE.
lb_start() {
  local unit=${PGSTEERD_UNIT:-/usr/local/lib/systemd/system/pgsteerd.service}
  local pidfile=${LB_PIDFILE:-/run/pgsteer/pgsteerd.pid} logf=${LB_LOG:-/var/log/pgsteerd.log}
  local pre cmd conf pid
  [ -r "$unit" ] || die "$unit missing (make install, or the Debian package, puts it there)"
  pre=$(lb_unit_cmd "$unit" ExecStartPre)
  cmd=$(lb_unit_cmd "$unit" ExecStart)
  [ -n "$cmd" ] || die "$unit has no ExecStart line"
  conf=$(sed -n 's/.* -f \([^ ]*\).*/\1/p' <<<"$cmd")
  [ -r "$conf" ] || die "$conf missing (run: lb.sh conf >$conf)"
  [ -x "${cmd%% *}" ] || die "pgsteerd not found at ${cmd%% *}"
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$LB_SOCKET")" "$LB_STATE_DIR" "$(dirname "$logf")"
  if ! pidfile_clear_stale "$pidfile" "$conf"; then
    log "pgsteerd already running (pid $(pidfile_pid "$pidfile"))"
    return 0
  fi
  # shellcheck disable=SC2086  # the unit's command lines split on spaces, as systemd splits them
  [ -z "$pre" ] || $pre >/dev/null || die "pgsteerd refuses $conf ($pre says why)"
  # shellcheck disable=SC2086
  setsid $cmd >>"$logf" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  wait_for 15 lb_ready "$pid" "$logf" || die "pgsteerd not answering on $LB_SOCKET after 15 s: $(tail -n 3 "$logf" | tr '\n' ' ')"
  log "pgsteerd running (pid $pid, $cmd from $unit), log $logf"
}

# Succeed when pgsteerd runs and answers `pgsteer status` (fail fast if it died).
lb_ready() {
  proc_alive "$1" || die "pgsteerd exited: $(tail -n 3 "$2" | tr '\n' ' ')"
  PGSTEER_SOCKET=$LB_SOCKET timeout 2 "${PGSTEER:-/usr/local/sbin/pgsteer}" status >/dev/null 2>&1
}

main() {
  local cmd
  [ $# -gt 0 ] || die "usage: lb.sh sysctl|conf|webhook|vip|start ..."
  for cmd in "$@"; do
    case $cmd in
      sysctl) ran lb_sysctl ;;
      conf) ran lb_conf ;;
      webhook) ran lb_webhook ;;
      vip) ran lb_vip ;;
      start) ran lb_start ;;
      -h|--help|help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown subcommand '$cmd' (sysctl|conf|webhook|vip|start)" ;;
    esac
  done
}

main "$@"
