#!/usr/bin/env bash
# Runs pgsteer's tests: unit (plain C), bpf (BPF_PROG_TEST_RUN tables), lab (network namespaces, both
# attach modes), bench (BENCH_QUICK=1 scripts/bench.sh: every path produced figures), vagrant (the
# Vagrant lab on its container provider), pkg (the Debian package built from a fresh clone,
# installed, purged), fuzz (every libFuzzer harness for FUZZ_SECONDS), sanitize (unit, BPF and lab
# with the ASan+UBSan build in $BUILD). `all` (make test, CI) is every one of them: the sanitized
# build ($SAN_BUILD) runs the unit and BPF tests and the lab's XDP pass, the plain build the unit
# and BPF tests and the TC pass. Every case prints "PASS name", "FAIL name: why" or "SKIP name:
# why"; the run ends with one line "N passed, N failed, N skipped" over everything it ran.
set -uo pipefail
# The tests own their environment: no PG* variable, locale or current directory of the caller counts.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' | grep -v '^PGBENCH_SCALE$')
export LC_ALL=C

top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
cd /
SAN_BUILD=${SAN_BUILD:-$BUILD/san}
export BUILD SAN_BUILD
what=${1:-all}
log=$(mktemp -d /tmp/pgsteer-test.XXXXXX)
results=$log/results
: > "$results"

# Run one test program or script; its PASS/FAIL/SKIP lines go to the results, the rest to its log.
# A sanitized program's report goes to $log/san (sanitize_env), not to its log: a FAIL names the
# reports that appeared while the test ran, with their first error line.
run_one() {
	local name=$1; shift
	local out=$log/$(echo "${TAG:-}$name" | tr '/ ' '__').log rc before="" reports="" f
	[ -d "$log/san" ] && before=$(ls "$log/san")
	"$@" > "$out" 2>&1
	rc=$?
	[ -d "$log/san" ] && reports=$(comm -13 <(sort <<< "$before") <(ls "$log/san" | sort) | sed "s#^#$log/san/#" | xargs)
	grep -E '^(PASS|FAIL|SKIP) ' "$out" | sed -E "s#^(PASS|FAIL|SKIP) #\\1 ${TAG:-}#" | tee -a "$results"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
		echo "FAIL ${TAG:-}$name: exited with status $rc (log: $out${reports:+; sanitizer report: $reports})" | tee -a "$results"
		for f in $reports; do grep -m1 -E 'ERROR|runtime error' "$f" | sed 's/^/    /'; done
		tail -n 20 "$out" | sed 's/^/    /'
	elif grep -q '^FAIL ' "$out"; then
		echo "    (log: $out${reports:+; sanitizer report: $reports})"
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
	local lab=$top/scripts/lab.sh mode t i first=${LAB_FIRST:-1}
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP lab: needs root" | tee -a "$results"
		return
	fi
	# Plain C tests against real PostgreSQL and PgBouncer they start themselves (root, no lab needed).
	for t in "$BUILD"/tests/lab_*; do
		[ $first -eq 1 ] && [ -x "$t" ] && run_one "lab/$(basename "$t")" "$t"
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
			[[ $("$lab" exec lb1 pgsteer status -j 2>/dev/null) == *'"state": "MASTER"'* ]] && break
			sleep 0.2
		done
		for t in "$top"/tests/lab/t_*.sh; do
			if grep -q '^# ONCE=1' "$t" && [ $first -eq 0 ]; then continue; fi
			case " ${LAB_SKIP:-} " in *" $(basename "$t" .sh) "*) continue ;; esac
			run_one "lab/$mode/$(basename "$t" .sh)" timeout 1500 bash "$t"
		done
		"$lab" down > "$log/lab-down-$mode.log" 2>&1 ||
			echo "FAIL lab/$mode/down: (log: $log/lab-down-$mode.log)" | tee -a "$results"
		first=0
	done
}

