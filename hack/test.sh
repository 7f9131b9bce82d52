#!/usr/bin/env bash
# The test command (README, "Tests"; .ci/run calls it too): installs what the tests
# need beyond Go, builds the Kubernetes API server they start (and kubectl when the
# machine has none), then runs
#   go test -race -timeout 60m ./...
# Arguments replace ./... (e.g. `bash hack/test.sh ./internal/testenv/...`).
# Works with CI=true and no stdin; on a fresh machine the first run builds
# kube-apiserver and etcd (about 10-15 minutes on 2 cores, cached afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

log() { echo "==> $*"; }

# apt_install PKG...: install only the packages not already present, running
# `apt-get update` at most once per run. A test that needs another server adds
# one line below.
APT_UPDATED=0
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "apt: already installed: $*"
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo -n); fi
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    "${sudo[@]}" apt-get update -qq </dev/null
    APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

apt_install chromium   # the dashboard in a real headless browser
apt_install prometheus # the Prometheus analysis provider against a real server
apt_install iproute2   # network namespaces for servers playing Kubernetes pods

# kube-apiserver and etcd for envtest (internal/testenv/kube), built once and cached.
log "envtest binaries (hack/envtest.sh)"
KUBEBUILDER_ASSETS="$(bash hack/envtest.sh </dev/null)"
export KUBEBUILDER_ASSETS
log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"

# kubectl for the tests of `kubectl kustomize config`, `kanaria install` and the
# kubectl plugin. Debian's kubernetes-client (1.20) is too old for the
# kustomizations, so a machine without kubectl gets one built from the same
# k8s.io/kubernetes release as the API server (2 minutes, cached beside it).
if ! command -v kubectl >/dev/null 2>&1; then
  if ! "$KUBEBUILDER_ASSETS/kubectl" version --client >/dev/null 2>&1; then
    log "building kubectl into $KUBEBUILDER_ASSETS"
    (cd hack/envtest && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 \
      go build -o "$KUBEBUILDER_ASSETS/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl </dev/null)
    mv "$KUBEBUILDER_ASSETS/kubectl.tmp" "$KUBEBUILDER_ASSETS/kubectl"
  fi
  export PATH="$KUBEBUILDER_ASSETS:$PATH"
  log "kubectl: $KUBEBUILDER_ASSETS/kubectl"
fi

if [ $# -eq 0 ]; then set -- ./...; fi
log "go test -race -timeout 60m $*"
go test -race -timeout 60m "$@" </dev/null
