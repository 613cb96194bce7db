#!/usr/bin/env bash
# bench.sh (make bench): kmip-adapter beside Debian's pykmip-server, on
# one machine, in one run.
#
# It builds the binaries, prepares a fresh development environment in a
# temporary directory, measures the raw PKCS#11 rates on its SoftHSM2 token
# (kmipctl bench hsm), then runs the same workloads with kmipctl bench
# against the adapter and against pykmip-server (an ECDSA PKI of its own:
# pykmip-server speaks TLS 1.2 only, and with an RSA certificate offers no
# suite that Go enables by default), and writes the side-by-side table and
# chart. Both servers are up for the whole run, and measured in turn one
# workload at a time (the adapter's, then the peer's), so that the two
# sides of a ratio are measured minutes apart at most: on a shared
# machine the load changes between the first workload and the last. The
# server not being measured is idle.
#
# Environment:
#   BENCH_WORKLOADS  workloads (default: all)
#   BENCH_CONNS      connection counts (default: 1,16)
#   BENCH_DURATION   length of each run (default: 10s)
#   BENCH_KEYS       keys prepared for get, locate and mixed (default: 256)
#   BENCH_OUT        where results.md, chart.svg and results.json go
#                    (default: docs/bench)
#   BENCH_KEEP=1     keep the temporary directory (logs, raw JSON)
#   BENCH_AUDIT_SYNC the adapter's audit.sync (default: as dev init writes
#                    it, fsync); "none" measures what waiting for the
#                    audit record's fsync costs. The table's heading says
#                    which setting ran.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORKLOADS=${BENCH_WORKLOADS:-all}
CONNS=${BENCH_CONNS:-1,16}
DURATION=${BENCH_DURATION:-10s}
KEYS=${BENCH_KEYS:-256}
AUDIT_SYNC=${BENCH_AUDIT_SYNC:-}
case $AUDIT_SYNC in
"" | fsync | none) ;;
*)
	echo "bench: BENCH_AUDIT_SYNC: $AUDIT_SYNC is neither fsync nor none" >&2
	exit 1
	;;
esac
OUT=${BENCH_OUT:-$ROOT/docs/bench}
PYKMIP=/usr/bin/pykmip-server
GO=${GO:-go}

for need in /usr/lib/softhsm/libsofthsm2.so "$PYKMIP"; do
	if [ ! -e "$need" ]; then
		echo "bench: $need is missing (apt-get install softhsm2 python3-pykmip)" >&2
		exit 1
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmip-bench.XXXXXX")
BIN=$TMP/bin
ADAPTER_PID=
PEER_PGID=

log() { printf '\n== %s\n' "$*" >&2; }

# stop_adapter sends SIGTERM and waits for the drain.
stop_adapter() {
	if [ -n "$ADAPTER_PID" ]; then
		kill -TERM "$ADAPTER_PID" 2>/dev/null || true
		wait "$ADAPTER_PID" 2>/dev/null || true
		ADAPTER_PID=
	fi
}

# stop_peer stops pykmip-server's whole process group (it runs children):
# SIGTERM, which it takes 15-20 s to honour, then SIGKILL after 30 s.
stop_peer() {
	if [ -n "$PEER_PGID" ]; then
		kill -TERM -- "-$PEER_PGID" 2>/dev/null || true
		for _ in $(seq 1 60); do
			kill -0 -- "-$PEER_PGID" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL -- "-$PEER_PGID" 2>/dev/null || true
		wait "$PEER_PGID" 2>/dev/null || true
		PEER_PGID=
	fi
}

