package v1alpha1

// APIVersion and Kind identify a Rollout document.
const (
	APIVersion  = "kanaria.dev/v1alpha1"
	KindRollout = "Rollout"
)

// Rollout is one service released by kanaria. A kanaria.yaml may hold several,
// separated by "---".
type Rollout struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   Metadata    `json:"metadata"`
	Spec       RolloutSpec `json:"spec"`
}

// Metadata names the rollout.
type Metadata struct {
	Name string `json:"name"`
}

// RolloutSpec says where the service runs, how users reach it, and how a new
// revision is released.
type RolloutSpec struct {
	// Revision is the stable revision served when no release is in progress
	// (the first one, before any `kanaria start`).
	Revision string   `json:"revision"`
	Route    Route    `json:"route,omitempty"`
	Platform Platform `json:"platform"`
	// Traffic says how weights become real; default kanaria's own router.
	Traffic  *Traffic `json:"traffic,omitempty"`
	Strategy Strategy `json:"strategy"`
	// Notifications send this rollout's events to webhooks and Slack
	// (docs/notifications.md).
	Notifications *Notifications `json:"notifications,omitempty"`
	// Analysis defines the metrics that analysis steps and the background
	// analysis judge (docs/analysis.md).
	Analysis *AnalysisSpec `json:"analysis,omitempty"`
	// Paused holds a release in a cluster: while true, `kanaria controller`
	// pauses a progressing release as a user's pause; false resumes it
	// (Argo Rollouts' field of the same name). It is what `kanaria pause`
	// and `kanaria resume` write against a cluster, and what a kubectl user
	// may write; on one machine those commands go to the control plane.
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// Route is how requests reach this rollout through kanaria's router.
type Route struct {
	// Hosts: exact or "*.wildcard"; empty means any host.
	Hosts []string `json:"hosts,omitempty"`
	// PathPrefix, default "/".
	PathPrefix string `json:"pathPrefix,omitempty"`
	// KeyHeader / KeyCookie name a user id used for stickiness.
	KeyHeader string `json:"keyHeader,omitempty"`
	KeyCookie string `json:"keyCookie,omitempty"`
}

// Platform is where the revisions run: exactly one of Local, Static,
// Kubernetes or ECS.
type Platform struct {
	Local  *LocalPlatform  `json:"local,omitempty"`
	Static *StaticPlatform `json:"static,omitempty"`
	// Kubernetes runs the revisions as copies of a Deployment; only in a
	// cluster, under `kanaria controller`.
	Kubernetes *KubernetesPlatform `json:"kubernetes,omitempty"`
	// ECS runs the revisions as task sets of an ECS service, under
	// `kanaria up` (docs: README, AWS ECS).
	// +optional
	ECS *ECSPlatform `json:"ecs,omitempty"`
}

// LocalPlatform runs each revision as supervised local processes.
type LocalPlatform struct {
	// Command is a text/template rendered per instance with .Revision,
	// .Port, .Name (rollout name), .Instance and .Kanaria (path of the
	// kanaria binary, so the demo app can be the kanaria binary itself).
	// It is split into arguments like a shell would (quotes respected) but
	// not run through a shell.
	Command string            `json:"command"`
	Env     map[string]string `json:"env,omitempty"`
	Dir     string            `json:"dir,omitempty"`
	// Instances per revision, default 1.
	Instances int `json:"instances,omitempty"`
	// Readiness is an HTTP GET that must answer 2xx before an instance gets
	// traffic. Default path "/".
	Readiness Probe `json:"readiness,omitempty"`
	// GracePeriod between SIGTERM and SIGKILL, default 10s.
	GracePeriod Duration `json:"gracePeriod,omitempty"`
}

// Probe is an HTTP readiness check.
type Probe struct {
	Path     string   `json:"path,omitempty"`
	Interval Duration `json:"interval,omitempty"` // default 500ms
	Timeout  Duration `json:"timeout,omitempty"`  // default 60s until ready, else failed
}

// StaticPlatform maps revisions to endpoints that already run elsewhere.
type StaticPlatform struct {
	Revisions map[string][]string `json:"revisions"`
}

// Strategy is exactly one of Canary or BlueGreen.
type Strategy struct {
	Canary    *CanaryStrategy    `json:"canary,omitempty"`
	BlueGreen *BlueGreenStrategy `json:"blueGreen,omitempty"`
}

// CanaryStrategy is a list of steps in Argo Rollouts' vocabulary.
type CanaryStrategy struct {
	// Baseline starts a fresh copy of the stable revision beside the canary,
	// with the same weight, for a like-for-like comparison.
	Baseline bool   `json:"baseline,omitempty"`
	Steps    []Step `json:"steps"`
	// Analysis runs in the background for the whole release, from the
	// moment the canary is ready; a Fail aborts at any step.
	Analysis *BackgroundAnalysis `json:"analysis,omitempty"`
	// Mirror copies a share of stable's requests to the canary for the
	// whole release and compares the answers (docs in README, "Shadow
	// traffic"); setMirror steps use its options.
	// +optional
	Mirror *Mirror `json:"mirror,omitempty"`
}

// Step is exactly one of its fields.
type Step struct {
	// SetWeight is the canary's share, written in percent with up to four
	// decimals (0.1).
	SetWeight *Weight `json:"setWeight,omitempty"`
	// Pause with a duration waits that long; an empty pause ({}) waits for
	// `kanaria promote`.
	Pause *Pause `json:"pause,omitempty"`
	// Analysis judges the canary for a duration: Pass moves on, Fail
	// aborts, Inconclusive pauses for a human.
	Analysis *AnalysisStep `json:"analysis,omitempty"`
	// SetMirror adds, changes or (without a percentage) removes a named
	// mirror route and moves on at once.
	// +optional
	SetMirror *MirrorRoute `json:"setMirror,omitempty"`
	// SetHeaderRoute sends requests whose headers match to the canary from
	// this step on, whatever the weight, until a later step with the same
	// name changes it or removes it (no match). Argo Rollouts' step of the
	// same name and shape.
	SetHeaderRoute *SetHeaderRoute `json:"setHeaderRoute,omitempty"`
}

// SetHeaderRoute is one named header route. A request is routed to the
// canary when every match holds; several named routes may be active at once
// and any one of them suffices.
type SetHeaderRoute struct {
	// Name identifies the route for later steps (and names the Gateway API
	// rule written for it): a DNS label.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Match lists the headers a request must carry; empty removes the
	// route.
	// +optional
	Match []HeaderRoutingMatch `json:"match,omitempty"`
}

// HeaderRoutingMatch is one header a request must carry. A header that is
// absent or empty never matches; with the header repeated, its first value
// is compared.
type HeaderRoutingMatch struct {
	// HeaderName is compared case-insensitively.
	// +kubebuilder:validation:MinLength=1
	HeaderName string `json:"headerName"`
	// HeaderValue is compared case-sensitively; a regex must match the
	// whole value.
	HeaderValue StringMatch `json:"headerValue"`
}

// Pause is a step that waits.
type Pause struct {
	Duration *Duration `json:"duration,omitempty"`
}

// BlueGreenStrategy starts green beside blue and switches all traffic at once.
type BlueGreenStrategy struct {
	// AutoPromotion switches as soon as green is ready (after
	// AutoPromotionDelay); otherwise the release waits for promote.
	AutoPromotion      bool     `json:"autoPromotion,omitempty"`
	AutoPromotionDelay Duration `json:"autoPromotionDelay,omitempty"`
	// ScaleDownDelay keeps blue running after the switch so undo is
	// instant. Default 30s.
	ScaleDownDelay *Duration `json:"scaleDownDelay,omitempty"`
	// PrePromotionAnalysis judges green once it is ready, before the
	// switch (Argo Rollouts' field of the same name): the switch waits for
	// a Pass; a Fail aborts with blue still serving everything;
	// Inconclusive pauses for a human. Green gets only preview traffic
	// then, so its metrics are thresholds (a comparison needs both
	// versions serving at once).
	// +optional
	PrePromotionAnalysis *AnalysisStep `json:"prePromotionAnalysis,omitempty"`
	// PostPromotionAnalysis judges green after the switch while blue is
	// kept warm: green becomes the stable revision (and blue's scale-down
	// delay starts) only on a Pass; a Fail switches all traffic back to
	// blue in one swap and aborts. Threshold metrics only, as above.
	// +optional
	PostPromotionAnalysis *AnalysisStep `json:"postPromotionAnalysis,omitempty"`
}