# The bench's smoke test: BENCH_QUICK=1 make bench's script in its own lab run (LAB_NS), then one line
# per path: PASS when every workload produced TPS, p50 and p99, SKIP when the bench could not run
# the path here (it says why). Speed is never asserted.
run_bench() {
	local out=$log/bench
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP bench: needs root" | tee -a "$results"
		return
	fi
	echo "== bench (BENCH_QUICK=1)"
	if ! BENCH_QUICK=1 BENCH_DIR=$out timeout 900 "$top/scripts/bench.sh" > "$log/bench.log" 2>&1; then
		echo "FAIL bench: scripts/bench.sh failed (log: $log/bench.log)" | tee -a "$results"
		tail -n 15 "$log/bench.log" | sed 's/^/    /'
		return
	fi
	python3 - "$out/results.json" <<'PY' | tee -a "$results"
import json, sys
doc = json.load(open(sys.argv[1]))
for p in "direct xdp tc haproxy ipvs nat fwd".split():
    rows = [r for r in doc["rows"] if r["path"] == p]
    if p in doc["skipped"]:
        print(f"SKIP bench/{p}: {doc['skipped'][p]}")
    elif not rows:
        print(f"FAIL bench/{p}: no figures")
    else:
        bad = [f"{r['clients']} clients{' -C' if r['connect'] else ''}" for r in rows
               if any(r[k] is None for k in ("tps", "p50_ms", "p99_ms"))]
        if bad:
            print(f"FAIL bench/{p}: no TPS or latency for {', '.join(bad)}")
        else:
            print(f"PASS bench/{p}: " + ", ".join(f"{r['clients']}{'C' if r['connect'] else ''}: {r['tps']:.0f} tps"
                                                  for r in sorted(rows, key=lambda r: (r['connect'], r['clients']))))
PY
}

# The Vagrant lab with its container provider (vagrant/README.md); SKIPs where it cannot run.
run_vagrant() {
	echo "== vagrant (docker provider)"
	local steps=""
	[ -s "$log/lab-up-steps" ] && steps=$log/lab-up-steps
	NSLAB_STEPS=$steps run_one vagrant timeout 1200 bash "$top/tests/vagrant/t_vagrant.sh"
}

