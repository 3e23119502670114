# The lab's network: $LAB_NS-* namespaces (pgs-* by default), a bridge in the lab's sw, one veth per node, link cut/restore. Sourced.
# shellcheck shell=bash

XDP_PASS_OBJ=$BUILD/bpf/xdp_pass.bpf.o

# Build the pass-all XDP object for the switch ports facing the load balancers if it is missing.
net_xdp_pass_obj() {
  [ -r "$XDP_PASS_OBJ" ] && return 0
  log "building $XDP_PASS_OBJ"
  make -s -C "$LAB_REPO" BUILD="$BUILD" "$XDP_PASS_OBJ" >/dev/null \
    || die "cannot build $XDP_PASS_OBJ (try: make $XDP_PASS_OBJ)"
}

# Print the names of existing $LAB_NS-* namespaces (pgs-* by default), one a line.
net_list_ns() { ip netns list 2>/dev/null | awk -v p="^$LAB_NS-" '$1 ~ p { print $1 }'; }

# Create one namespace with loopback up and, unless LAB_IPV6=1, IPv6 off (keeps captures quiet).
net_add_ns() {
  local node=$1
  ip netns add "$(ns_name "$node")" || die "cannot create namespace $(ns_name "$node")"
  net_ns_setup "$node"
}

# Loopback up and, unless LAB_IPV6=1, IPv6 off in NODE's (new or attached) namespace.
net_ns_setup() {
  local node=$1
  if [ "${LAB_IPV6:-0}" != 1 ]; then
    in_ns "$node" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
  fi
  ip -n "$(ns_name "$node")" link set lo up
}

# Create the switch namespace and its bridge.
net_add_switch() {
  net_add_ns sw
  ip -n "$(ns_name sw)" link add br0 type bridge || die "cannot create bridge br0 in $(ns_name sw)"
  ip -n "$(ns_name sw)" link set br0 up
}

# Give NODE a namespace and its eth0 on the switch.
net_add_node() {
  net_add_ns "$1"
  net_wire_node "$1"
}

# Give NODE's namespace its eth0, peered with a switch port named NODE on br0 (never touching the root
# namespace). The container provider of vagrant/ wires its containers' namespaces with this too.
net_wire_node() {
  local node=$1 ns
  ns=$(ns_name "$node")
  ip -n "$(ns_name sw)" link add "$node" type veth peer name eth0 netns "$ns" \
    || die "cannot create veth $node <-> $ns/eth0"
  ip -n "$(ns_name sw)" link set "$node" master br0
  # The stack finishes checksums before frames reach the node: native XDP then sees complete checksums,
  # and receivers really verify them (veth receivers accept CHECKSUM_PARTIAL without verifying, which
  # would hide a broken checksum). With TC the load balancers' ports keep
  # checksum offload, so the TC program meets CHECKSUM_PARTIAL packets (what a host sees from its own
  # containers or VMs); the hop after it finishes their checksums, and the receivers verify them.
  if [ "${ATTACH:-xdp}" != tc ] || [[ $node != lb* ]]; then
    in_ns sw ethtool -K "$node" tx off >/dev/null 2>&1 || die "ethtool -K $node tx off failed in $(ns_name sw)"
  fi
  ip -n "$(ns_name sw)" link set "$node" up
  ip -n "$ns" addr add "${LAB_ADDR[$node]}/$LAB_PREFIX" dev eth0
  ip -n "$ns" link set eth0 up
}

# Prepare a load-balancer node: XDP_TX on a veth only delivers when the peer veth has an XDP program;
# bpf_fib_lookup answers FWD_DISABLED unless forwarding is on for the ingress device.
net_prepare_lb() {
  local node=$1
  ip -n "$(ns_name sw)" link set dev "$node" xdp obj "$XDP_PASS_OBJ" sec xdp \
    || die "cannot attach $XDP_PASS_OBJ to $(ns_name sw)/$node"
  in_ns "$node" env LOG_TAG=lab LB_IFACE=eth0 "$PROVISION/lb.sh" sysctl >/dev/null
}

# Build the whole topology; lb1 holds the VIP statically unless VRRP=1 (then pgsteerd manages it).
net_up() {
  local node
  net_xdp_pass_obj
  net_add_switch
  for node in "${LAB_NODES[@]}"; do net_add_node "$node"; done
  net_prepare_lb lb1
  net_prepare_lb lb2
  if [ "${VRRP:-1}" != 1 ]; then
    in_ns lb1 env LOG_TAG=lab LB_IFACE=eth0 LB_VIP="$LAB_VIP/$LAB_PREFIX" "$PROVISION/lb.sh" vip >/dev/null
  fi
  log "network up: ${#LAB_NODES[@]} nodes on $(ns_name sw)/br0 ($LAB_NET), VIP $LAB_VIP $([ "${VRRP:-1}" = 1 ] && echo "managed by VRRP" || echo "static on lb1")"
}

# Delete every $LAB_NS-* namespace (nodes first, the switch last); warn about processes still inside.
net_down() {
  local ns pids deleted=()
  for ns in $(net_list_ns | grep -v "^$LAB_NS-sw\$"; net_list_ns | grep "^$LAB_NS-sw\$"); do
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [ -z "$pids" ] || warn "processes the lab did not start still run in $ns: $pids(not killed)"
    ip netns del "$ns" 2>/dev/null || warn "cannot delete namespace $ns"
    deleted+=("$ns")
  done
  [ ${#deleted[@]} -eq 0 ] || log "namespaces deleted: ${deleted[*]}"
}

# Cut or restore NODE's link: the switch port and the node's eth0.
net_link() {
  local node=$1 state=$2
  node_check "$node"
  case $state in
    down)
      ip -n "$(ns_name sw)" link set dev "$node" down
      ip -n "$(ns_name "$node")" link set dev eth0 down ;;
    up)
      ip -n "$(ns_name "$node")" link set dev eth0 up
      ip -n "$(ns_name sw)" link set dev "$node" up ;;
    *) die "usage: lab.sh link NODE down|up" ;;
  esac
  log "link $node $state"
}

# Print "up", "down" or "absent" for NODE's link (both ends administratively up means up).
net_link_state() {
  local node=$1 a b
  if ! ns_exists sw || ! ns_exists "$node"; then echo absent; return 0; fi
  a=$(ip -n "$(ns_name sw)" -o link show dev "$node" 2>/dev/null) || { echo absent; return 0; }
  b=$(ip -n "$(ns_name "$node")" -o link show dev eth0 2>/dev/null) || { echo absent; return 0; }
  if net_flag_up "$a" && net_flag_up "$b"; then echo up; else echo down; fi
}

# Succeed if an `ip -o link` line has the UP flag.
net_flag_up() {
  local flags=${1#*<}
  flags=${flags%%>*}
  [[ ",$flags," == *,UP,* ]]
}

# Succeed if NODE holds the VIP on eth0.
net_has_vip() {
  ns_exists "$1" || return 1
  ip -n "$(ns_name "$1")" -o -4 addr show dev eth0 2>/dev/null | grep -q "inet $LAB_VIP/"
}
