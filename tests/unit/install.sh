#!/usr/bin/env bash
# `make install DESTDIR=...` lays out every file, systemd-analyze accepts the unit, uninstall removes them.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
files=(usr/sbin/pgsteerd usr/sbin/pgsteer usr/share/man/man8/pgsteerd.8 usr/share/man/man8/pgsteer.8
       usr/share/man/man5/pgsteer.conf.5 usr/share/doc/pgsteer/pgsteer.conf.example usr/lib/systemd/system/pgsteerd.service
       usr/share/bash-completion/completions/pgsteer)
make -C "$top" -s install DESTDIR="$tmp" PREFIX=/usr > "$tmp.log" 2>&1
missing=(); for f in "${files[@]}"; do [ -e "$tmp/$f" ] || missing+=("$f"); done
if [ ${#missing[@]} -eq 0 ]; then echo "PASS install/layout"; else echo "FAIL install/layout: missing ${missing[*]}"; fi
if grep -q "build/" "$tmp/usr/lib/systemd/system/pgsteerd.service"; then echo "FAIL install/no_build_path: unit names build/"; else echo "PASS install/no_build_path"; fi
if command -v systemd-analyze > /dev/null; then
  # verify resolves ExecStart= on the running system: point it at the DESTDIR copies.
  # Under a name of its own: a pgsteerd.service installed (or masked) on this host must not count.
  sed "s|/usr/s\?bin/|$tmp/usr/sbin/|g" "$tmp/usr/lib/systemd/system/pgsteerd.service" > "$tmp/pgsteerd-verify-$$.service"
  if out=$(systemd-analyze verify --man=no "$tmp/pgsteerd-verify-$$.service" 2>&1) && [ -z "$out" ]; then echo "PASS install/systemd_analyze_verify"
  else echo "FAIL install/systemd_analyze_verify: $out"; fi
else echo "SKIP install/systemd_analyze_verify: no systemd-analyze"; fi
# Completion offers the commands of `pgsteer --help` (server names need a daemon: the lab's t_cli).
comp=$(PATH=$tmp/usr/sbin:$PATH bash -c '. "$1"; COMP_WORDS=(pgsteer dr); COMP_CWORD=1; _pgsteer; echo "${COMPREPLY[*]}"
  COMP_WORDS=(pgsteer -j st); COMP_CWORD=2; _pgsteer; echo "${COMPREPLY[*]}"' _ "$tmp/usr/share/bash-completion/completions/pgsteer" 2>&1)
if [ "$comp" = $'drain\nstatus stat' ]; then echo "PASS install/bash_completion_commands"
else echo "FAIL install/bash_completion_commands: got '$comp'"; fi
make -C "$top" -s uninstall DESTDIR="$tmp" PREFIX=/usr > /dev/null 2>&1
left=$(find "$tmp/usr" -type f | wc -l)
if [ "$left" -eq 0 ]; then echo "PASS install/uninstall_removes_all"; else echo "FAIL install/uninstall_removes_all: $left file(s) left"; fi
rm -f "$tmp.log"
