#!/usr/bin/env bash
# Throughput, CPU per request and latency of kanaria's router against nginx
# and haproxy, all doing the same job: a 90/10 split sticky by the "uid"
# cookie, keep-alive to two nginx backends returning 100 bytes, on loopback.
#
# Each proxy under test is pinned to CPU 0 and wrk to CPU 1; rounds are
# interleaved, every other one in reverse order (A B C, C B A, A B C ...), so
# drifting machine speed hits every proxy alike. On a shared VM the same
# proxy's rounds differ by up to 30 %; the ratios to nginx are therefore
# taken round by round (each pair ran seconds apart) and their median
# reported, with every round's ratio beside it to show the noise.
#
#   bench/router.sh                  # 6 rounds of 5 s each
#   ROUNDS=10 DURATION=5s bench/router.sh
#   CONTENDERS="kanaria kanaria-goroutines kanaria-std nginx haproxy" bench/router.sh
#
# kanaria is the default front end (the event loop); kanaria-goroutines is
# the same HTTP/1.1 server with a goroutine per connection (httpServer:
# goroutines) and kanaria-std the net/http path (httpServer: stdlib), for
# comparing the front ends. Everything started is stopped
# on exit. Last line: "kanaria/nginx throughput ratio: X.XX".
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
CONTENDERS=${CONTENDERS:-"kanaria nginx haproxy"}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BACKEND1=19101 BACKEND2=19102
declare -A PORT=([kanaria]=19180 [kanaria-std]=19181 [nginx]=19182 [haproxy]=19183 [kanaria-goroutines]=19184)

need_pkgs nginx haproxy wrk
WORK=$(mktemp -d /tmp/kanaria-bench.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# --- backends: one nginx (not under test) serving two 100-byte answers ----
BODY=$(printf 'x%.0s' $(seq 99))
cat >"$WORK/backends.conf" <<CONF
daemon off; worker_processes 1; pid $WORK/backends.pid; error_log $WORK/backends.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACKEND1; location / { add_header X-Backend v1; return 200 "$BODY\n"; } }
  server { listen 127.0.0.1:$BACKEND2; location / { add_header X-Backend v2; return 200 "$BODY\n"; } }
}
CONF
nginx -c "$WORK/backends.conf" -p "$WORK" & PIDS+=($!)

# --- kanaria ---------------------------------------------------------------
go build -o "$WORK/kanaria" ./cmd/kanaria
routes() { # routes PORT HTTPSERVER
  cat <<YAML
listen: 127.0.0.1:$1
httpServer: $2
key: {cookie: uid, salt: bench}
routes: [{release: app}]
releases:
  - name: app
    stable: {revision: v1, endpoints: ["http://127.0.0.1:$BACKEND1"]}
    canary: {revision: v2, endpoints: ["http://127.0.0.1:$BACKEND2"]}
    canaryWeight: 10
YAML
}
# --- nginx: split_clients on the cookie (or the request id without one) ----
cat >"$WORK/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $WORK/nginx.pid; error_log $WORK/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  map \$cookie_uid \$split_key { "" \$request_id; default \$cookie_uid; }
  split_clients "bench\${split_key}" \$pool { 10% canary; * stable; }
  map \$pool \$revision { canary v2; default v1; }
  upstream stable { server 127.0.0.1:$BACKEND1; keepalive 128; }
  upstream canary { server 127.0.0.1:$BACKEND2; keepalive 128; }
  server {
    listen 127.0.0.1:${PORT[nginx]};
    location / {
      proxy_pass http://\$pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Kanaria-Version \$revision;
      add_header X-Kanaria-Version \$revision;
    }
  }
}
CONF
# --- haproxy: hash of the cookie over servers weighted 90/10 ---------------
cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${PORT[haproxy]}
  option forwardfor
  default_backend be
backend be
  balance hash req.cook(uid)
  hash-type consistent
  server v1 127.0.0.1:$BACKEND1 weight 90
  server v2 127.0.0.1:$BACKEND2 weight 10
  http-response set-header X-Kanaria-Version %[srv_name]
CONF

declare -A MAIN # contender -> pid whose process tree is measured
start() {
  local c=$1
  case $c in
  kanaria)
    routes "${PORT[kanaria]}" fast >"$WORK/kanaria.yaml"
    taskset -c "$PROXY_CPU" "$WORK/kanaria" router -f "$WORK/kanaria.yaml" >"$WORK/kanaria.log" 2>&1 & ;;
  kanaria-std | kanaria-goroutines)
    routes "${PORT[$c]}" "${c#kanaria-}" | sed 's/httpServer: std$/httpServer: stdlib/' >"$WORK/$c.yaml"
    taskset -c "$PROXY_CPU" "$WORK/kanaria" router -f "$WORK/$c.yaml" >"$WORK/$c.log" 2>&1 & ;;
  nginx)
    taskset -c "$PROXY_CPU" nginx -c "$WORK/nginx.conf" -p "$WORK" & ;;
  haproxy)
    taskset -c "$PROXY_CPU" haproxy -f "$WORK/haproxy.cfg" & ;;
  *) echo "unknown contender $c" >&2; exit 2 ;;
  esac
  PIDS+=($!)
  MAIN[$c]=$!
}
for c in $CONTENDERS; do start "$c"; done
wait_port "$BACKEND1"; wait_port "$BACKEND2"
for c in $CONTENDERS; do wait_port "${PORT[$c]}"; done

