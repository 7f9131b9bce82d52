#!/usr/bin/env bash
# Rollback speed: how fast analysis takes a bad canary out.
#
# Builds kanaria and runs `kanaria up` on loopback with a rollout whose
# revisions are kanaria's demo app; v2 answers 50 % errors. The canary sits
# at 1 % weight beside a 1 % baseline, with a background error-rate
# analysis (router samples, the default 5xx + connection failures, alpha
# 1 %). bench/rollback drives ~1,000 requests/s through the router, starts
# v2 through the API, and measures the seconds from v2's first answered
# request to the API reporting 0 % canary. Bounded (60 s), stopped on exit.
#
# Last line: "bad canary to 0% canary: X.X s" (goal <= 5 s).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUTER=${ROUTER:-19280} API=${API:-19281} RATE=${RATE:-1000} INTERVAL=${INTERVAL:-1s}
WORK=$(mktemp -d /tmp/kanaria-rollback.XXXXXX)
UP_PID=
cleanup() {
  if [ -n "$UP_PID" ]; then kill "$UP_PID" 2>/dev/null || true; wait "$UP_PID" 2>/dev/null || true; fi
  KANARIA_STATE_DIR="$WORK/state" "$WORK/kanaria" down >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

go build -o "$WORK/kanaria" ./cmd/kanaria
go build -o "$WORK/rollback" ./bench/rollback

cat >"$WORK/kanaria.yaml" <<YAML
apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata: {name: app}
spec:
  revision: v1
  platform:
    local:
      command: "{{.Kanaria}} demo-app --revision {{.Revision}} --port {{.Port}} --error-rate-for v2=0.5"
      gracePeriod: 2s
      readiness: {path: /healthz, interval: 100ms}
  analysis:
    metrics:
      - name: errors
        kind: errorRate
        critical: true
        interval: $INTERVAL
        provider: {router: {}}
  strategy:
    canary:
      baseline: true
      analysis: {metrics: [errors]}
      steps:
        - setWeight: 1
        - pause: {}
YAML

"$WORK/kanaria" up -f "$WORK/kanaria.yaml" --listen "127.0.0.1:$ROUTER" --api "127.0.0.1:$API" \
  --state-dir "$WORK/state" >"$WORK/up.log" 2>&1 &
UP_PID=$!
for _ in $(seq 150); do
  grep -q '^kanaria up: router' "$WORK/up.log" && break
  kill -0 "$UP_PID" 2>/dev/null || { cat "$WORK/up.log" >&2; exit 1; }
  sleep 0.1
done
grep -q '^kanaria up: router' "$WORK/up.log" || { echo "kanaria up not ready" >&2; cat "$WORK/up.log" >&2; exit 1; }

echo "kanaria up on 127.0.0.1:$ROUTER; canary v2 (50 % errors) at 1 % with a 1 % baseline; analysis interval $INTERVAL; $RATE req/s"
"$WORK/rollback" -router "http://127.0.0.1:$ROUTER/" -state-dir "$WORK/state" -rollout app -canary v2 -rate "$RATE" -timeout 60s
