// Package v1alpha1 is the Kubernetes custom resource kanaria.dev/v1alpha1
// Rollout: the object that `kanaria controller` reconciles. Its spec and
// status are the very types kanaria.yaml and the engine use
// (github.com/kanaria-dev/kanaria/api/v1alpha1); this package only adds what
// the API server needs around them: object metadata, the list type, the
// scheme registration, and the kubebuilder markers from which controller-gen
// generates the CRD (config/crd/bases) and DeepCopy.
//
// It is a separate package because object metadata (k8s.io/apimachinery)
// links net/http, and the engine and the one-machine spec must not.
//
// +kubebuilder:object:generate=true
// +groupName=kanaria.dev
package v1alpha1
