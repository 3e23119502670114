# keepalived 2.2 (VRRPv3) in a lab load-balancer node, the one config generator for the keepalived
# interop test (tests/lab/t_keepalived.sh) and the failover bench (scripts/bench_failover.sh). Sourced;
# needs nothing else from the lab library.
# shellcheck shell=bash

# keepalived_conf VIP/PREFIX PRIORITY ADVERT NOTIFY [UNICAST_SRC PEER...]
# Print the config of one VRRPv3 instance on eth0 with the lab's vrid (51, as scripts/lab/lbconf.sh
# gives pgsteerd): start as BACKUP at PRIORITY, adverts every ADVERT (pgsteerd's syntax: 100ms, 1s, or
# plain seconds), the VIP, NOTIFY run on every state change ($3: the new state). With UNICAST_SRC,
# adverts go from that address to each PEER by unicast instead of multicast.
keepalived_conf() {
  local vip=$1 prio=$2 adv=$3 notify=$4 uni="" peer
  shift 4
  case $adv in
    *ms) adv=$(awk -v a="${adv%ms}" 'BEGIN { printf "%g", a / 1000 }') ;;
    *s) adv=${adv%s} ;;
  esac
  if [ $# -gt 0 ]; then
    uni="    unicast_src_ip $1
    unicast_peer {"
    shift
    for peer; do uni+="
        $peer"; done
    uni+="
    }
"
  fi
  cat <<EOF
global_defs {
    vrrp_version 3
    script_user root
    enable_script_security
}
vrrp_instance VI_51 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $prio
    advert_int $adv
${uni}    virtual_ipaddress {
        $vip
    }
    notify $notify
}
EOF
}
