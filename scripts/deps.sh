#!/usr/bin/env bash
# Install every Debian 12 package pgsteer needs to build, test, run the lab and the bench.
# Idempotent: installs only what is missing. Services are never started by the install
# (the lab starts its own, by hand, inside network namespaces).
set -euo pipefail

PKGS=(
  # build
  make gcc clang llvm pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
  libxdp-dev xdp-tools  # libxdp's dispatcher (XDP shared with other programs); xdp-loader for tests/lab/t_xdpshare.sh
  libclang-rt-dev  # make fuzz: libFuzzer and the sanitizer runtimes for clang
  libnl-3-dev libnl-route-3-dev libcurl4-openssl-dev libmicrohttpd-dev libjson-c-dev libsystemd-dev libssl-dev
  libpq-dev  # the bench's query load (tests/tools/pgs_qload.c)
  # the Debian package (tests/pkg: dpkg-buildpackage from a fresh clone, lintian)
  git dpkg-dev debhelper lintian
  # lab and tests
  iproute2 ethtool procps psmisc util-linux kmod curl python3 socat tcpdump iptables
  hping3  # tests/lab/t_synflood.sh: a spoofed SYN flood inside the lab
  postgresql-15 postgresql-client-15 pgbouncer haproxy keepalived prometheus
  # the bench (scripts/bench.sh): IPVS's admin tool and the plots
  ipvsadm gnuplot-nox
  # the browser the example app's tests drive (tests/lab/t_app.sh)
  chromium
)
# the Vagrant lab's tests: its container provider (docker, an image debootstrapped from Debian's
# archive) and the VM providers' validation; not needed inside the lab's own VMs (PGSTEER_DEPS_VAGRANT=0)
if [ "${PGSTEER_DEPS_VAGRANT:-1}" = 1 ]; then
  PKGS+=(vagrant vagrant-libvirt docker.io debootstrap)
fi
NODE_MIN=20.9 # Next.js 16 (examples/app)

# Succeed if node runs and is at least NODE_MIN, and npm runs.
node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number),[x,y]=process.argv[1].split(".").map(Number);process.exit(a>x||(a===x&&b>=y)?0:1)' "$NODE_MIN"
}

# Node.js for the example app: the machine's own if new enough; else Debian's nodejs and npm, and
# if Debian's Node is older than NODE_MIN (Debian 12 has 18), the npm registry's node package
# (its binary comes inside the package) installed globally, ahead of Debian's on PATH.
install_node() {
  node_ok && return 0
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt-get -q install -y --no-install-recommends -o Acquire::Retries=3 nodejs npm
  fi
  node_ok && return 0
  echo "deps: node $(node -v) is older than $NODE_MIN: installing node@20 from the npm registry"
  npm install -g --no-audit --no-fund node@20
  hash -r
  node_ok || { echo "deps: node >= $NODE_MIN still not found on PATH (have $(node -v))" >&2; exit 1; }
}

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ] && node_ok; then exit 0; fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}$(node_ok || echo " (and node >= $NODE_MIN with npm)") (run as root: sudo $0)" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
# Keep the packages' own services from starting (keepalived, haproxy, postgresql, prometheus):
# the lab runs its own instances in namespaces.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; own_policy=1
fi
trap '[ $own_policy -eq 1 ] && rm -f "$policy"' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get -q update -o Acquire::Retries=3
[ ${#missing[@]} -eq 0 ] || apt-get -q install -y --no-install-recommends -o Acquire::Retries=3 "${missing[@]}"
install_node
