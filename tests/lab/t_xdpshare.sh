#!/usr/bin/env bash
# Sharing the NIC with other XDP programs (libxdp's dispatcher). In XDP mode pgsteerd says in its log
# how it attached (through libxdp's dispatcher, or a plain pinned link and why) and `xdp-loader
# status` lists it. With the dispatcher, another XDP program loaded by xdp-loader runs beside
# pgsteer, both listed, and pgsteer still steers, also after `pgsteer restart` (one pgsteer program
# in the dispatcher, the other program kept). Without it (a kernel that refuses extension programs)
# xdp-loader cannot take the interface from pgsteer, which keeps steering. In TC mode the XDP hook
# is free: another program takes it and pgsteer steers behind it.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-$TOP/build}
obj=$BUILD/bpf/xdp_pass.bpf.o
log=$LAB_DIR_TEST/lb1/pgsteerd.log
command -v xdp-loader > /dev/null || { skip xdpshare "xdp-loader not installed (scripts/deps.sh installs xdp-tools)"; exit 0; }

status() { on lb1 xdp-loader status eth0 2>&1; }
# Rows of `xdp-loader status` naming program $1 (the interface row or a dispatcher entry).
count() { status | grep -cw "$1"; }
# A query through the VIP: nothing listens on lb1's VIP port, only pgsteer's datapath answers.
steers() { [ "$(on client timeout 20 psql -h "$VIP" -U app -d app -X -At -c 'select 1' 2>/dev/null)" = 1 ]; }
xmode=native
[ "$ATTACH" = xdp-generic ] && xmode=skb
other_loaded=0
unload_other() {
  [ $other_loaded -eq 1 ] || return 0
  local id
  id=$(status | awk '$0 ~ /xdp_pass/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/ && $i > 100) { print $i; exit } }')
  if [ -n "$id" ]; then on lb1 xdp-loader unload eth0 -i "$id" > /dev/null 2>&1; else on lb1 xdp-loader unload eth0 --all > /dev/null 2>&1; fi
  other_loaded=0
}
trap unload_other EXIT
t0=$SECONDS

if [ "$ATTACH" = tc ]; then
  out=$(on lb1 xdp-loader load -m "$xmode" eth0 "$obj" 2>&1); rc=$?
  [ $rc -eq 0 ] && other_loaded=1
  check_eval tc_leaves_the_xdp_hook_free '[ $rc -eq 0 ] && [ "$(count xdp_pass)" -ge 1 ]' || echo "    $out"
  check_eval tc_filter_stays 'on lb1 tc filter show dev eth0 ingress | grep -q pgs_tc'
  check steers_behind_another_xdp_program steers
  unload_other
  check_eval other_program_unloaded '[ "$(count xdp_pass)" -eq 0 ]'
  echo "    xdpshare: $((SECONDS - t0)) s"
  exit 0
fi

how=$(grep -E 'XDP \((native|generic)\) attached' "$log" | tail -n 1)
echo "    $how"
if bpftool feature probe kernel 2> /dev/null | grep -q 'program_type ext is available'; then
  dispatcher=1
  check_eval log_says_libxdp_dispatcher 'grep -q "through libxdp.s dispatcher" <<< "$how"'
else
  dispatcher=0
  check_eval log_says_plain_link_and_why 'grep -q "plain pinned link.*extension programs" <<< "$how"'
fi
check_eval xdp_loader_lists_pgsteer '[ "$(count pgs_xdp)" -eq 1 ]' || status

if [ $dispatcher -eq 1 ]; then
  out=$(on lb1 xdp-loader load -m "$xmode" eth0 "$obj" 2>&1); rc=$?
  [ $rc -eq 0 ] && other_loaded=1
  check_eval other_program_joins_the_dispatcher '[ $rc -eq 0 ]' || echo "    $out"
  check_eval both_listed '[ "$(count pgs_xdp)" -eq 1 ] && [ "$(count xdp_pass)" -eq 1 ] && status | grep -q xdp_dispatcher' ||
    status
  check steers_beside_another_xdp_program steers
  out=$(on lb1 pgsteer restart 2>&1)
  check_eval restart_in_place 'grep -q "restarted in place" <<< "$out"' || echo "    $out"
  wait_eval 30 'grep -q "restarted\|datapath attached" "$log"' > /dev/null
  check_eval one_pgsteer_program_after_restart '[ "$(count pgs_xdp)" -eq 1 ] && [ "$(count xdp_pass)" -eq 1 ]' || status
  check steers_after_restart steers
  unload_other
  check_eval pgsteer_stays_when_the_other_leaves '[ "$(count pgs_xdp)" -eq 1 ] && [ "$(count xdp_pass)" -eq 0 ]' || status
  check steers_alone_again steers
else
  skip shares_the_nic "this kernel refuses extension programs (bpftool feature probe: program_type ext is NOT available), so libxdp has no dispatcher here"
  id_before=$(status | awk '/pgs_xdp/ { print $4 }')
  out=$(on lb1 xdp-loader load -m "$xmode" eth0 "$obj" 2>&1); rc=$?
  [ $rc -eq 0 ] && other_loaded=1
  check_eval xdp_loader_cannot_take_the_nic '[ $rc -ne 0 ]' || echo "    $out"
  check_eval pgsteer_program_unchanged '[ -n "$id_before" ] && [ "$(status | awk "/pgs_xdp/ { print \$4 }")" = "$id_before" ]' || status
  check steers_still steers
fi
echo "    xdpshare: $((SECONDS - t0)) s"
