# HAProxy 2.6 in the lab's lb2 (the incumbent, for the bench and the monitor test): config, start, stop.
# haproxy_conf is also the config of the failover bench's HAProxy on lb1 and lb2 (scripts/bench_failover.sh).
# Sourced; needs scripts/lab/common.sh.
# shellcheck shell=bash

HAPROXY_DIR=$LAB_DIR/haproxy

# haproxy_conf BIND_ADDR [ADMIN_SOCKET]
# Print the HAProxy config: leastconn over the three PgBouncers (the health checks pgsteerd's lab config
# has), listening on BIND_ADDR:5432. With ADMIN_SOCKET, an admin socket there and CSV stats on
# BIND_ADDR:8405/stats.
haproxy_conf() {
  local bind=$1 sock=${2:-} item
  cat <<EOF
# HAProxy for the pgsteer lab on $bind, written by scripts/lab/haproxy.sh
global
    maxconn $LAB_HAPROXY_MAXCONN
${sock:+    stats socket $sock mode 600 level admin
}
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

frontend fe_pgsql
    bind $bind:$LAB_HAPROXY_PORT
    default_backend be_pgb

backend be_pgb
    balance leastconn
EOF
  for item in $LAB_PGB_INSTANCES; do
    printf '    server %s %s:%s check inter 1s fall 3 rise 2\n' "${item%%:*}" "${LAB_ADDR[pgb]}" "${item#*:}"
  done
  [ -n "$sock" ] || return 0
  cat <<EOF

listen stats
    bind $bind:$LAB_HAPROXY_STATS_PORT
    mode http
    timeout client 10s
    stats enable
    stats uri /stats
    stats refresh 10s
EOF
}

# Start HAProxy in the lab's lb2 as a daemon and wait until both listeners are up.
haproxy_start() {
  local cfg=$HAPROXY_DIR/haproxy.cfg pid
  need_cmds haproxy
  ns_exists lb2 || die "node lb2 is not up (run: scripts/lab.sh up)"
  if pid=$(svc_pid haproxy); then
    log "haproxy already running (pid $pid)"
    return 0
  fi
  mkdir -p "$HAPROXY_DIR"
  haproxy_conf "${LAB_ADDR[lb2]}" "$HAPROXY_DIR/admin.sock" >"$cfg"
  haproxy -c -q -f "$cfg" >"$HAPROXY_DIR/haproxy.log" 2>&1 \
    || die "bad HAProxy config $cfg:$(lab_tail "$HAPROXY_DIR/haproxy.log")"
  rm -f "$HAPROXY_DIR/haproxy.pid"
  in_ns lb2 haproxy -D -p "$HAPROXY_DIR/haproxy.pid" -f "$cfg" >>"$HAPROXY_DIR/haproxy.log" 2>&1 </dev/null \
    || die "haproxy did not start:$(lab_tail "$HAPROXY_DIR/haproxy.log")"
  wait_for 10 haproxy_ready \
    || die "haproxy not listening on ${LAB_ADDR[lb2]}:$LAB_HAPROXY_PORT after 10 s:$(lab_tail "$HAPROXY_DIR/haproxy.log")"
  log "haproxy listening on ${LAB_ADDR[lb2]}:$LAB_HAPROXY_PORT, stats http://${LAB_ADDR[lb2]}:$LAB_HAPROXY_STATS_PORT/stats (pid $(svc_pid haproxy))"
}

# Succeed when HAProxy runs and both its listeners are up.
haproxy_ready() {
  local listening
  svc_pid haproxy >/dev/null || return 1
  listening=$(in_ns lb2 ss -Hltn | awk '{ print $4 }') || return 1
  grep -qx "${LAB_ADDR[lb2]}:$LAB_HAPROXY_PORT" <<<"$listening" \
    && grep -qx "${LAB_ADDR[lb2]}:$LAB_HAPROXY_STATS_PORT" <<<"$listening"
}

# Stop HAProxy.
haproxy_stop() { svc_kill haproxy; }