# Every libFuzzer harness (built by `make fuzz`) for FUZZ_SECONDS, from its seed corpus
# (tests/fuzz/corpus/NAME: seeds and every input that once failed) with its dictionary
# (tests/fuzz/NAME.dict) and options (tests/fuzz/NAME.options, one flag a line). A crash, a leak, a
# sanitizer report, a failed assertion or a timeout is a FAIL with the input kept in the log dir.
run_fuzz() {
	local t name work out args rc runs
	for t in "$BUILD"/fuzz/fuzz_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		work=$log/fuzz-$name.corpus out=$log/fuzz-$name.log
		mkdir -p "$work"
		args=(-max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=1024 -close_fd_mask=3
		      -print_final_stats=1 -artifact_prefix="$log/fuzz-$name-")
		[ -f "$top/tests/fuzz/$name.dict" ] && args+=(-dict="$top/tests/fuzz/$name.dict")
		[ -f "$top/tests/fuzz/$name.options" ] && mapfile -t -O ${#args[@]} args < <(grep -v '^#' "$top/tests/fuzz/$name.options")
		"$t" "${args[@]}" "$work" "$top/tests/fuzz/corpus/$name" > "$out" 2>&1
		rc=$?
		runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$out")
		if [ $rc -eq 0 ]; then
			echo "PASS fuzz/$name: ${runs:-?} executions in ${FUZZ_SECONDS:-20} s, corpus $(ls "$work" | wc -l) new" | tee -a "$results"
		else
			echo "FAIL fuzz/$name: exit $rc, input kept as $(ls "$log/fuzz-$name-"* 2>/dev/null | head -1) (log: $out)" | tee -a "$results"
			grep -E -m1 -A12 '^==[0-9]+==ERROR|runtime error|Assertion|deadly signal|ALARM|out-of-memory|malloc limit' "$out" | sed 's/^/    /'
		fi
	done
}

# The sanitizers' environment (BUILD is an ASan+UBSan build): every report of a test, pgsteerd or
# pgsteer goes to a file in $log/san; sanitize_reports makes any such file a FAIL (a leak, a bad
# access, undefined behaviour).
sanitize_env() {
	mkdir -p "$log/san"
	# a make run by a test (install.sh) builds with the same flags, never relinks without them
	export SANITIZE=1
	export ASAN_OPTIONS="log_path=$log/san/asan:detect_leaks=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
	export UBSAN_OPTIONS="log_path=$log/san/ubsan:print_stacktrace=1:halt_on_error=1"
	export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
}

sanitize_reports() {
	local f
	if compgen -G "$log/san/*" > /dev/null; then
		for f in "$log"/san/*; do
			echo "FAIL sanitize/$(basename "$f"): $(grep -m1 -E 'ERROR|runtime error' "$f")" | tee -a "$results"
			grep -m1 -A14 -E '^==[0-9]+==ERROR|runtime error' "$f" | sed 's/^/    /'
		done
	else
		echo "PASS sanitize/no_reports: no ASan, UBSan or LSan report from the tests, pgsteerd or pgsteer" | tee -a "$results"
	fi
}

# `make check-sanitize`: BUILD is an ASan+UBSan build. Unit and BPF tests, then the lab in one attach
# mode with the sanitized pgsteerd and pgsteer.
run_sanitize() {
	(
		sanitize_env
		TAG=san/ run_unit
		TAG=san/ run_bpf
		# One attach mode, and not the example app's browser run (Chromium and Node for minutes;
		# the same failovers of pgsteerd as t_failover).
		LAB_MODES=${LAB_MODES:-xdp} LAB_SKIP=${LAB_SKIP-t_app} run_lab
	)
	sanitize_reports
}

# Everything CI needs, in one run and one summary line. The lab comes up once per attach mode as
# in `lab`; its first pass (XDP) runs the sanitized pgsteerd and pgsteer ($SAN_BUILD), the second
# (TC) the plain build: both attach modes, both builds, and a third lab pass would cost CI minutes.
run_all() {
	local modes
	read -ra modes <<< "${LAB_MODES:-xdp tc}"
	tier unit run_unit
	tier bpf run_bpf
	if [ -x "$SAN_BUILD/pgsteerd" ]; then
		tier "sanitize (unit, bpf, lab ${modes[0]})" all_sanitized "${modes[0]}"
		if [ ${#modes[@]} -gt 1 ]; then
			LAB_MODES="${modes[*]:1}" LAB_FIRST=0 tier "lab ${modes[*]:1}" run_lab
		fi
	else
		echo "FAIL sanitize: no sanitized build in $SAN_BUILD (make test builds it; or set SAN_BUILD)" | tee -a "$results"
		tier lab run_lab
	fi
	FUZZ_SECONDS=${FUZZ_SECONDS:-15} tier fuzz run_fuzz
	tier bench run_bench
	tier vagrant run_vagrant
	tier pkg run_pkg
}

# all's sanitized part: unit, BPF, the lab in attach mode $1 (with its tests that run once).
all_sanitized() {
	(
		# The example app's build stays the plain build's (the vagrant tier reuses it).
		export APP_BUILD_ROOT=${APP_BUILD_ROOT:-$BUILD/app}
		BUILD=$SAN_BUILD
		sanitize_env
		TAG=san/ run_unit
		TAG=san/ run_bpf
		LAB_MODES=$1 run_lab
	)
	sanitize_reports
}

# Run a tier and say how long it took (the CI budget is counted in these).
tier() {
	local name=$1 t0=$SECONDS
	shift
	"$@"
	echo "    ($name: $((SECONDS - t0)) s)"
}

# The Debian package: build from a fresh clone, lintian, apt-get install, purge (tests/pkg).
run_pkg() {
	echo "== pkg (Debian package)"
	run_one pkg timeout 900 bash "$top/tests/pkg/t_deb.sh"
}

case "$what" in
unit) run_unit ;;
sanitize) run_sanitize ;;
fuzz) run_fuzz ;;
bpf) run_bpf ;;
lab) run_lab ;;
bench) run_bench ;;
vagrant) run_vagrant ;;
pkg) run_pkg ;;
all) run_all ;;
*) echo "usage: $0 [unit|bpf|lab|bench|vagrant|pkg|all|fuzz|sanitize]" >&2; exit 2 ;;
esac

passed=$(grep -c '^PASS ' "$results")
failed=$(grep -c '^FAIL ' "$results")
skipped=$(grep -c '^SKIP ' "$results")
echo
echo "logs: $log ($SECONDS s)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
