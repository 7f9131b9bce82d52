#!/usr/bin/env bash
# The project's whole test suite: one command, quoted verbatim by the README
# (`bash scripts/test.sh`) and run by .ci/run, so the two cannot drift apart.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "+ go test -race -timeout 40m ./... $*"
exec go test -race -timeout 40m ./... "$@"
