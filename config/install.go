// Package config holds kanaria's Kubernetes install manifests: kustomize
// folders (crd/, rbac/, controller/, router/ and the top kustomization.yaml)
// and install.yaml, their rendering by `kubectl kustomize config`, which
// `kanaria install` prints or applies. install.yaml is generated (bash
// hack/generate.sh) and a test fails when it differs from what kubectl
// renders now, so the binary always carries exactly the folder's manifests.
package config

import _ "embed"

// InstallYAML is `kubectl kustomize config`: every object of an install, as
// one multi-document YAML stream.
//
//go:embed install.yaml
var InstallYAML []byte