cleanup() {
	stop_adapter
	stop_peer
	if [ "${BENCH_KEEP:-}" = 1 ]; then
		echo "bench: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port asks the kernel for an unused port on 127.0.0.1.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_kmip waits until a KMIP server answers Discover Versions.
wait_kmip() {
	local what=$1
	shift
	for _ in $(seq 1 120); do
		if "$BIN/kmipctl" kmip discover --timeout 2s "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	echo "bench: $what did not answer within 60 s" >&2
	return 1
}

log "build"
(cd "$ROOT" && $GO build -o "$BIN/" ./cmd/...)

log "fresh development environment in $TMP/dev"
ADAPTER_ADDR=127.0.0.1:$(free_port)
"$BIN/kmipctl" dev init --dir "$TMP/dev" --listen "$ADAPTER_ADDR" >/dev/null
CONFIG=$TMP/dev/config.yaml
if [ -n "$AUDIT_SYNC" ]; then
	# The sync line of the audit block only.
	awk -v v="$AUDIT_SYNC" '/^audit:/{a=1} /^[^ ]/&&!/^audit:/{a=0} a&&$1=="sync:"{sub(/sync: .*/, "sync: " v)} {print}' "$CONFIG" >"$CONFIG.new"
	mv "$CONFIG.new" "$CONFIG"
fi

log "raw PKCS#11 rates on the same SoftHSM2 token"
"$BIN/kmipctl" bench hsm --config "$CONFIG" --duration 3s --out "$TMP/hsm.json"

log "kmip-adapter on $ADAPTER_ADDR"
"$BIN/kmip-adapter" serve --config "$CONFIG" --log-level warn --log-format json >"$TMP/adapter.log" 2>&1 &
ADAPTER_PID=$!
wait_kmip kmip-adapter --config "$CONFIG"

log "pykmip-server (Debian python3-pykmip)"
PEER_DIR=$TMP/peer
mkdir -p "$PEER_DIR/policies"
"$BIN/kmipctl" bench pki --dir "$PEER_DIR/pki" >/dev/null
PEER_PORT=$(free_port)
cat >"$PEER_DIR/server.conf" <<EOF
[server]
hostname=127.0.0.1
port=$PEER_PORT
certificate_path=$PEER_DIR/pki/server.crt
key_path=$PEER_DIR/pki/server.key
ca_path=$PEER_DIR/pki/ca.crt
auth_suite=TLS1.2
policy_path=$PEER_DIR/policies
enable_tls_client_auth=True
logging_level=WARNING
database_path=$PEER_DIR/pykmip.db
EOF
setsid "$PYKMIP" -f "$PEER_DIR/server.conf" -l "$PEER_DIR/server.log" >"$PEER_DIR/stdout.log" 2>&1 &
PEER_PGID=$!
PEER_ARGS=(--addr "127.0.0.1:$PEER_PORT" --ca "$PEER_DIR/pki/ca.crt" --cert "$PEER_DIR/pki/client.crt" --key "$PEER_DIR/pki/client.key")
wait_kmip pykmip-server "${PEER_ARGS[@]}"

# The workloads one by one ("all": the list kmipctl bench --help gives).
if [ "$WORKLOADS" = all ]; then
	WORKLOADS=$("$BIN/kmipctl" bench --help | awk '/^Workloads:/{w=1;next} w&&/^  [a-z]/{print $1;next} w{exit}' | paste -sd, -)
	if [ -z "$WORKLOADS" ]; then
		echo "bench: no workload list in kmipctl bench --help" >&2
		exit 1
	fi
fi
ADAPTER_RESULTS=()
PEER_RESULTS=()
for w in ${WORKLOADS//,/ }; do
	RUN_ARGS=(--workload "$w" --conns "$CONNS" --duration "$DURATION" --keys "$KEYS")
	log "$w: kmip-adapter, then pykmip-server"
	# --server-pid: the server's CPU per operation goes into the report
	# beside ops/s (it hardly moves with other load on the machine).
	"$BIN/kmipctl" bench --config "$CONFIG" "${RUN_ARGS[@]}" --server-pid "$ADAPTER_PID" --label kmip-adapter --out "$TMP/adapter-$w.json"
	ADAPTER_RESULTS+=("$TMP/adapter-$w.json")
	# pykmip-server fails some workloads (the vCenter conversation): its
	# errors are in its results, and the run goes on.
	if "$BIN/kmipctl" bench "${PEER_ARGS[@]}" "${RUN_ARGS[@]}" --server-pid "$PEER_PGID" --label pykmip-server --out "$TMP/peer-$w.json" ||
		[ -s "$TMP/peer-$w.json" ]; then
		PEER_RESULTS+=("$TMP/peer-$w.json")
	fi
done
stop_adapter
stop_peer

log "report"
mkdir -p "$OUT"
# The audit setting the adapter ran with, for the table's heading: dev
# init ships the audit log on, and with audit.sync fsync every operation
# waits for its record to be on disk.
AUDIT_DESC=$(awk '/^audit:/{a=1;next} a&&/^[^ ]/{a=0} a&&$1=="path:"{p=$2} a&&$1=="sync:"{s=$2} END{if (p==""||p=="\"\"") print "adapter audit log off"; else print "adapter audit log on, audit.sync " s}' "$TMP/dev/config.yaml")
PEER_LIST=$(IFS=,; echo "${PEER_RESULTS[*]}")
"$BIN/kmipctl" bench report --adapter "$(IFS=,; echo "${ADAPTER_RESULTS[*]}")" ${PEER_LIST:+--peer "$PEER_LIST"} --hsm "$TMP/hsm.json" \
	--peer-name pykmip-server --markdown "$OUT/results.md" --svg "$OUT/chart.svg" --json-out "$OUT/results.json" \
	--command "make bench (BENCH_DURATION=$DURATION BENCH_CONNS=$CONNS BENCH_KEYS=$KEYS; $AUDIT_DESC)"
echo
echo "bench: wrote $OUT/results.md, $OUT/chart.svg and $OUT/results.json" >&2
