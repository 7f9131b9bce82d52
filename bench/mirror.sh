#!/usr/bin/env bash
# What shadow traffic costs the users: the primary's (stable's) latency and
# throughput through kanaria's router with 100 % of requests mirrored to a
# canary, against the same router without mirroring, in the same run; then
# the router's memory while the shadow answers in 10 s or never.
#
# Two routers run side by side (pinned to CPU 0, wrk to CPU 1), each in
# front of the same nginx stable (a 100-byte JSON answer); "mirror" copies
# every request to a second nginx process playing the canary. The backends
# are not pinned: on two cores they share the CPUs with the rest. Rounds are
# interleaved, every other one in reverse order (plain mirror, mirror plain,
# ...), and the ratios are taken round by round, their median reported, so
# the drift of a shared machine hits both alike.
#
# Then two more routers mirror to a demo app that answers after 10 s, and
# to one that never answers; wrk runs against each for the same duration,
# and their RSS (VmRSS, and the peak VmHWM) is printed with the mirror's
# counters (copies dropped because the bounded queue was full).
#
#   bench/mirror.sh                  # 6 rounds of 5 s each
#   ROUNDS=10 DURATION=5s bench/mirror.sh
#
# Last line: "mirror: primary p99 with 100% mirroring X ms vs Y ms without
# (ratio R), throughput ratio T".
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
STABLE=19301 CANARY=19302 SLOW=19303 NEVER=19304
declare -A PORT=([plain]=19380 [mirror]=19381 [slow]=19382 [never]=19383)
declare -A ADMIN=([plain]=19390 [mirror]=19391 [slow]=19392 [never]=19393)
declare -A SHADOW=([mirror]=$CANARY [slow]=$SLOW [never]=$NEVER)

need_pkgs nginx wrk
WORK=$(mktemp -d /tmp/kanaria-bench-mirror.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

BODY='{"id":1,"items":[{"sku":"a","price":10},{"sku":"b","price":20}],"note":"xxxxxxxxxxxxxxxxxxxx"}'
cat >"$WORK/backends.conf" <<CONF
daemon off; worker_processes 1; pid $WORK/backends.pid; error_log $WORK/backends.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  default_type application/json;
  server { listen 127.0.0.1:$STABLE; location / { return 200 '$BODY'; } }
}
CONF
# The canary is a process of its own, as it would be: copies must not queue
# behind the primary's requests in one backend worker.
sed -e "s/$STABLE/$CANARY/" -e "s#backends.pid#canary.pid#" -e "s#backends.err#canary.err#" "$WORK/backends.conf" >"$WORK/canary.conf"
nginx -c "$WORK/backends.conf" -p "$WORK" & PIDS+=($!)
nginx -c "$WORK/canary.conf" -p "$WORK" & PIDS+=($!)

go build -o "$WORK/kanaria" ./cmd/kanaria
"$WORK/kanaria" demo-app --revision v2 --port "$SLOW" --latency 10s >"$WORK/slow.log" 2>&1 & PIDS+=($!)
"$WORK/kanaria" demo-app --revision v2 --port "$NEVER" --latency 100000h >"$WORK/never.log" 2>&1 & PIDS+=($!)
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/token"

routes() { # routes NAME
  cat <<YAML
listen: 127.0.0.1:${PORT[$1]}
admin: 127.0.0.1:${ADMIN[$1]}
adminTokenFile: $WORK/token
key: {cookie: uid, salt: bench}
routes: [{release: app}]
releases:
  - name: app
    stable: {revision: v1, endpoints: ["http://127.0.0.1:$STABLE"]}
YAML
  if [ "$1" != plain ]; then
    cat <<YAML
    canary: {revision: v2, endpoints: ["http://127.0.0.1:${SHADOW[$1]}"]}
    mirror: {percentage: 100, compare: {ignore: [id]}}
YAML
  fi
}
declare -A MAIN
for c in plain mirror slow never; do
  routes "$c" >"$WORK/$c.yaml"
  taskset -c "$PROXY_CPU" "$WORK/kanaria" router -f "$WORK/$c.yaml" >"$WORK/$c.log" 2>&1 &
  PIDS+=($!)
  MAIN[$c]=$!
