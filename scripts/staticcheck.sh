#!/usr/bin/env bash
# staticcheck.sh runs staticcheck (the version below, fetched by `go run`
# through the module proxy) on the module. Findings listed in
# scripts/staticcheck-known.txt ("path: CHECK", one per line, # comments)
# are reported but tolerated: they are known and owned by someone; remove
# the line when the finding is fixed. Anything else fails.
set -uo pipefail
cd "$(dirname "$0")/.."
version=v0.8.2
known=scripts/staticcheck-known.txt
out=$(mktemp)
trap 'rm -f "$out"' EXIT
${GO:-go} run "honnef.co/go/tools/cmd/staticcheck@$version" ./... >"$out" 2>&1
status=$?
if [ $status -ne 0 ] && ! grep -qE '^[^ ]+:[0-9]+:[0-9]+: .*\([A-Z]+[0-9]+\)$' "$out"; then
	cat "$out"
	echo "staticcheck $version did not run (exit $status)" >&2
	exit 1
fi
new=0
while IFS= read -r line; do
	# path:line:col: message (CHECK)
	path=${line%%:*}
	check=$(sed -nE 's/.*\(([A-Z]+[0-9]+)\)$/\1/p' <<<"$line")
	if [ -n "$check" ] && grep -qxF "$path: $check" <(grep -v '^#' "$known" 2>/dev/null); then
		echo "known: $line"
	elif [ -n "$check" ]; then
		echo "$line"
		new=$((new + 1))
	fi
done <"$out"
if [ $new -gt 0 ]; then
	echo "staticcheck: $new findings (fix them, or list one in $known with its owner if it must stay)" >&2
	exit 1
fi
echo "staticcheck $version: no new findings"
