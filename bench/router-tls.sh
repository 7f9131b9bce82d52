#!/usr/bin/env bash
# HTTPS and HTTP/2 through kanaria's router against nginx and haproxy, all
# doing the job of bench/router.sh (a 90/10 split sticky by the "uid"
# cookie, keep-alive to two nginx backends returning 100 bytes, on
# loopback) behind TLS 1.3 with a throw-away P-256 certificate made here
# with openssl.
#
# Four loads, each bounded in time (and count):
#   https    wrk -t2 -c64, HTTP/1.1 keep-alive over TLS (nginx: listen ... ssl)
#   h2       h2load -c16 -m10: HTTP/2, 10 streams per connection (nginx: listen ... ssl http2)
#   full     new TLS connections per second, one request each, full handshakes
#   resumed  the same with session resumption (TLS 1.3 tickets)
# The last two use bench/tlsconn (Go's TLS client, X25519 only so every
# server runs the same key exchange).
#
# As in bench/router.sh each proxy is pinned to CPU 0 and the load to CPU
# 1, rounds are interleaved (every other one in reverse order) and ratios to
# nginx are taken round by round, their median reported. The machine is
# shared: expect rounds of one proxy to differ by 30 %.
#
#   bench/router-tls.sh                       # 4 rounds of 5 s per load
#   ROUNDS=6 DURATION=5 LOADS="https h2" bench/router-tls.sh
#   # before/after in one run: a kanaria binary built from another commit
#   KANARIA_PREV=/tmp/kanaria-main CONTENDERS="kanaria kanaria-prev nginx" bench/router-tls.sh
#
# Last lines: "kanaria/nginx https throughput ratio: X.XX" and
# "kanaria/nginx h2 throughput ratio: X.XX".
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-5} # seconds
CONNS=${CONNS:-64}
H2CONNS=${H2CONNS:-16}
H2STREAMS=${H2STREAMS:-10}
HSCONNS=${HSCONNS:-16}
CONTENDERS=${CONTENDERS:-"kanaria nginx haproxy"}
LOADS=${LOADS:-"https h2 full resumed"}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BACKEND1=19201 BACKEND2=19202
# nginx has a second port: HTTP/2 on its own listen (listen ... ssl http2).
declare -A PORT=([kanaria]=19280 [nginx]=19282 [haproxy]=19283 [kanaria-std]=19281 [kanaria-prev]=19284)
declare -A H2PORT=([kanaria]=19280 [nginx]=19292 [haproxy]=19283 [kanaria-std]=19281 [kanaria-prev]=19284)
NGINX_H2=19292

