package v1alpha1

import (
	"bytes"
	"text/template"
)

// KubernetesPlatform runs the revisions as Deployments in the Rollout's
// namespace. The Deployment named by WorkloadRef is the stable revision; a
// canary or baseline is a copy of it with a patch (a name suffix, role
// labels that keep the copy's selector distinct, images and env rendered
// from the revision, its own replica count). Promotion updates the target
// itself to the new revision, then removes the copy.
type KubernetesPlatform struct {
	// WorkloadRef names the existing Deployment, in the Rollout's
	// namespace, whose pods are the stable revision.
	WorkloadRef WorkloadRef `json:"workloadRef"`
	// Containers say how a revision becomes the pod template: each names a
	// container of the target and the image (and env) to give it, as
	// text/template with {{.Revision}}. At least one.
	// +kubebuilder:validation:MinItems=1
	Containers []ContainerTemplate `json:"containers"`
	// Port is the container port kanaria's Services send traffic to.
	// Default: the first port of the first container named above.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`
	// CanaryReplicas is the canary copy's replica count (default 1). With
	// the replicas traffic provider it is set from the weight instead.
	// +kubebuilder:validation:Minimum=0
	// +optional
	CanaryReplicas *int32 `json:"canaryReplicas,omitempty"`
	// BaselineReplicas is the baseline copy's replica count (default: the
	// canary's), so the two are compared like for like.
	// +kubebuilder:validation:Minimum=0
	// +optional
	BaselineReplicas *int32 `json:"baselineReplicas,omitempty"`
}

// WorkloadRef names a workload the Rollout releases (Argo Rollouts' field of
// the same name). Only apps/v1 Deployments are supported.
type WorkloadRef struct {
	// APIVersion, default "apps/v1".
	// +kubebuilder:validation:Enum=apps/v1
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind, default "Deployment".
	// +kubebuilder:validation:Enum=Deployment
	// +optional
	Kind string `json:"kind,omitempty"`
	// Name of the Deployment.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// ContainerTemplate is how one container of the target becomes a revision.
type ContainerTemplate struct {
	// Name of a container in the target's pod template.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Image is a text/template with {{.Revision}}, such as
	// "ghcr.io/acme/web:{{.Revision}}".
	// +kubebuilder:validation:MinLength=1
	Image string `json:"image"`
	// Env is set on the container (values are templates too), replacing
	// variables of the same name.
	// +optional
	Env []EnvVar `json:"env,omitempty"`
}

// EnvVar is one environment variable; Value is a text/template with
// {{.Revision}}.
type EnvVar struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +optional
	Value string `json:"value,omitempty"`
}

// Traffic says how weights become real. At most one field is set; with
// none, kanaria's own router does it (on one machine the embedded router, in
// a cluster the router Deployment).
type Traffic struct {
	// Router is kanaria's router: ppm weights, stickiness that grows
	// monotonically, overrides, version stamps, header routes.
	// +optional
	Router *RouterTraffic `json:"router,omitempty"`
	// GatewayAPI writes the weights into HTTPRoute backendRefs, for
	// clusters that already run a Gateway implementation.
	// +optional
	GatewayAPI *GatewayAPITraffic `json:"gatewayAPI,omitempty"`
	// Replicas approximates the weight with the ratio of canary pods to
	// all pods behind the user's own Service: coarse, not sticky.
	// +optional
	Replicas *ReplicasTraffic `json:"replicas,omitempty"`
	// ELB sets the weights of AWS ALB forward actions, with platform.ecs.
	// +optional
	ELB *ELBTraffic `json:"elb,omitempty"`
}

// RouterTraffic configures kanaria's router for this rollout. It has no
// settings yet beyond the spec's route; it exists so the choice is explicit.
type RouterTraffic struct{}

// GatewayAPITraffic names the HTTPRoutes whose backendRefs kanaria sets.
type GatewayAPITraffic struct {
	// HTTPRoutes in the Rollout's namespace. Every rule whose backendRefs
	// name the stable Service is managed.
	// +kubebuilder:validation:MinItems=1
	HTTPRoutes []string `json:"httpRoutes"`
}

// ReplicasTraffic is the pod-ratio fallback.
type ReplicasTraffic struct{}

// RevisionData is what the Kubernetes platform's image and env templates
// may use.
type RevisionData struct {
	Revision string
}

// RenderRevision renders an image or env template for a revision; an
// unknown field is an error.
func RenderRevision(text, revision string) (string, error) {
	t, err := template.New("revision").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, RevisionData{Revision: revision}); err != nil {
		return "", err
	}
	return b.String(), nil
}
