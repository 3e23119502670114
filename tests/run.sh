#!/usr/bin/env bash
# Runs pgsteer's tests: unit (plain C), bpf (BPF_PROG_TEST_RUN tables), lab (network namespaces, both
# attach modes), vagrant (the Vagrant lab on its container provider). Every case prints "PASS name",
# "FAIL name: why" or "SKIP name: why"; the run ends
# with one line "N passed, N failed, N skipped".
set -uo pipefail
# The tests own their environment: no PG* variable, locale or current directory of the caller counts.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' | grep -v '^PGBENCH_SCALE$')
export LC_ALL=C

top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
cd /
export BUILD
what=${1:-all}
log=$(mktemp -d /tmp/pgsteer-test.XXXXXX)
results=$log/results
: > "$results"

# Run one test program or script; its PASS/FAIL/SKIP lines go to the results, the rest to its log.
run_one() {
	local name=$1; shift
	local out=$log/$(echo "$name" | tr '/ ' '__').log rc
	"$@" > "$out" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP) ' "$out" | tee -a "$results"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
		echo "FAIL $name: exited with status $rc (log: $out)" | tee -a "$results"
		tail -n 20 "$out" | sed 's/^/    /'
	elif grep -q '^FAIL ' "$out"; then
		echo "    (log: $out)"
	fi
}

run_unit() {
	local t
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
	done
	run_one unit/install "$top/tests/unit/install.sh"
}

run_bpf() {
	local t
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP bpf: needs root" | tee -a "$results"
		return
	fi
	for t in "$BUILD"/tests/bpf_*; do
		[ -x "$t" ] && run_one "bpf/$(basename "$t")" "$t"
	done
}

# The lab comes up once per attach mode (XDP, then TC), every tests/lab/t_*.sh runs against it, and
# it goes down again. Tests that do not depend on the attach mode say so (ONCE=1 in their header)
# and run in the first pass only.
run_lab() {
	local lab=$top/scripts/lab.sh mode t i first=1
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP lab: needs root" | tee -a "$results"
		return
	fi
	# Plain C tests against real PostgreSQL and PgBouncer they start themselves (root, no lab needed).
	for t in "$BUILD"/tests/lab_*; do
		[ -x "$t" ] && run_one "lab/$(basename "$t")" "$t"
	done
	for mode in ${LAB_MODES:-xdp tc}; do
		export ATTACH=$mode
		echo "== lab ($mode)"
		# The provisioning steps up ran: the vagrant tier compares its containers' with them.
		if ! PROVISION_TRACE=$log/lab-up-steps timeout 300 "$lab" up > "$log/lab-up-$mode.log" 2>&1; then
			echo "FAIL lab/$mode/up: the lab did not come up (log: $log/lab-up-$mode.log)" | tee -a "$results"
			tail -n 15 "$log/lab-up-$mode.log" | sed 's/^/    /'
			"$lab" down > /dev/null 2>&1
			continue
		fi
		echo "PASS lab/$mode/up" | tee -a "$results"
		# The tests start from a settled pair: lb1 elected master (a few advert intervals after up;
		# the deadline only ends a hung lab).
		for ((i = SECONDS + 60; SECONDS < i; )); do
			"$lab" exec lb1 pgsteer status -j 2>/dev/null | grep -q '"state": "MASTER"' && break
			sleep 0.2
		done
		for t in "$top"/tests/lab/t_*.sh; do
			if grep -q '^# ONCE=1' "$t" && [ $first -eq 0 ]; then continue; fi
			run_one "lab/$mode/$(basename "$t" .sh)" timeout 900 bash "$t"
		done
		"$lab" down > "$log/lab-down-$mode.log" 2>&1 ||
			echo "FAIL lab/$mode/down: (log: $log/lab-down-$mode.log)" | tee -a "$results"
		first=0
	done
}

# The Vagrant lab with its container provider (vagrant/README.md); SKIPs where it cannot run.
run_vagrant() {
	echo "== vagrant (docker provider)"
	local steps=""
	[ -s "$log/lab-up-steps" ] && steps=$log/lab-up-steps
	NSLAB_STEPS=$steps run_one vagrant timeout 1200 bash "$top/tests/vagrant/t_vagrant.sh"
}

case "$what" in
unit) run_unit ;;
bpf) run_bpf ;;
lab) run_lab ;;
vagrant) run_vagrant ;;
all) run_unit; run_bpf; run_lab; run_vagrant ;;
*) echo "usage: $0 [unit|bpf|lab|vagrant|all]" >&2; exit 2 ;;
esac

passed=$(grep -c '^PASS ' "$results")
failed=$(grep -c '^FAIL ' "$results")
skipped=$(grep -c '^SKIP ' "$results")
echo
echo "logs: $log"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
