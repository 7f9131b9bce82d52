#!/usr/bin/env bash
# Weight changes under keep-alive load, and memory with idle connections.
#
# Starts two nginx backends and `kanaria router` (with its admin API), then
# runs bench/loadgen: 32 raw keep-alive clients with no retries while 100
# weight changes (10 % <-> 50 % canary) go through the admin API; a probe
# whose key's bucket lies between the two weights (router.Bucket) polls
# until each change serves. Then it opens 10,000 idle keep-alive
# connections and reports the router's RSS. Everything is on loopback,
# bounded in time, and stopped on exit.
#
# The time to take effect is measured from the swap: the admin PUT answers
# only after the atomic table swap, and the first request sent after that
# answer must be served with the new weights (any that is not is counted as
# stale). The admin round trip is reported beside it.
#
# Last line: "weight changes: N, failed requests: N, time to take effect p99:
# X ms (from the swap; admin PUT round trip p99 Y ms)".
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

IDLE=${IDLE:-10000}
BACKEND1=19111 BACKEND2=19112 PROXY=19190 ADMIN=19191
need_pkgs nginx haproxy wrk
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/kanaria-wbench.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

BODY=$(printf 'x%.0s' $(seq 99))
cat >"$WORK/backends.conf" <<CONF
daemon off; worker_processes 1; pid $WORK/backends.pid; error_log $WORK/backends.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACKEND1; location / { return 200 "$BODY\n"; } }
  server { listen 127.0.0.1:$BACKEND2; location / { return 200 "$BODY\n"; } }
}
CONF
nginx -c "$WORK/backends.conf" -p "$WORK" & PIDS+=($!)

go build -o "$WORK/kanaria" ./cmd/kanaria
go build -o "$WORK/loadgen" ./bench/loadgen
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$WORK/token"
cat >"$WORK/routes.yaml" <<YAML
listen: 127.0.0.1:$PROXY
admin: 127.0.0.1:$ADMIN
adminTokenFile: $WORK/token
httpServer: ${HTTP_SERVER:-fast}
key: {cookie: uid, salt: bench}
routes: [{release: app}]
releases:
  - name: app
    stable: {revision: v1, endpoints: ["http://127.0.0.1:$BACKEND1"]}
    canary: {revision: v2, endpoints: ["http://127.0.0.1:$BACKEND2"]}
    canaryWeight: 10
YAML
"$WORK/kanaria" router -f "$WORK/routes.yaml" >"$WORK/router.log" 2>&1 & PIDS+=($!)
ROUTER=$!
wait_port "$BACKEND1"; wait_port "$BACKEND2"; wait_port "$PROXY"; wait_port "$ADMIN"

rss_mb() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$1/status"; }
echo "router RSS after start: $(rss_mb "$ROUTER") MB"

# Idle connections first, so the load's buffers do not blur the figure.
mkfifo "$WORK/hold"
timeout 120 "$WORK/loadgen" -addr "127.0.0.1:$PROXY" -idle "$IDLE" <"$WORK/hold" >"$WORK/idle.out" & PIDS+=($!)
HOLDER=$!
exec 7>"$WORK/hold"
for i in $(seq 600); do grep -q READY "$WORK/idle.out" 2>/dev/null && break; sleep 0.1; done
grep -q READY "$WORK/idle.out" || { echo "idle connections not established" >&2; exit 1; }
sleep 2 # past the router's idle grace (1 s), after which an idle connection holds no read buffer
echo "router RSS with $IDLE idle keep-alive connections: $(rss_mb "$ROUTER") MB"
exec 7>&-
wait "$HOLDER" || true

timeout 120 "$WORK/loadgen" -addr "127.0.0.1:$PROXY" -admin "127.0.0.1:$ADMIN" \
  -token "$(cat "$WORK/token")" -salt bench -release app -c 32 -changes 100
