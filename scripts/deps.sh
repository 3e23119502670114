#!/usr/bin/env bash
# Install every Debian 12 package pgsteer needs to build, test, run the lab and the bench.
# Idempotent: installs only what is missing. Services are never started by the install
# (the lab starts its own, by hand, inside network namespaces).
set -euo pipefail

PKGS=(
  # build
  make gcc clang llvm pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
  libnl-3-dev libnl-route-3-dev libcurl4-openssl-dev libmicrohttpd-dev libjson-c-dev libssl-dev
  # lab and tests
  iproute2 ethtool procps psmisc util-linux kmod curl python3 socat tcpdump
  postgresql-15 postgresql-client-15 pgbouncer haproxy keepalived prometheus
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]} (run as root: sudo $0)" >&2
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
apt-get -q install -y --no-install-recommends -o Acquire::Retries=3 "${missing[@]}"
