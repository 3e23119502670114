#!/usr/bin/env bash
# The host side of the Vagrant lab's container provider (docker): a docker daemon of its own, the base
# image, and the lab network the containers are wired to. Vagrant calls `image`, `wire` and `unwire`
# through vagrant/container/plugin.rb; `daemon start` comes first and `daemon stop` last (README.md).
#
# usage: vagrant/container.sh COMMAND
#   daemon start|stop|status  dockerd with its own data-root, exec-root, socket and pid file, no bridge,
#                             no iptables, no masquerading, no ip_forward change in the root namespace
#   env                       print the DOCKER_HOST and PATH exports for a shell (eval "$(... env)")
#   image                     build the base image unless the current recipe's exists; print its tag
#   wire NODE CONTAINER       give the container's network namespace eth0 on the lab switch ($NS-sw/br0)
#                             with the namespace lab's own functions (scripts/lab/net.sh)
#   unwire NODE               after NODE's container is destroyed; the switch goes with the last one
#   leftovers                 list what of this lab is left (containers, namespaces, docker networks
#                             besides none and host); exit 1 if any
# env: PGSTEER_CT_NS=pgv (prefix of the namespaces and containers; 1-6 letters or digits)
#      PGSTEER_ATTACH=tc|xdp (the lab's datapath; xdp also attaches xdp_pass to the lb switch ports)
#      PGSTEER_DEBIAN_MIRROR (default: the bookworm mirror of this host's apt sources)
#      PGSTEER_CT_STATE=/var/lib/pgsteer-vagrant (daemon data-root parent; the image cache lives there)
set -euo pipefail
# shellcheck disable=SC2034  # LAB_NS, ATTACH and LOG_TAG are read by the lab's functions
LAB_NS=${PGSTEER_CT_NS:-pgv}
# shellcheck disable=SC2034
ATTACH=${PGSTEER_ATTACH:-tc}
VAGRANT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/lab/common.sh disable=SC1091
. "$VAGRANT_DIR/../scripts/lab/common.sh"
# shellcheck source=../scripts/lab/net.sh disable=SC1091
. "$VAGRANT_DIR/../scripts/lab/net.sh"
# shellcheck disable=SC2034
LOG_TAG=container

CT_STATE=${PGSTEER_CT_STATE:-/var/lib/pgsteer-vagrant}
DATA_ROOT=$CT_STATE/docker-$LAB_NS
RUN_DIR=/run/pgsteer-vagrant-$LAB_NS
SOCKET=$RUN_DIR/docker.sock
PIDFILE=$RUN_DIR/docker.pid
DOCKERD_LOG=$CT_STATE/dockerd-$LAB_NS.log
# Debian's docker client (docker.io), whatever else is on PATH.
DOCKER=/usr/bin/docker
IMAGE_REPO=pgsteer-lab
PACKAGES_FILE=$VAGRANT_DIR/container/packages