need_pkgs nginx haproxy wrk
command -v h2load >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nghttp2-client </dev/null
}
WORK=$(mktemp -d /tmp/kanaria-bench-tls.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# --- a throw-away certificate ---------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/haproxy.pem"

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
go build -o "$WORK/tlsconn" ./bench/tlsconn
routes() { # routes PORT HTTPSERVER
  cat <<YAML
listen: 127.0.0.1:$1
httpServer: $2
tls: {certFile: $WORK/cert.pem, keyFile: $WORK/key.pem}
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
  ssl_certificate $WORK/cert.pem;
  ssl_certificate_key $WORK/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m;
  ssl_session_tickets on;
  map \$cookie_uid \$split_key { "" \$request_id; default \$cookie_uid; }
  split_clients "bench\${split_key}" \$pool { 10% canary; * stable; }
  map \$pool \$revision { canary v2; default v1; }
  upstream stable { server 127.0.0.1:$BACKEND1; keepalive 128; }
  upstream canary { server 127.0.0.1:$BACKEND2; keepalive 128; }
  server {
    listen 127.0.0.1:${PORT[nginx]} ssl;
    listen 127.0.0.1:$NGINX_H2 ssl http2;
    location / {
      proxy_pass http://\$pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
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
  bind 127.0.0.1:${PORT[haproxy]} ssl crt $WORK/haproxy.pem alpn h2,http/1.1
  option forwardfor
  http-request set-header X-Forwarded-Proto https
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
  kanaria | kanaria-std)
    local server=fast
    [ "$c" = kanaria-std ] && server=stdlib
    routes "${PORT[$c]}" "$server" >"$WORK/$c.yaml"
    taskset -c "$PROXY_CPU" "$WORK/kanaria" router -f "$WORK/$c.yaml" >"$WORK/$c.log" 2>&1 & ;;
  kanaria-prev) # KANARIA_PREV: another build of kanaria, for a before/after in one run
    routes "${PORT[$c]}" fast >"$WORK/$c.yaml"
    taskset -c "$PROXY_CPU" "${KANARIA_PREV:?KANARIA_PREV names the binary of kanaria-prev}" router -f "$WORK/$c.yaml" >"$WORK/$c.log" 2>&1 & ;;
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
for c in $CONTENDERS; do wait_port "${PORT[$c]}"; wait_port "${H2PORT[$c]}"; done

tree() { echo "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); }

# Check once per contender: the split over 200 ids, and that h2 is spoken.
for c in $CONTENDERS; do
  v2=0
  for i in $(seq 200); do
    h=$(curl -sk -o /dev/null -D - -H "Cookie: uid=check-$i" "https://127.0.0.1:${PORT[$c]}/" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-backend"{print $2}')
    [ "$h" = v2 ] && v2=$((v2+1))
  done
  proto=$(curl -sk --http2 -o /dev/null -w '%{http_version}' "https://127.0.0.1:${H2PORT[$c]}/")
  echo "check $c: $v2/200 ids on v2 (expect about 20), HTTP/$proto on its h2 port"
done

HZ=$(getconf CLK_TCK)
RES="$WORK/results"
: >"$RES"
# record LOAD CONTENDER ROUND REQS SECONDS-OR-RPS P99 TICKS
run() { # run LOAD CONTENDER ROUND
  local load=$1 c=$2 r=$3 pids before after out n rps p99 errs=""
  pids=$(tree "${MAIN[$c]}")
  before=$(cpu_ticks $pids)
  case $load in
  https)
    out=$(taskset -c "$LOAD_CPU" timeout 60 wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency \
          -s bench/rotate-cookie.lua "https://127.0.0.1:${PORT[$c]}/")
    n=$(echo "$out" | awk '/requests in/{print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
    p99=$(to_ms "$(echo "$out" | awk '$1=="99%"{print $2}')")
    errs=$(echo "$out" | awk '/Non-2xx|Socket errors/{printf "%s ", $0}') ;;
  h2)
    out=$(taskset -c "$LOAD_CPU" timeout 60 h2load -t1 -c"$H2CONNS" -m"$H2STREAMS" -D "$DURATION" \
          -H "cookie: uid=h2load" --log-file="$WORK/h2.log" "https://127.0.0.1:${H2PORT[$c]}/")
    n=$(echo "$out" | awk '/^requests:/{print $8}')   # succeeded
    rps=$(echo "$out" | awk '/^finished in/{gsub(",",""); print $4}')
    p99=$(awk '{print $3}' "$WORK/h2.log" | sort -n | awk '{a[NR]=$1} END{printf "%.3f", a[int(NR*0.99)]/1000}')
    errs=$(echo "$out" | awk '/^requests:/{if ($10+$12+$14 > 0) print "failed/errored/timeout " $10 "/" $12 "/" $14}')
    if ! echo "$out" | grep -q "Application protocol: h2"; then errs="$errs (not h2: $(echo "$out" | awk '/Application protocol/'))"; fi ;;
  full | resumed)
    local flag=""
    [ "$load" = resumed ] && flag=-resume
    out=$(taskset -c "$LOAD_CPU" timeout 60 "$WORK/tlsconn" -addr "127.0.0.1:${PORT[$c]}" -c "$HSCONNS" \
          -d "${DURATION}s" -n 500000 $flag)
    n=$(echo "$out" | awk '{print $2}')
    rps=$(echo "$out" | awk '{print $10}')
    p99=$(echo "$out" | awk '{print $12}')
    errs=$(echo "$out" | awk '$4 > 0 {printf "errors %s ", $4} {printf "resumed %s", $6}') ;;
  esac
  after=$(cpu_ticks $pids)
  local us=$(awk -v t=$((after-before)) -v hz="$HZ" -v n="$n" 'BEGIN{printf "%.1f", t*1e6/hz/n}')
  printf "round %d %-8s %-12s %9.0f /s %7s us CPU each  p99 %7.3f ms %s\n" "$r" "$load" "$c" "$rps" "$us" "$p99" "$errs"
  echo "$load $c $r $rps $us $p99" >>"$RES"
}

# Warm-up (upstream pools, caches, page faults).
for c in $CONTENDERS; do
  taskset -c "$LOAD_CPU" timeout 20 wrk -t2 -c"$CONNS" -d2s -s bench/rotate-cookie.lua "https://127.0.0.1:${PORT[$c]}/" >/dev/null
done
REVERSED=$(echo $CONTENDERS | tr ' ' '\n' | tac | tr '\n' ' ')
for r in $(seq "$ROUNDS"); do
  order=$CONTENDERS
  [ $((r % 2)) -eq 0 ] && order=$REVERSED
  for load in $LOADS; do
    for c in $order; do run "$load" "$c" "$r"; done
  done
done

echo
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "median of $ROUNDS rounds (${DURATION} s each; proxy on CPU $PROXY_CPU, load on CPU $LOAD_CPU; TLS 1.3, P-256 certificate):"
echo "  https: wrk -t2 -c$CONNS keep-alive; h2: h2load -c$H2CONNS -m$H2STREAMS; full/resumed: tlsconn -c$HSCONNS, one request per connection"
med() { awk -v l="$1" -v c="$2" -v k="$3" '$1==l && $2==c{print $k}' "$RES" | median; }
# ratios LOAD COLUMN: kanaria's figure over nginx's, per round.
ratios() { for r in $(seq "$ROUNDS"); do
  awk -v l="$1" -v r="$r" -v k="$2" '$1==l && $3==r && $2=="kanaria"{a=$k} $1==l && $3==r && $2=="nginx"{b=$k} END{if (b > 0) printf "%.2f\n", a/b}' "$RES"; done; }
for load in $LOADS; do
  NGINX=$(med "$load" nginx 4)
  for c in $CONTENDERS; do
    rps=$(med "$load" "$c" 4)
    printf "  %-8s %-12s %9.0f /s  %5.2fx nginx  %6s us CPU each  p99 %6.3f ms\n" \
      "$load" "$c" "$rps" "$(awk -v a="$rps" -v b="$NGINX" 'BEGIN{print a/b}')" "$(med "$load" "$c" 5)" "$(med "$load" "$c" 6)"
  done
done
echo "kanaria/nginx round by round (median):"
for load in $LOADS; do
  printf "  %-8s throughput %s(%.2f)  CPU each %s(%.2f)  p99 %s(%.2f)\n" "$load" \
    "$(ratios "$load" 4 | tr '\n' ' ')" "$(ratios "$load" 4 | median)" \
    "$(ratios "$load" 5 | tr '\n' ' ')" "$(ratios "$load" 5 | median)" \
    "$(ratios "$load" 6 | tr '\n' ' ')" "$(ratios "$load" 6 | median)"
done
for load in full resumed; do
  case " $LOADS " in *" $load "*) printf "kanaria/nginx %s handshakes ratio: %.2f\n" "$load" "$(ratios "$load" 4 | median)" ;; esac
done
printf "kanaria/nginx https throughput ratio: %.2f\n" "$(ratios https 4 | median)"
printf "kanaria/nginx h2 throughput ratio: %.2f\n" "$(ratios h2 4 | median)"