# tree PID: the process and its children (nginx workers).
tree() { echo "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); }

# Check the split once per contender: share of v2 answers over 2,000 ids.
for c in $CONTENDERS; do
  v2=0
  for i in $(seq 200); do
    h=$(curl -s -o /dev/null -D - -H "Cookie: uid=check-$i" "http://127.0.0.1:${PORT[$c]}/" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-backend"{print $2}')
    [ "$h" = v2 ] && v2=$((v2+1))
  done
  echo "split check $c: $v2/200 ids on v2 (expect about 20)"
done

HZ=$(getconf CLK_TCK)
RES="$WORK/results"
: >"$RES"
run() { # run CONTENDER ROUND
  local c=$1 r=$2 pids before after out reqs rps p50 p99 errs
  pids=$(tree "${MAIN[$c]}")
  before=$(cpu_ticks $pids)
  out=$(taskset -c "$LOAD_CPU" timeout 60 wrk -t2 -c"$CONNS" -d"$DURATION" --latency \
        -s bench/rotate-cookie.lua "http://127.0.0.1:${PORT[$c]}/")
  after=$(cpu_ticks $pids)
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  p50=$(to_ms "$(echo "$out" | awk '$1=="50%"{print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1=="99%"{print $2}')")
  errs=$(echo "$out" | awk '/Non-2xx|Socket errors/{printf "%s ", $0}')
  local us=$(awk -v t=$((after-before)) -v hz="$HZ" -v n="$reqs" 'BEGIN{printf "%.1f", t*1e6/hz/n}')
  printf "round %d %-18s %9.0f req/s %6s us CPU/req  p50 %7.3f ms  p99 %7.3f ms %s\n" "$r" "$c" "$rps" "$us" "$p50" "$p99" "$errs"
  echo "$c $r $rps $us $p50 $p99" >>"$RES"
}

# Warm-up (connection pools, JIT-free but caches and page faults).
for c in $CONTENDERS; do
  taskset -c "$LOAD_CPU" timeout 20 wrk -t2 -c"$CONNS" -d2s -s bench/rotate-cookie.lua "http://127.0.0.1:${PORT[$c]}/" >/dev/null
done
REVERSED=$(echo $CONTENDERS | tr ' ' '\n' | tac | tr '\n' ' ')
for r in $(seq "$ROUNDS"); do
  order=$CONTENDERS
  [ $((r % 2)) -eq 0 ] && order=$REVERSED
  for c in $order; do run "$c" "$r"; done
done

echo
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "median of $ROUNDS rounds ($DURATION each, wrk -t2 -c$CONNS, proxy on CPU $PROXY_CPU, wrk on CPU $LOAD_CPU):"
med() { awk -v c="$1" -v k="$2" '$1==c{print $k}' "$RES" | median; }
NGINX=$(med nginx 3)
for c in $CONTENDERS; do
  rps=$(med "$c" 3)
  printf "  %-18s %9.0f req/s  %5.2fx nginx  %6s us CPU/req  p50 %6.3f ms  p99 %6.3f ms\n" \
    "$c" "$rps" "$(awk -v a="$rps" -v b="$NGINX" 'BEGIN{print a/b}')" "$(med "$c" 4)" "$(med "$c" 5)" "$(med "$c" 6)"
done
# ratios COLUMN CONTENDER: that contender's figure over nginx's, per round.
ratios() { for r in $(seq "$ROUNDS"); do
  awk -v r="$r" -v c="$2" -v k="$1" '$2==r && $1==c{a=$k} $2==r && $1=="nginx"{b=$k} END{if (b > 0) printf "%.2f\n", a/b}' "$RES"; done; }
echo "kanaria/nginx round by round (median):"
printf "  throughput  %s(%.2f)\n" "$(ratios 3 kanaria | tr '\n' ' ')" "$(ratios 3 kanaria | median)"
printf "  CPU/request %s(%.2f)\n" "$(ratios 4 kanaria | tr '\n' ' ')" "$(ratios 4 kanaria | median)"
printf "  p99         %s(%.2f)\n" "$(ratios 6 kanaria | tr '\n' ' ')" "$(ratios 6 kanaria | median)"
printf "kanaria/nginx throughput ratio: %.2f\n" "$(ratios 3 kanaria | median)"