dk() { DOCKER_HOST=unix://$SOCKET "$DOCKER" "$@"; }

# Succeed if our dockerd runs and answers on its socket.
daemon_up() {
  local pid
  pid=$(pidfile_pid "$PIDFILE")
  [ -n "$pid" ] && proc_matches "$pid" "$SOCKET" && dk version >/dev/null 2>&1
}

daemon_start() {
  local pid
  need_root "daemon start"
  need_cmds dockerd containerd runc
  [ -x "$DOCKER" ] || die "$DOCKER not found (run scripts/deps.sh: package docker.io)"
  if daemon_up; then log "dockerd already running (pid $(pidfile_pid "$PIDFILE"), $SOCKET)"; return 0; fi
  mkdir -p "$RUN_DIR" "$DATA_ROOT"
  pidfile_clear_stale "$PIDFILE" "$SOCKET" || die "dockerd from $PIDFILE runs but does not answer"
  # No network of docker's: no docker0 bridge (its gateway address would land in the root namespace,
  # which has a route off the machine), no iptables or NAT rules, no ip_forward change.
  setsid dockerd --data-root "$DATA_ROOT" --exec-root "$RUN_DIR/exec" --host "unix://$SOCKET" \
    --pidfile "$PIDFILE" --bridge none --iptables=false --ip6tables=false --ip-masq=false \
    --ip-forward=false --storage-driver overlay2 >>"$DOCKERD_LOG" 2>&1 </dev/null &
  pid=$!
  wait_for 30 daemon_ready "$pid" || die "dockerd not answering on $SOCKET after 30 s; $DOCKERD_LOG ends:$(tail -n 5 "$DOCKERD_LOG")"
  log "dockerd running (pid $(pidfile_pid "$PIDFILE"), socket $SOCKET, data-root $DATA_ROOT)"
}

daemon_ready() { proc_alive "$1" || die "dockerd exited; $DOCKERD_LOG ends:$(tail -n 5 "$DOCKERD_LOG")"; daemon_up; }

daemon_stop() {
  local pid
  need_root "daemon stop"
  pid=$(pidfile_pid "$PIDFILE")
  if [ -z "$pid" ] || ! proc_matches "$pid" "$SOCKET"; then log "dockerd not running"; return 0; fi
  kill -TERM "$pid"
  # dockerd stops its containerd child itself; wait for both.
  wait_gone "$pid" 30 || die "dockerd (pid $pid) still running 30 s after SIGTERM"
  log "dockerd stopped (pid $pid)"
}

# The bookworm mirror this host's apt uses (deb822 or one-line sources).
debian_mirror() {
  local m
  if [ -n "${PGSTEER_DEBIAN_MIRROR:-}" ]; then printf '%s\n' "$PGSTEER_DEBIAN_MIRROR"; return 0; fi
  m=$(awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ { print u; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$m" ] || m=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

# The packages of the image, from $PACKAGES_FILE.
image_packages() { sed 's/#.*//' "$PACKAGES_FILE" | xargs | tr ' ' ','; }

# Build the root filesystem from Debian's archive into $1 (the recipe: its text is hashed into the tag).
image_rootfs() {
  local root=$1
  debootstrap --variant=minbase --include="$(image_packages)" bookworm "$root" "$(debian_mirror)" \
    >"$root.log" 2>&1 || die "debootstrap failed; $root.log ends:$(tail -n 5 "$root.log")"
  # The Debian packages' own services are never started: the provisioning scripts start theirs.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/lib/postgresql/15/main \
    "$root"/etc/postgresql/15/main
}

# The image tag of the current recipe: a hash of the build function and the package list.
image_tag() {
  local h
  h=$({ declare -f image_rootfs image_packages; cat "$PACKAGES_FILE"; } | sha256sum | cut -c1-12)
  printf '%s:%s\n' "$IMAGE_REPO" "$h"
}

image_build() {
  local tag tmp t0
  need_root image
  daemon_up || die "dockerd of this lab is not running (run: $0 daemon start)"
  tag=$(image_tag)
  if dk image inspect "$tag" >/dev/null 2>&1; then
    log "image $tag is current" >&2
    printf '%s\n' "$tag"
    return 0
  fi
  need_cmds debootstrap
  t0=$(now_ms)
  tmp=$(mktemp -d "$CT_STATE/rootfs.XXXXXX")
  log "building $tag: debootstrap bookworm from $(debian_mirror) (a few minutes, once per recipe)" >&2
  ( image_rootfs "$tmp/root" ) || { rm -rf "$tmp"; exit 1; }
  tar -C "$tmp/root" -c . | dk import -c 'CMD ["/bin/sleep", "infinity"]' - "$tag" >/dev/null \
    || { rm -rf "$tmp"; die "docker import failed"; }
  rm -rf "$tmp"
  # Older recipes' images go: only the current one is kept.
  dk images --format '{{.Repository}}:{{.Tag}}' "$IMAGE_REPO" | grep -vx "$tag" | xargs -r "$DOCKER" -H "unix://$SOCKET" rmi >/dev/null 2>&1 || true
  log "image $tag built in $(elapsed_since "$t0") s" >&2
  printf '%s\n' "$tag"
}

# `wire NODE CONTAINER`: give the container's network namespace eth0 on the lab switch. The namespace
# is named $NS-NODE only while the namespace lab's functions wire it, then the name goes again: the
# namespace lives and dies with its container (a killed container takes its link down, as a crash does).
wire() {
  local node=$1 cid=$2 pid
  need_root wire
  node_check "$node"
  pid=$(dk inspect -f '{{.State.Pid}}' "$cid") || die "no container $cid"
  [[ $pid =~ ^[1-9][0-9]*$ ]] || die "container $cid is not running"
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/wire.lock"
  flock 9
  ns_exists sw || net_add_switch
  ! ns_exists "$node" || ip netns del "$(ns_name "$node")"
  ip netns attach "$(ns_name "$node")" "$pid" || die "cannot name $cid's network namespace $(ns_name "$node")"
  # A restarted container has a new namespace; its old switch port went with the old one.
  ip -n "$(ns_name sw)" link del "$node" 2>/dev/null || true
  (
    net_ns_setup "$node"
    net_wire_node "$node"
    if [[ $node == lb? ]]; then
      net_xdp_pass_obj
      net_prepare_lb "$node"
    fi
  ) || { ip netns del "$(ns_name "$node")"; die "wiring $node failed"; }
  ip netns del "$(ns_name "$node")"
  log "$node: container ${cid:0:12} (pid $pid): eth0 ${LAB_ADDR[$node]}/$LAB_PREFIX on $(ns_name sw)/br0"
}

# Names of this lab's containers (label pgsteer-lab=$NS), running or not.
lab_containers() {
  dk ps -a --filter "label=pgsteer-lab=$LAB_NS" --format '{{.Names}}'
}

# `unwire NODE` (after NODE's container is destroyed): its switch port went with it; the switch goes
# with the last container of the lab.
unwire() {
  local node=$1
  need_root unwire
  node_check "$node"
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/wire.lock"
  flock 9
  ip -n "$(ns_name sw)" link del "$node" 2>/dev/null || true
  if ns_exists sw && [ -z "$(lab_containers)" ]; then
    ip netns del "$(ns_name sw)"
    log "last node gone: switch $(ns_name sw) deleted"
  fi
}

# `leftovers`: what of this lab is left (its containers, $NS-* namespaces, docker networks but none,
# host, bridge); exit 1 if anything.
leftovers() {
  local left
  left=$(
    if daemon_up; then
      lab_containers | sed 's/^/container /'
      dk network ls --format '{{.Name}}' | grep -vxE 'none|host' | sed 's/^/docker network /'
    fi
    net_list_ns | sed 's/^/namespace /'
  )
  [ -z "$left" ] && return 0
  printf '%s\n' "$left"
  return 1
}

main() {
  case ${1:-} in
    daemon)
      case ${2:-} in
        start) daemon_start ;;
        stop) daemon_stop ;;
        status) if daemon_up; then echo "dockerd running (pid $(pidfile_pid "$PIDFILE"), $SOCKET)"; else echo "dockerd not running"; exit 1; fi ;;
        *) die "usage: $0 daemon start|stop|status" ;;
      esac ;;
    env) printf 'export DOCKER_HOST=unix://%s\nexport PATH=/usr/bin:%s\n' "$SOCKET" '"$PATH"' ;;
    image) image_build ;;
    wire) [ $# -eq 3 ] || die "usage: $0 wire NODE CONTAINER"; wire "$2" "$3" ;;
    unwire) [ $# -eq 2 ] || die "usage: $0 unwire NODE"; unwire "$2" ;;
    leftovers) leftovers ;;
    ""|-h|--help|help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "unknown command '$1'" ;;
  esac
}

main "$@"
