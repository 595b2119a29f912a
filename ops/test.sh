#!/usr/bin/env bash
# test: what `make test` runs once `make services-up` has started the local services.
#   pass 1: the unit tests once under the race detector (-race -short, no integration tag;
#           allocation budgets are skipped under it: see the race_test.go/norace_test.go pairs)
#   pass 2: every unit and integration test except outage tests (packages in parallel)
#   pass 3: outage tests (TestOutage*: they stop/restart services), one package at a time
# Full `go test -v` output goes to .artifacts/test-<pass>.log; the console gets package results,
# failing tests with their output, and a closing summary line. Exits non-zero if either pass fails.
# Env: SY_TEST_TIMEOUT (per test binary, default 20m), SY_TEST_PKGS (default ./...),
# SY_TEST_RACE=0 skips pass 1.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=services/env.sh
source ops/services/env.sh
# the SciPy/statsmodels reference of analytics/internal/stats (skipped, with a message, without it)
if [ -z "${SY_PYTHON:-}" ]; then
	SY_PYTHON="$(bash ops/pystats.sh)" || { echo "ops/pystats.sh failed: the statistics reference tests will be skipped"; SY_PYTHON=python3; }
	export SY_PYTHON
fi

timeout="${SY_TEST_TIMEOUT:-20m}"
read -r -a pkgs <<<"${SY_TEST_PKGS:-./...}"
mkdir -p .artifacts
total_pass=0 total_fail=0 total_skip=0
failed_passes=()

run_pass() {
	local name="$1"
	shift
	local log=".artifacts/test-$name.log" t0=$SECONDS rc
	echo "== $name: go test -count=1 -timeout $timeout $* ${pkgs[*]}"
	: >"$log" # empty before tail starts, so the progress never shows a previous run's lines
	go test -count=1 -timeout "$timeout" -v "$@" "${pkgs[@]}" >"$log" 2>&1 &
	local gopid=$!
	# live progress: package results and top-level failures
	tail -n +1 -f --pid="$gopid" "$log" 2>/dev/null | grep --line-buffered -E '^(ok|FAIL|--- FAIL|panic:)' || true
	wait "$gopid"
	rc=$?
	local p f s
	p=$(grep -cE '^--- PASS' "$log" || true)
	f=$(grep -cE '^--- FAIL' "$log" || true)
	s=$(grep -cE '^--- SKIP' "$log" || true)
	# a build failure, panic or timeout fails the pass without a --- FAIL line: count it once
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f)) total_skip=$((total_skip + s))
	if [ "$rc" -ne 0 ]; then
		failed_passes+=("$name")
		echo "-- $name FAILED (exit $rc) after $((SECONDS - t0))s; output of failing tests and build errors:"
		# everything but the chatter of passing tests
		grep -vE '^(=== (RUN|PAUSE|CONT|NAME)|\s*--- (PASS|SKIP)|PASS$|ok\s)' "$log" | tail -n 400
	else
		echo "-- $name ok in $((SECONDS - t0))s: $p passed, $s skipped (top-level tests; log $log)"
	fi
}

if [ "${SY_TEST_RACE:-1}" != 0 ]; then
	run_pass race -race -short
fi
run_pass main -tags integration -skip '^TestOutage'
run_pass outage -tags integration -p 1 -run '^TestOutage'

# the Kafka leader-kill stall figures (ops/clustertest; compare with docs/operations.md)
grep -hoE '(changes|events): STALL .*' .artifacts/test-outage.log 2>/dev/null | sed 's/^/kafka leader kill: /' || true

echo
if [ ${#failed_passes[@]} -gt 0 ]; then
	echo "test: FAILED passes: ${failed_passes[*]} (full logs in .artifacts/)"
else
	echo "test: all passes ok (full logs in .artifacts/)"
fi
echo "tests: $total_pass passed, $total_fail failed, $total_skip skipped"
[ ${#failed_passes[@]} -eq 0 ]
