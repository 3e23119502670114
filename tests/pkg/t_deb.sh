#!/usr/bin/env bash
# The Debian package, as CI builds and an operator installs it: dpkg-buildpackage from a fresh clone,
# lintian without errors, `apt-get install ./pgsteer_*.deb`, the versions the binaries print, the
# unit inert until a config exists, the group and state directory, `pgsteerd -n` on the shipped
# example, and a purge that leaves no file behind.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
pass() { echo "PASS pkg/$1"; }
fail() { echo "FAIL pkg/$1: ${*:2}"; }
skip() { echo "SKIP pkg/$1: ${*:2}"; }
check_eval() { if eval "$2"; then pass "$1"; else fail "$1" "$2"; fi; }

if [ "$(id -u)" -ne 0 ]; then skip deb "needs root (apt-get install)"; exit 0; fi
missing=""
for c in git dpkg-buildpackage dh lintian apt-get; do command -v "$c" > /dev/null || missing+=" $c"; done
if [ -n "$missing" ]; then skip deb "missing:$missing (scripts/deps.sh installs debhelper, lintian, git)"; exit 0; fi
# Never replace or purge a pgsteer the machine's operator installed.
if dpkg-query -W -f='${Status}' pgsteer 2>/dev/null | grep -q 'ok installed'; then
  skip deb "a pgsteer package is already installed here"; exit 0
fi

tmp=$(mktemp -d /tmp/pgsteer-pkg.XXXXXX)
installed=0
cleanup() {
  [ $installed -eq 1 ] && apt-get purge -y -q -o DPkg::Lock::Timeout=300 pgsteer > /dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
apt_q() { DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 "$@"; }

# A fresh clone of the committed tree: what CI checks out, nothing of the worktree's build/.
t0=$SECONDS
git clone -q "$top" "$tmp/src" || { fail build "git clone $top"; exit 1; }
echo "building from $(git -C "$tmp/src" log -1 --format='%h %s')"
if (cd "$tmp/src" && dpkg-buildpackage -us -uc -b) > "$tmp/build.log" 2>&1; then
  pass build
else
  fail build "dpkg-buildpackage failed"; tail -n 30 "$tmp/build.log"; exit 1
fi
echo "dpkg-buildpackage: $((SECONDS - t0))s"
deb=$(ls "$tmp"/pgsteer_*_*.deb 2>/dev/null | head -n1)
version=$(dpkg-parsechangelog -l "$tmp/src/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
check_eval deb_named "[ \"\$deb\" = \"$tmp/pgsteer_${version}_${arch}.deb\" ]"

# lintian: no error; the rest (warnings, info) are printed for the log.
lintian --info --fail-on error "$tmp"/pgsteer_*.changes > "$tmp/lintian.log" 2>&1
rc=$?
grep -E '^[EWI]: ' "$tmp/lintian.log"
echo "lintian: $(grep -c '^E: ' "$tmp/lintian.log") error(s), $(grep -c '^W: ' "$tmp/lintian.log") warning(s)"
check_eval lintian_no_errors "[ $rc -eq 0 ] && ! grep -q '^E: ' '$tmp/lintian.log'"

# What the package holds, before any maintainer script runs.
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' > "$tmp/contents"
for f in /usr/sbin/pgsteerd /usr/sbin/pgsteer /lib/systemd/system/pgsteerd.service \
         /usr/share/doc/pgsteer/pgsteer.conf.example /usr/share/man/man8/pgsteerd.8.gz \
         /usr/share/man/man8/pgsteer.8.gz /usr/share/man/man5/pgsteer.conf.5.gz \
         /usr/share/bash-completion/completions/pgsteer; do
  grep -qx "$f" "$tmp/contents" || fail "contents" "no $f in the package"
done
grep -q build/ "$tmp/contents" && fail contents "a build/ path in the package"
pass contents_checked

# Install as an operator does. Nothing may start: no config yet.
if apt_q install --no-install-recommends "$deb" > "$tmp/install.log" 2>&1; then
  installed=1; pass apt_install
else
  fail apt_install "apt-get install $deb"; tail -n 20 "$tmp/install.log"; exit 1
fi
dpkg -L pgsteer | sort > "$tmp/files"

v_cli=$(pgsteer --version 2>&1); v_d=$(pgsteerd -V 2>&1)
echo "versions: package $version, '$v_cli', '$v_d'"
check_eval version_same "[ \"\$v_cli\" = 'pgsteer $version' ] && [ \"\$v_d\" = 'pgsteerd $version' ]"

unit=/lib/systemd/system/pgsteerd.service
check_eval unit_waits_for_config \
  "grep -qx 'ConditionPathExists=/etc/pgsteer/pgsteer.conf' $unit && [ ! -e /etc/pgsteer/pgsteer.conf ]"
# Other pgsteerds may run here (labs, from build trees): none from the package.
started() { local p; for p in $(pgrep -x pgsteerd); do [ "$(readlink "/proc/$p/exe")" = /usr/sbin/pgsteerd ] && return 0; done; return 1; }
check_eval nothing_started "! started"
check_eval group_created "getent group pgsteer > /dev/null"
check_eval etc_dir_for_the_group "[ \"\$(stat -c '%a %U %G' /etc/pgsteer 2>/dev/null)\" = '750 root pgsteer' ]"
check_eval state_dir_created "[ \"\$(stat -c '%a %U' /var/lib/pgsteer 2>/dev/null)\" = '700 root' ]"

out=$(pgsteerd -n -f /usr/share/doc/pgsteer/pgsteer.conf.example 2>&1); rc=$?
echo "pgsteerd -n: rc $rc: $out"
check_eval example_checks "[ $rc -eq 0 ] && echo \"\$out\" | grep -q 'configuration OK'"
check_eval man_page_found "man -w pgsteerd > /dev/null 2>&1 || [ -e /usr/share/man/man8/pgsteerd.8.gz ]"

# Purge: every file the package put in place, the state directory and the unit's enablement go.
if apt_q purge pgsteer > "$tmp/purge.log" 2>&1; then
  installed=0; pass apt_purge
else
  fail apt_purge "apt-get purge pgsteer"; tail -n 20 "$tmp/purge.log"; exit 1
fi
left=()
while read -r f; do
  [ -e "$f" ] && [ ! -d "$f" ] && left+=("$f")
done < "$tmp/files"
for f in /var/lib/pgsteer /etc/pgsteer /etc/systemd/system/multi-user.target.wants/pgsteerd.service \
         /var/lib/systemd/deb-systemd-helper-enabled/pgsteerd.service.dsh-also; do
  [ -e "$f" ] || [ -L "$f" ] && left+=("$f")
done
check_eval purge_leaves_nothing "[ ${#left[@]} -eq 0 ] || { echo \"left: ${left[*]}\"; false; }"
check_eval purged_status "! dpkg-query -W -f='\${Status}' pgsteer 2>/dev/null | grep -q installed"
echo "pkg tier: $((SECONDS - t0))s"
