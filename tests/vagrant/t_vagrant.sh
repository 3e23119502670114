#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034  # the conditions are eval'ed by check_eval and wait_eval
# The Vagrant lab, brought up for real with its container provider (vagrant/README.md): `vagrant
# validate` for every provider; `vagrant up --provider=docker` from a fresh clone; psql through the
# VIP; `pgsteer status` on lb1; a PgBouncer killed (seed flow 2) and lb1 failing (flow 3), with the
# alerts; the provisioning steps compared with the namespace lab's; `vagrant destroy -f` leaves no
# container, namespace or docker network behind, and the root namespace never changes.
# env: PGSTEER_CT_NS=pgv (the lab's containers and namespaces; the namespace lab for the comparison
# runs as LAB_NS=<that>n), BUILD (the build make install stages in the clone's build/install), NSLAB_STEPS (the
# provisioning steps of a namespace lab already brought up: then it is not brought up here)
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
NS=${PGSTEER_CT_NS:-pgv}
export PGSTEER_CT_NS=$NS PGSTEER_ATTACH=${PGSTEER_ATTACH:-tc} PGSTEER_VRRP=1
VIP=10.100.1.100
NODES=(db pgb client lb1 lb2 app)
APP=http://10.100.1.3
PFX=vagrant
SOCKET=/run/pgsteer-vagrant-$NS/docker.sock
export DOCKER_HOST=unix://$SOCKET
DOCKER=/usr/bin/docker