done
wait_port "$STABLE"; wait_port "$CANARY"; wait_port "$SLOW"; wait_port "$NEVER"
for c in plain mirror slow never; do wait_port "${PORT[$c]}"; done

report() { # report NAME: the mirror's counters and how many answers were compared
  curl -s -H "Authorization: Bearer $(cat "$WORK/token")" "http://127.0.0.1:${ADMIN[$1]}/v1/releases/app/mirror" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); c=r["counters"]; print("sampled %d compared %d dropped %d shadowErrors %d inFlight %d queued %d differenceAboveNoise %.3f" % (c["sampled"], c["compared"], c["dropped"], c["shadowErrors"], c["inFlight"], c["queued"], r["differenceAboveNoise"]))'
}
rss() { awk '/^VmRSS/{r=$2} /^VmHWM/{h=$2} END{printf "RSS %.1f MiB (peak %.1f MiB)", r/1024, h/1024}' "/proc/$1/status"; }

RES="$WORK/results"
: >"$RES"
run() { # run NAME ROUND
  local c=$1 r=$2 out rps p50 p99 errs
  out=$(taskset -c "$LOAD_CPU" timeout 60 wrk -t2 -c"$CONNS" -d"$DURATION" --latency \
        -s bench/rotate-cookie.lua "http://127.0.0.1:${PORT[$c]}/")
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  p50=$(to_ms "$(echo "$out" | awk '$1=="50%"{print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1=="99%"{print $2}')")
  errs=$(echo "$out" | awk '/Non-2xx|Socket errors/{printf "%s ", $0}')
  printf "round %d %-7s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms %s\n" "$r" "$c" "$rps" "$p50" "$p99" "$errs"
  echo "$c $r $rps $p50 $p99" >>"$RES"
}

for c in plain mirror; do
  taskset -c "$LOAD_CPU" timeout 20 wrk -t2 -c"$CONNS" -d2s -s bench/rotate-cookie.lua "http://127.0.0.1:${PORT[$c]}/" >/dev/null
done
for r in $(seq "$ROUNDS"); do
  order="plain mirror"
  [ $((r % 2)) -eq 0 ] && order="mirror plain"
  for c in $order; do run "$c" "$r"; done
done
echo "mirror router: $(report mirror)"

echo
echo "memory with a shadow that answers in 10 s or never ($DURATION of wrk -c$CONNS each, default queue and concurrency):"
for c in slow never; do
  before=$(rss "${MAIN[$c]}")
  line=$(run "$c" 1)
  echo "  $c: ${line#round 1 }"
  echo "  $c: before: $before; after: $(rss "${MAIN[$c]}"); $(report "$c")"
done
echo "  without mirroring, for scale: $(rss "${MAIN[plain]}")"

echo
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')  (shared, noisy: figures move by tens of percent between runs)"
echo "median of $ROUNDS rounds ($DURATION each, wrk -t2 -c$CONNS, routers on CPU $PROXY_CPU, wrk on CPU $LOAD_CPU):"
med() { awk -v c="$1" -v k="$2" '$1==c{print $k}' "$RES" | median; }
# Per-round ratios (mirror / plain of the same round), then their median.
ratio() { # ratio COLUMN
  awk -v k="$1" '{v[$1" "$2]=$k; rs[$2]=1} END{for (r in rs) if (v["plain " r] > 0) print v["mirror " r]/v["plain " r]}' "$RES" | median
}
for c in plain mirror; do
  printf "  %-7s %9.0f req/s  p50 %6.3f ms  p99 %6.3f ms\n" "$c" "$(med "$c" 3)" "$(med "$c" 4)" "$(med "$c" 5)"
done
printf "  per-round ratios mirror/plain: throughput %s, p50 %s, p99 %s\n" "$(ratio 3)" "$(ratio 4)" "$(ratio 5)"
printf "mirror: primary p99 with 100%% mirroring %.3f ms vs %.3f ms without (ratio %.2f), throughput ratio %.2f\n" \
  "$(med mirror 5)" "$(med plain 5)" "$(ratio 5)" "$(ratio 3)"
