#!/usr/bin/env bash
# Regenerates what controller-gen derives from the API types: DeepCopy methods
# (api/**/zz_generated.deepcopy.go) and the Rollout CRD (config/crd/bases).
# The output is committed; api/kube/v1alpha1/generated_test.go and config/install_test.go
# fail when it is stale.
#
#   bash hack/generate.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# One pinned version, run from the module proxy (no tools in go.mod).
CONTROLLER_GEN="sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0"

go run "$CONTROLLER_GEN" object paths=./api/... </dev/null
go run "$CONTROLLER_GEN" crd:allowDangerousTypes=true paths=./api/kube/... output:crd:artifacts:config=config/crd/bases </dev/null
# The install manifests the binary embeds (kanaria install): the rendering of
# config/, which includes the CRD above (config/install_test.go checks it).
kubectl kustomize config > config/install.yaml