pass() { echo "PASS $PFX/$1"; }
fail() { echo "FAIL $PFX/$1: ${*:2}"; }
skip() { echo "SKIP $PFX/$1: ${*:2}"; }
check_eval() { if eval "$2"; then pass "$1"; else fail "$1" "$2"; fi; }
wait_eval() {
  local limit=$1 i
  for ((i = 0; i < limit * 5; i++)); do
    eval "$2" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
now_ms() { date +%s%3N; }
secs_since() { local ms=$(($(now_ms) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
dx() { local node=$1; shift; "$DOCKER" exec "$NS-$node" "$@"; }
root_ns() { ip -o addr show; ip route show table all; ip link show | grep -c .; }

# --- can the provider run here at all? -------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then skip all "needs root (dockerd, network namespaces)"; exit 0; fi
missing=""
for c in vagrant dockerd containerd runc debootstrap "$DOCKER"; do command -v "$c" >/dev/null || missing+=" $c"; done
if [ -n "$missing" ]; then skip all "missing:$missing (scripts/deps.sh installs vagrant docker.io debootstrap)"; exit 0; fi
if [ ! -x "$BUILD/pgsteerd" ] || [ ! -x "$BUILD/pgsteer" ]; then fail build "$BUILD/pgsteerd not built (make)"; exit 1; fi

tmp=$(mktemp -d /tmp/pgsteer-vagrant.XXXXXX)
REPO=$tmp/repo
started_daemon=0
root_before=$(root_ns)

cleanup() {
  set +e
  if [ -d "$REPO/vagrant/.vagrant/machines" ]; then
    (cd "$REPO/vagrant" && timeout 300 vagrant destroy -f >"$tmp/destroy-cleanup.log" 2>&1)
  fi
  LAB_NS=${NS}n "$TOP/scripts/lab.sh" down >/dev/null 2>&1
  [ $started_daemon = 0 ] || "$REPO/vagrant/container.sh" daemon stop >/dev/null 2>&1 \
    || "$TOP/vagrant/container.sh" daemon stop >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- a fresh clone (plus uncommitted edits, so a developer tests what they see) and the build ------
t0=$(now_ms)
git clone -q --no-hardlinks "$TOP" "$REPO" || { fail clone "git clone $TOP failed"; exit 1; }
git -C "$TOP" diff HEAD --binary >"$tmp/wip.diff"
[ ! -s "$tmp/wip.diff" ] || git -C "$REPO" apply "$tmp/wip.diff" || { fail clone "cannot apply the uncommitted changes"; exit 1; }
(cd "$TOP" && git ls-files -z --others --exclude-standard | xargs -0 -r cp --parents -t "$REPO")
mkdir -p "$REPO/build/bpf"
cp "$BUILD/bpf/xdp_pass.bpf.o" "$REPO/build/bpf/"
# The load balancers install pgsteer as an operator would: this make install, staged on the host.
make -s -C "$TOP" BUILD="$BUILD" install DESTDIR="$REPO/build/install" PREFIX=/usr/local >"$tmp/install.log" 2>&1 ||
  { fail install "make install: $(tail -n 3 "$tmp/install.log" | tr '\n' ' ')"; exit 1; }
echo "    clone of $TOP in $REPO ($(secs_since "$t0") s)"

# --- the namespace lab's provisioning steps, for the comparison (tests/run.sh passes those of its lab
# tier's last up in NSLAB_STEPS; else the namespace lab comes up once here) ------------------------
if [ -n "${NSLAB_STEPS:-}" ] && [ -s "$NSLAB_STEPS" ]; then
  cp "$NSLAB_STEPS" "$tmp/nslab.trace"
else
  t0=$(now_ms)
  if LAB_NS=${NS}n ATTACH=tc PROVISION_TRACE=$tmp/nslab.trace timeout 180 "$TOP/scripts/lab.sh" up >"$tmp/nslab-up.log" 2>&1; then
    LAB_NS=${NS}n "$TOP/scripts/lab.sh" down >"$tmp/nslab-down.log" 2>&1
    echo "    namespace lab up and down for its step list in $(secs_since "$t0") s"
  else
    fail nslab "the namespace lab did not come up: $(tail -n 3 "$tmp/nslab-up.log" | tr '\n' ' ')"
    LAB_NS=${NS}n "$TOP/scripts/lab.sh" down >/dev/null 2>&1
  fi
fi

# --- the daemon and the image ----------------------------------------------------------------------
CTL=$REPO/vagrant/container.sh
if ! "$CTL" daemon status >/dev/null 2>&1; then
  "$CTL" daemon start >"$tmp/daemon.log" 2>&1 || { fail daemon "$(tail -n 3 "$tmp/daemon.log")"; exit 1; }
  started_daemon=1
fi
t0=$(now_ms)
if image=$(timeout 600 "$CTL" image 2>"$tmp/image.log"); then
  pass image
  echo "    image $image ready in $(secs_since "$t0") s ($(grep -o 'built in .*' "$tmp/image.log" || echo cached))"
else
  fail image "$(tail -n 5 "$tmp/image.log" | tr '\n' ' ')"
  exit 1
fi

# The example app's machine runs the host's build of it (the image has no npm toolchain).
t0=$(now_ms)
if PGSTEER_APP_BUILD=$(APP_BUILD_ROOT=$BUILD/app LOG_TAG=app timeout 600 "$TOP/scripts/provision/app.sh" build 2>"$tmp/app-build.log"); then
  export PGSTEER_APP_BUILD
  echo "    example app build $PGSTEER_APP_BUILD ready in $(secs_since "$t0") s"
else
  fail app_build "$(tail -n 5 "$tmp/app-build.log" | tr '\n' ' ')"
  exit 1
fi

cd "$REPO/vagrant" || exit 1

# --- vagrant validate, every provider --------------------------------------------------------------
if out=$(VAGRANT_DEFAULT_PROVIDER=docker vagrant validate 2>&1); then pass validate/docker; else fail validate/docker "$out"; fi
# No hypervisor here: the VM providers' own option blocks cannot be checked (Vagrant calls them
# unusable); -p checks everything else they get (box, network, synced folder, provisioners).
for p in virtualbox libvirt; do
  if out=$(VAGRANT_DEFAULT_PROVIDER=$p vagrant validate -p 2>&1); then
    pass "validate/$p"
  else
    fail "validate/$p" "$out"
  fi
done

# --- vagrant up --------------------------------------------------------------------------------------
t0=$(now_ms)
if timeout 480 vagrant up --provider=docker --no-parallel >"$tmp/up.log" 2>&1; then
  pass up
  echo "    vagrant up --provider=docker: $(secs_since "$t0") s"
else
  fail up "$(grep -v '^\s*$' "$tmp/up.log" | tail -n 8 | tr '\n' ' ')"
  exit 1
fi
check_eval root_namespace_after_up '[ "$(root_ns)" = "$root_before" ]'

# --- the same provisioning steps as the namespace lab ----------------------------------------------
for n in "${NODES[@]}"; do dx "$n" cat /var/lib/pgsteer/provision.trace; done | sort -u >"$tmp/ct.steps"
if [ -s "$tmp/nslab.trace" ]; then
  sort -u "$tmp/nslab.trace" >"$tmp/ns.steps"
  echo "    steps run by both labs: $(comm -12 "$tmp/ns.steps" "$tmp/ct.steps" | paste -sd, -)"
  only_ns=$(comm -23 "$tmp/ns.steps" "$tmp/ct.steps" | paste -sd, -)
  # pgsteerd itself: the namespace lab starts it in its namespaces, a container with lb.sh start.
  # The example app: the namespace lab starts it on demand (lab.sh app start, t_app) through the same
  # scripts/provision/app.sh, not at up.
  only_ct=$(comm -13 "$tmp/ns.steps" "$tmp/ct.steps" | grep -vx -e 'lb lb_start' -e 'app app_start api' -e 'app app_start web' | paste -sd, -)
  check_eval same_provisioning "[ -z '$only_ns' ] && [ -z '$only_ct' ] && grep -qx 'db db_init' $tmp/ct.steps"
  [ -z "$only_ns$only_ct" ] || echo "    only in the namespace lab: $only_ns; only in the containers: $only_ct"
fi

# --- psql through the VIP, from the client, with vagrant ssh --------------------------------------
q=$(vagrant ssh client -c "PGPASSWORD=app-secret psql -h $VIP -U app -d app -XAtc 'select count(*) from pgbench_accounts'" 2>&1 | tr -d '\r')
check_eval psql_through_vip '[ "$(echo "$q" | tail -n 1)" = 1000000 ]'

# --- seed flow 1: the example app's API and page answer, reading PostgreSQL through the VIP -------
app_users() { dx client curl -sS -m 20 "$APP:3000/api/users" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["count"], d["pgbouncer"])' 2>/dev/null; }
if wait_eval 30 '[[ "$(app_users)" =~ ^300\ pgb[123]$ ]]'; then pass app_api_through_vip; else fail app_api_through_vip "$(app_users)"; fi
check_eval app_page_renders_users 'dx client curl -sS -m 20 "$APP:3001/" | grep -q "data-user-id=\"7\""'

# --- pgsteer status on lb1: three UP servers ------------------------------------------------------
srv_status() { dx lb1 pgsteer status -j | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(s["name"] + "=" + s["status"] for v in d["services"] for s in v["servers"]))'; }
wait_eval 15 '[ "$(srv_status)" = "pgb1=UP pgb2=UP pgb3=UP" ]'
st=$(vagrant ssh lb1 -c 'pgsteer status' 2>&1 | tr -d '\r')
echo "$st" | sed -n '1,8p' | sed 's/^/    /'
check_eval status_three_up '[ "$(echo "$st" | grep -cE "^ +pgb[123] +[0-9.:]+ +UP ")" = 3 ]'
# Installed, not run from the build tree: make install's binary, started with its unit's command line.
lb_exe() { dx "$1" bash -c 'readlink /proc/$(cat /run/pgsteer/pgsteerd.pid)/exe; tr "\0" " " < /proc/$(cat /run/pgsteer/pgsteerd.pid)/cmdline'; }
exe=$(lb_exe lb1 | tr '\n' ' ')
echo "    lb1 runs: $exe"
check_eval lb_runs_the_installed_pgsteerd '[ "$exe" = "/usr/local/sbin/pgsteerd /usr/local/sbin/pgsteerd -d -f /etc/pgsteer/pgsteer.conf " ] &&
  dx lb1 grep -qx "ExecStart=/usr/local/sbin/pgsteerd -d -f /etc/pgsteer/pgsteer.conf" /usr/local/lib/systemd/system/pgsteerd.service'

# --- seed flow 2: pgb2 killed -> DOWN and an alert; vagrant provision pgb -> UP again -------------
alerts() { dx client cat /var/lib/pgsteer/sink/alerts.jsonl 2>/dev/null; }
n0=$(alerts | wc -l)
t0=$(now_ms)
dx pgb bash -c 'kill -9 $(cat /var/lib/pgsteer/pgb/pgb2/pgbouncer.pid)'
if wait_eval 20 '[ "$(srv_status)" = "pgb1=UP pgb2=DOWN pgb3=UP" ]'; then pass pgb2_down; else fail pgb2_down "$(srv_status)"; fi
t_down=$(secs_since "$t0")
if wait_eval 15 'alerts | tail -n +$((n0 + 1)) | grep -q "pgb2 is DOWN"'; then pass pgb2_alert; else fail pgb2_alert "no 'pgb2 is DOWN' at the sink: $(alerts | tail -n 2)"; fi
echo "    pgb2 killed: DOWN after $t_down s, alert after $(secs_since "$t0") s"
vagrant provision pgb >"$tmp/prov-pgb.log" 2>&1 || fail pgb2_restart "vagrant provision pgb: $(tail -n 3 "$tmp/prov-pgb.log")"
if wait_eval 20 '[ "$(srv_status)" = "pgb1=UP pgb2=UP pgb3=UP" ]'; then pass pgb2_up_after_provision; else fail pgb2_up_after_provision "$(srv_status)"; fi

# --- seed flow 3: lb1 fails (pgsteerd killed, its link cut) -> lb2 holds the VIP, queries answer -
vrrp_state() { dx "$1" pgsteer status -j | python3 -c 'import json,sys; print(json.load(sys.stdin).get("vrrp", {}).get("state", "?"))'; }
has_vip() { dx "$1" ip -4 -o addr show dev eth0 | grep -q "inet $VIP/"; }
psql_vip() { dx client env PGPASSWORD=app-secret PGCONNECT_TIMEOUT=2 psql -h "$VIP" -U app -d app -XAtc 'select 1' 2>/dev/null; }
wait_eval 10 '[ "$(vrrp_state lb1)" = MASTER ]' || echo "    lb1 is $(vrrp_state lb1) before the failure"
n0=$(alerts | wc -l)
t0=$(now_ms)
# Children first, as a crash would (platform facts 18 and 24): a killed pgsteerd leaves its VIP, so the
# node's link goes too, as the namespace lab does.
dx lb1 bash -c 'p=$(cat /run/pgsteer/pgsteerd.pid); pkill -KILL -P "$p"; kill -KILL "$p"'
ip -n "$NS-sw" link set dev lb1 down
if wait_eval 10 has_vip\ lb2; then pass lb2_holds_vip; else fail lb2_holds_vip "lb2: $(vrrp_state lb2)"; fi
t_vip=$(secs_since "$t0")
if wait_eval 10 '[ "$(psql_vip)" = 1 ]'; then pass query_after_lb1_failure; else fail query_after_lb1_failure "no answer through $VIP"; fi
echo "    lb1 failed: lb2 holds the VIP after $t_vip s, a query answered after $(secs_since "$t0") s"
if wait_eval 30 '[[ "$(app_users)" =~ ^300\ pgb[123]$ ]]'; then pass app_api_after_lb1_failure; else fail app_api_after_lb1_failure "$(app_users)"; fi
if wait_eval 10 'alerts | tail -n +$((n0 + 1)) | grep -q "lb2"'; then pass lb2_alert; else fail lb2_alert "no alert from lb2 at the sink"; fi
alerts | tail -n +$((n0 + 1)) | python3 -c 'import json,sys; [print("    alert:", json.loads(l)["text"]) for l in sys.stdin if l.strip()]'
# lb1 comes back: link up, vagrant provision lb1 starts pgsteerd again; it takes the VIP back (preempt).
ip -n "$NS-sw" link set dev lb1 up
vagrant provision lb1 >"$tmp/prov-lb1.log" 2>&1 || fail lb1_back "vagrant provision lb1: $(tail -n 3 "$tmp/prov-lb1.log")"
if wait_eval 15 '[ "$(vrrp_state lb1)" = MASTER ] && has_vip lb1 && ! has_vip lb2'; then pass lb1_back_master; else fail lb1_back_master "lb1 $(vrrp_state lb1), lb2 $(vrrp_state lb2)"; fi

# --- vagrant destroy -f: nothing left ---------------------------------------------------------------
t0=$(now_ms)
if timeout 300 vagrant destroy -f --parallel >"$tmp/destroy.log" 2>&1; then pass destroy; else fail destroy "$(tail -n 3 "$tmp/destroy.log")"; fi
echo "    vagrant destroy -f: $(secs_since "$t0") s"
if left=$("$CTL" leftovers); then pass nothing_left; else fail nothing_left "$(echo "$left" | paste -sd, -)"; fi
check_eval root_namespace_after_destroy '[ "$(root_ns)" = "$root_before" ]'
