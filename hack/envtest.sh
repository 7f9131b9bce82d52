#!/usr/bin/env bash
# Builds the binaries envtest starts (kube-apiserver and etcd) from the Go module
# proxy, caches them, and prints their directory on stdout — the value for
# KUBEBUILDER_ASSETS:
#
#   export KUBEBUILDER_ASSETS="$(bash hack/envtest.sh)"
#
# setup-envtest cannot download its archives on these machines, so the binaries come
# from source: hack/envtest/ is a tools module that requires k8s.io/kubernetes (with
# its staging modules pinned to the published v0.X.Y of the same release) and gets
# etcd at the version that release pins. Its go.mod is the only place the versions
# are written; its go.sum is committed so the build is reproducible.
#
# Cache: ${KANARIA_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/kanaria}/envtest/<k8s version>/.
# A cached binary is kept only if it runs and reports the expected version, so a
# half-written or foreign file is rebuilt rather than trusted. A cold build takes
# about 10-15 minutes on 2 cores (1.7 GB peak); a warm call takes about a second.
# Progress goes to stderr; stdout carries only the directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
tools="$here/envtest"

log() { echo "envtest: $*" >&2; }

# The tools module is built on its own: no go.work from a parent directory, and
# -mod=mod so a Go release that wants extra go.sum lines adds them instead of failing
# (the committed lines are still verified).
export GOWORK=off
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
export CGO_ENABLED=0

versions="$(cd "$tools" && go list -m -f '{{.Version}}' k8s.io/kubernetes go.etcd.io/etcd/server/v3 </dev/null)"
kube_version="$(sed -n 1s/^v//p <<<"$versions")"   # 1.37.2
etcd_version="$(sed -n 2s/^v//p <<<"$versions")"   # 3.7.0
if [ -z "$kube_version" ] || [ -z "$etcd_version" ]; then
  log "cannot read the versions from $tools/go.mod: $versions"
  exit 1
fi

cache="${KANARIA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kanaria}"
dir="$cache/envtest/$kube_version"

# has_version BIN WANT: BIN runs and its --version output names WANT.
# (Output captured, not piped to grep -q: with pipefail, a grep that stops reading
# early fails the pipeline when the binary gets SIGPIPE.)
has_version() {
  local out
  [ -x "$1" ] && out="$("$1" --version </dev/null 2>/dev/null)" && [[ "$out" == *"$2"* ]]
}

ready() {
  has_version "$dir/kube-apiserver" "Kubernetes v$kube_version" &&
    has_version "$dir/etcd" "etcd Version: $etcd_version"
}

if ready; then
  log "cached: kube-apiserver v$kube_version, etcd $etcd_version in $dir"
  echo "$dir"
  exit 0
fi

mkdir -p "$dir"
# One build at a time per cache directory (parallel CI jobs, two shells): the second
# waits, then finds the binaries ready.
exec 9>"$dir/.lock"
if command -v flock >/dev/null; then flock 9; fi
if ready; then
  echo "$dir"
  exit 0
fi

tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
# -X sets the version kube-apiserver reports (/version, --version); a plain go build
# would say v0.0.0-master. etcd's version is a constant in its own module.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=v$kube_version"
  ldflags+=" -X $pkg.gitMajor=${kube_version%%.*}"
  minor="${kube_version#*.}"
  ldflags+=" -X $pkg.gitMinor=${minor%%.*}"
  ldflags+=" -X $pkg.gitTreeState=clean"
done

cd "$tools"
log "building etcd $etcd_version (go.etcd.io/etcd/server/v3) into $dir"
go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3 </dev/null
log "building kube-apiserver v$kube_version (k8s.io/kubernetes/cmd/kube-apiserver); cold: ~10 minutes"
go build -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver </dev/null

# Renames within one file system: a reader sees the old binary or the new one.
mv -f "$tmp/etcd" "$dir/etcd"
mv -f "$tmp/kube-apiserver" "$dir/kube-apiserver"
if ! ready; then
  log "built binaries do not report kube-apiserver v$kube_version / etcd $etcd_version:"
  "$dir/kube-apiserver" --version >&2 || true
  "$dir/etcd" --version >&2 || true
  exit 1
fi
log "built in $((SECONDS - start)) s"
echo "$dir"
