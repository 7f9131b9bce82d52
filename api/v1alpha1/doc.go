// Package v1alpha1 is the one home of kanaria's Rollout types: the documents
// of kanaria.yaml and (soon) of the Kubernetes custom resource
// kanaria.dev/v1alpha1 Rollout share these Go types, so a field exists, is
// named and is documented in one place.
//
// The package is plain data with small pure helpers, and imports nothing but
// the standard library, so users' Go programs and generated code
// (controller-gen's CRD schema and DeepCopy) can depend on it without pulling
// in the rest of kanaria. Loading a file with line and column positions,
// defaults and validation live in internal/spec; converting these types into
// a runtime's own configuration (the judge's metrics, the notifier) happens
// in the package that runs it, so imports point inward, at this package.
//
// +kubebuilder:object:generate=true
// +groupName=kanaria.dev
package v1alpha1
