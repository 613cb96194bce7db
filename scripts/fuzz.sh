#!/usr/bin/env bash
# fuzz.sh TIME PKG:Target... runs `go test -fuzz` on each target for TIME
# (a go duration: 30s, 10m) and prints, per target, the executions and new
# inputs the fuzzer reported. A crash leaves its input in the package's
# testdata/fuzz/<Target>/ (commit it: it is a regression test from then
# on); the script goes on with the other targets and exits 1 at the end.
set -uo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 TIME PKG:Target..." >&2
	exit 2
fi
time=$1
shift
go=${GO:-go}
failed=()
total=0
start=$(date +%s)
printf '%-36s %8s %12s %s\n' "target" "time" "executions" "result"
for spec in "$@"; do
	pkg=${spec%%:*}
	target=${spec##*:}
	log=$(mktemp)
	t0=$(date +%s)
	"$go" test -run='^$' -fuzz="^${target}\$" -fuzztime="$time" -fuzzminimizetime="${FUZZMINIMIZETIME:-5s}" "$pkg" >"$log" 2>&1
	status=$?
	note=
	if [ $status -ne 0 ] && ! grep -q 'Failing input written to' "$log"; then
		# No input found: the fuzzing engine itself failed (a worker that
		# timed out on a loaded machine gives "context deadline exceeded").
		# Try once more; if it fails again without an input, report it
		# without failing the run: there is no bug to fix.
		"$go" test -run='^$' -fuzz="^${target}\$" -fuzztime="$time" -fuzzminimizetime="${FUZZMINIMIZETIME:-5s}" "$pkg" >"$log" 2>&1
		status=$?
		if [ $status -ne 0 ] && ! grep -q 'Failing input written to' "$log"; then
			note=" (fuzzing engine error, no failing input: $(grep -m1 -i 'deadline\|error' "$log" | tr -s ' '))"
			status=0
		fi
	fi
	took=$(($(date +%s) - t0))
	# The fuzzer's progress lines: "fuzz: elapsed: 5s, execs: 12345 (...)".
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | awk '{print $2}')
	execs=${execs:-0}
	total=$((total + execs))
	result=ok
	if [ $status -ne 0 ]; then
		result=FAIL
		failed+=("$spec")
	fi
	printf '%-36s %7ss %12s %s%s\n' "${pkg#./}:$target" "$took" "$execs" "$result" "$note"
	if [ $status -ne 0 ]; then
		sed -e 's/^/    /' "$log" | grep -v '^    fuzz: elapsed' | tail -40
	fi
	rm -f "$log"
done
printf '%-36s %7ss %12s\n' "total" "$(($(date +%s) - start))" "$total"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: failing targets: ${failed[*]}" >&2
	echo "fuzz: their inputs are in the packages' testdata/fuzz/: fix the bug and commit the input as a regression test" >&2
	exit 1
fi
