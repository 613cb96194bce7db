#!/usr/bin/env bash
# bench-scale.sh (make bench-scale): kmip-adapter at scale, on one machine.
#
# It builds the binaries, prepares a fresh development environment in a
# temporary directory and starts the server, then:
#   1. measures Create and Locate by Name (16 connections) on the empty store;
#   2. fills the store to SCALE_OBJECTS named AES-256 keys through KMIP
#      (kmipctl bench --workload fill, with a progress bar);
#   3. measures Create and Locate by Name again at that size, the store
#      file's bytes per object and the server's resident memory;
#   4. restarts the server on that store, holds SCALE_IDLE idle TLS
#      connections (kmipctl bench idle) and reads the server's resident
#      memory while they are open;
# and writes the figures to $SCALE_OUT/scale.md and scale.json.
#
# Environment:
#   SCALE_OBJECTS     objects to fill the store with (default: 1000000)
#   SCALE_FILL_CONNS  connections that fill it (default: 64)
#   SCALE_DURATION    length of each Create/Locate run (default: 10s)
#   SCALE_IDLE        idle connections to hold (default: 1000)
#   SCALE_OUT         where scale.md and scale.json go (default: docs/bench)
#   SCALE_KEEP=1      keep the temporary directory (store, logs, raw JSON)
#   SCALE_RESIDENT_LIMIT_MIB  the server's store.bbolt.resident_limit_mib
#                     (default: the configuration's, 256; 0: unbounded)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OBJECTS=${SCALE_OBJECTS:-1000000}
FILL_CONNS=${SCALE_FILL_CONNS:-64}
DURATION=${SCALE_DURATION:-10s}
IDLE=${SCALE_IDLE:-1000}
OUT=${SCALE_OUT:-$ROOT/docs/bench}
GO=${GO:-go}

if [ ! -e /usr/lib/softhsm/libsofthsm2.so ]; then
	echo "bench-scale: /usr/lib/softhsm/libsofthsm2.so is missing (apt-get install softhsm2)" >&2
	exit 1
fi
if [ "$(ulimit -n)" -lt $((IDLE + 200)) ]; then
	ulimit -n $((IDLE + 200)) 2>/dev/null || {
		echo "bench-scale: open files limit $(ulimit -n) is too low for $IDLE connections" >&2
		exit 1
	}
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmip-scale.XXXXXX")
BIN=$TMP/bin
SERVER_PID=

log() { printf '\n== %s\n' "$*" >&2; }

stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}
cleanup() {
	stop_server
	if [ "${SCALE_KEEP:-}" = 1 ]; then
		echo "bench-scale: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# rss_kib prints the server's resident memory (VmRSS) in KiB; anon_kib
# the part that is its own memory (RssAnon: heap, stacks); file_kib the
# pages of mapped files (RssFile: nearly all of them the store file that
# bbolt maps, page cache that store.bbolt.resident_limit_mib bounds and
# the kernel reclaims under pressure).
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$SERVER_PID/status"; }
file_kib() { awk '/^RssFile:/ {print $2}' "/proc/$SERVER_PID/status"; }

log "build"
(cd "$ROOT" && $GO build -o "$BIN/" ./cmd/...)

log "fresh development environment in $TMP/dev"
ADDR=127.0.0.1:$(free_port)
"$BIN/kmipctl" dev init --dir "$TMP/dev" --listen "$ADDR" >/dev/null
CONFIG=$TMP/dev/config.yaml
STORE=$TMP/dev/data/store.db

RESIDENT_ENV=()
if [ -n "${SCALE_RESIDENT_LIMIT_MIB:-}" ]; then
	RESIDENT_ENV=(KMIP_ADAPTER_STORE_BBOLT_RESIDENT_LIMIT_MIB="$SCALE_RESIDENT_LIMIT_MIB")
fi
RESIDENT_LIMIT=${SCALE_RESIDENT_LIMIT_MIB:-$(awk '/resident_limit_mib:/ {print $2}' "$CONFIG")}

start_server() {
	env "${RESIDENT_ENV[@]}" KMIP_ADAPTER_SERVER_MAX_CONNECTIONS=$((IDLE + 100)) \
		"$BIN/kmip-adapter" serve --config "$CONFIG" --log-level warn --log-format json >>"$TMP/server.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 1 120); do
		"$BIN/kmipctl" kmip discover --config "$CONFIG" --timeout 2s >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "bench-scale: the server did not answer within 60 s" >&2
	return 1
}
start_server
RSS_START=$(rss_kib)

# Create at 16 connections (throughput); Locate at 1 (its latency, the
# target, without 16 clients queueing for 2 cores).
MEASURE_CREATE=(--workload create --conns 16 --duration "$DURATION")
MEASURE_LOCATE=(--workload locate --conns 1 --duration "$DURATION" --keys 256)

log "Create and Locate on the empty store"
"$BIN/kmipctl" bench --config "$CONFIG" "${MEASURE_CREATE[@]}" --label empty --out "$TMP/empty-create.json"
"$BIN/kmipctl" bench --config "$CONFIG" "${MEASURE_LOCATE[@]}" --label empty --out "$TMP/empty-locate.json"

log "fill the store to $OBJECTS objects ($FILL_CONNS connections)"
FILL_START=$(date +%s)
"$BIN/kmipctl" bench --config "$CONFIG" --workload fill --conns "$FILL_CONNS" --requests "$OBJECTS" --label fill --out "$TMP/fill.json"
FILL_SECONDS=$(($(date +%s) - FILL_START))
RSS_FILLED=$(rss_kib)
ANON_FILLED=$(anon_kib)
FILE_FILLED=$(file_kib)

# The fill wrote every page of the store file, and bbolt maps the file:
# VmRSS now counts the page cache of all of it. A server that starts on
# a store of that size maps only the pages it uses, so the measurement at
# size runs on a restarted server.
log "restart the server on the filled store"
stop_server
start_server

log "Create and Locate at $OBJECTS objects"
"$BIN/kmipctl" bench --config "$CONFIG" "${MEASURE_CREATE[@]}" --label full --out "$TMP/full-create.json"
"$BIN/kmipctl" bench --config "$CONFIG" "${MEASURE_LOCATE[@]}" --label full --out "$TMP/full-locate.json"
RSS_FULL=$(rss_kib)
ANON_FULL=$(anon_kib)
FILE_FULL=$(file_kib)
STORE_BYTES=$(stat -c %s "$STORE")

log "$IDLE idle connections (the server restarted on the same store)"
# A restart leaves the store's pages unmapped until used, so what the
# server holds is measured, not the page cache of the fill.
stop_server
start_server
RSS_BEFORE_IDLE=$(rss_kib)
ANON_BEFORE_IDLE=$(anon_kib)
FILE_BEFORE_IDLE=$(file_kib)
"$BIN/kmipctl" bench idle --config "$CONFIG" --conns "$IDLE" --hold 15s >"$TMP/idle.out" 2>&1 &
IDLE_PID=$!
for _ in $(seq 1 600); do
	grep -q '^holding' "$TMP/idle.out" 2>/dev/null && break
	kill -0 "$IDLE_PID" 2>/dev/null || break
	sleep 0.2
done
sleep 3 # let the server settle with every connection idle
RSS_IDLE=$(rss_kib)
ANON_IDLE=$(anon_kib)
FILE_IDLE=$(file_kib)
cat "$TMP/idle.out" >&2
wait "$IDLE_PID"

log "report"
mkdir -p "$OUT"
/usr/bin/python3 - "$TMP" "$OUT" "$OBJECTS" "$FILL_CONNS" "$FILL_SECONDS" "$STORE_BYTES" \
	"$RSS_START" "$RSS_FILLED" "$RSS_FULL" "$RSS_BEFORE_IDLE" "$RSS_IDLE" "$IDLE" "$DURATION" "$ANON_FULL" "$ANON_BEFORE_IDLE" "$ANON_IDLE" "$ANON_FILLED" \
	"$FILE_FILLED" "$FILE_FULL" "$FILE_BEFORE_IDLE" "$FILE_IDLE" "$RESIDENT_LIMIT" <<'PY'
import json, sys, datetime
(tmp, out, objects, fill_conns, fill_s, store_bytes, rss_start, rss_filled, rss_full, rss_before_idle, rss_idle, idle, duration,
 anon_full, anon_before_idle, anon_idle, anon_filled, file_filled, file_full, file_before_idle, file_idle, resident_limit) = sys.argv[1:]
objects, store_bytes, idle = int(objects), int(store_bytes), int(idle)
rss = {k: int(v) / 1024 for k, v in dict(start=rss_start, filled=rss_filled, full=rss_full, before_idle=rss_before_idle, idle=rss_idle).items()}
anon = {k: int(v) / 1024 for k, v in dict(filled=anon_filled, full=anon_full, before_idle=anon_before_idle, idle=anon_idle).items()}
mapped = {k: int(v) / 1024 for k, v in dict(filled=file_filled, full=file_full, before_idle=file_before_idle, idle=file_idle).items()}
resident_limit = int(resident_limit or 0)
def load(*names):
    out = {}
    for name in names:
        out.update({r["workload"]: r for r in json.load(open(f"{tmp}/{name}.json"))["results"]})
    return out
empty, full, fill = load("empty-create", "empty-locate"), load("full-create", "full-locate"), load("fill")["fill"]
# every object in the store: the fill, the keys each locate run made, every create
stored = fill["ops"] + sum(r["ops"] for r in (empty["create"], full["create"])) + 2 * 256
res = {
    "objects_filled": objects, "objects_stored": stored, "fill_conns": int(fill_conns),
    "fill_seconds": int(fill_s), "fill_ops_per_s": fill["ops_per_s"], "fill_errors": fill["errors"],
    "create_empty_ops_per_s": empty["create"]["ops_per_s"], "create_full_ops_per_s": full["create"]["ops_per_s"],
    "create_ratio": full["create"]["ops_per_s"] / empty["create"]["ops_per_s"],
    "create_full_latency_ms": full["create"]["latency_ms"],
    "locate_empty_latency_ms": empty["locate"]["latency_ms"], "locate_full_latency_ms": full["locate"]["latency_ms"],
    "locate_full_ops_per_s": full["locate"]["ops_per_s"],
    "store_bytes": store_bytes, "store_bytes_per_object": store_bytes / stored,
    "rss_mib": rss, "rss_anon_mib": anon, "rss_file_mib": mapped, "resident_limit_mib": resident_limit, "idle_connections": idle, "idle_rss_mib": rss["idle"],
    "idle_kib_per_connection": (anon["idle"] - anon["before_idle"]) * 1024 / idle,
    "duration": duration, "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
}
json.dump(res, open(f"{out}/scale.json", "w"), indent=2)
ok = lambda b: "yes" if b else "**no**"
md = f"""# Scale benchmark: kmip-adapter with {objects:,} objects

Produced by `make bench-scale SCALE_OBJECTS={objects} SCALE_DURATION={duration} SCALE_IDLE={idle}` on {res['when']}
(the store filled through KMIP by {fill_conns} connections in {int(fill_s)} s, {fill['ops_per_s']:.0f} Creates/s, {fill['errors']} errors;
Create measured with 16 connections, Locate by Name with 1, for {duration} each, the load generator on the same machine;
`store.bbolt.resident_limit_mib` {resident_limit if resident_limit else "0 (unbounded)"}).

| measure | empty store | at {stored:,} objects | target | met |
|---|---:|---:|---|---|
| Create ops/s | {res['create_empty_ops_per_s']:.0f} | {res['create_full_ops_per_s']:.0f} ({res['create_ratio']*100:.0f}%) | at least 80% of empty | {ok(res['create_ratio'] >= 0.8)} |
| Create p50 / p99 ms | {empty['create']['latency_ms']['p50']:.2f} / {empty['create']['latency_ms']['p99']:.2f} | {full['create']['latency_ms']['p50']:.2f} / {full['create']['latency_ms']['p99']:.2f} | | |
| Locate by Name p50 / p99 ms | {empty['locate']['latency_ms']['p50']:.2f} / {empty['locate']['latency_ms']['p99']:.2f} | {full['locate']['latency_ms']['p50']:.2f} / {full['locate']['latency_ms']['p99']:.2f} | p99 under 5 ms | {ok(full['locate']['latency_ms']['p99'] < 5)} |
| store file | | {store_bytes/1048576:.1f} MiB, {res['store_bytes_per_object']:.0f} bytes/object | under 2 KiB/object | {ok(res['store_bytes_per_object'] < 2048)} |
| server resident memory (VmRSS), restarted on the filled store, after the runs above | {rss['start']:.1f} MiB at start | {rss['full']:.1f} MiB: {anon['full']:.1f} MiB its own (RssAnon), {mapped['full']:.1f} MiB mapped file pages (RssFile, nearly all the store file) | under 512 MiB | {ok(rss['full'] < 512)} |
| the same, at the end of the fill (the server that filled) | | {rss['filled']:.1f} MiB: {anon['filled']:.1f} MiB own, {mapped['filled']:.1f} MiB mapped file | | |
| {idle:,} idle TLS connections (server restarted) | {rss['before_idle']:.1f} MiB before ({anon['before_idle']:.1f} own, {mapped['before_idle']:.1f} file) | {rss['idle']:.1f} MiB held ({anon['idle']:.1f} own, {mapped['idle']:.1f} file, {res['idle_kib_per_connection']:.0f} KiB per connection) | under 256 MiB | {ok(rss['idle'] < 256)} |
"""
open(f"{out}/scale.md", "w").write(md)
print(md)
PY
echo "bench-scale: wrote $OUT/scale.md and $OUT/scale.json" >&2
