package v1alpha1

import (
	"encoding/json"
	"time"
)

// Phase is where a rollout is.
type Phase string

// Phases, named as Argo Rollouts users know them.
const (
	// PhaseHealthy: no release in progress; stable serves all traffic.
	PhaseHealthy Phase = "Healthy"
	// PhaseProgressing: a release is moving through its steps.
	PhaseProgressing Phase = "Progressing"
	// PhasePaused: waiting for promote (a pause step without duration, a user's
	// pause, or blue/green waiting for promotion).
	PhasePaused Phase = "Paused"
	// PhaseAborted: the canary got 0 % and was stopped; stable serves all.
	// A new `start` (or `stop`) leaves this phase.
	PhaseAborted Phase = "Aborted"
	// PhaseDegraded: no release in progress and the stable revision does
	// not serve: it cannot start or never became ready. It is started again
	// with backoff (StableRetries, StableRetryAt); the Ready condition says
	// why. Once it serves the phase is Healthy again.
	PhaseDegraded Phase = "Degraded"
)

// Weights are the canary's and the baseline's shares of traffic. They are
// written as integers of ppm ({"canaryPPM": 1000, "baselinePPM": 1000}).
//
// The tags and markers describe that JSON for the CRD schema; MarshalJSON
// writes it, since a Weight on its own is written as a percentage.
type Weights struct {
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=integer
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	CanaryPPM Weight `json:"canaryPPM"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=integer
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	BaselinePPM Weight `json:"baselinePPM"`
}

// weightsJSON is how Weights are stored and shown by the API: integers of
// ppm under names that say so ({"canaryPPM": 1000}), unlike the percentages
// a Weight writes where people type them.
type weightsJSON struct {
	CanaryPPM   uint32 `json:"canaryPPM"`
	BaselinePPM uint32 `json:"baselinePPM"`
}

// MarshalJSON writes {"canaryPPM": n, "baselinePPM": n}.
func (w Weights) MarshalJSON() ([]byte, error) {
	return json.Marshal(weightsJSON{uint32(w.CanaryPPM), uint32(w.BaselinePPM)})
}

// UnmarshalJSON reads {"canaryPPM": n, "baselinePPM": n}.
func (w *Weights) UnmarshalJSON(b []byte) error {
	var j weightsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*w = Weights{Weight(j.CanaryPPM), Weight(j.BaselinePPM)}
	return nil
}

// RolloutStatus is the durable state of one rollout: the engine's input and
// output, stored by the control plane on one machine and as the Rollout
// object's status in a cluster. It is persisted before any of
// the actions derived from it are carried out.
type RolloutStatus struct {
	Rollout    string `json:"rollout"`
	Phase      Phase  `json:"phase"`
	Generation int64  `json:"generation"`

	// StableRevision serves whatever the canary and baseline do not.
	StableRevision string `json:"stableRevision"`
	// CanaryRevision is the revision being released; empty when none.
	CanaryRevision string `json:"canaryRevision,omitempty"`
	// PreviousRevision is the stable before the last promotion (for undo).
	PreviousRevision string `json:"previousRevision,omitempty"`
	// ScaleDownAt is when the warm previous revision is stopped.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	ScaleDownAt time.Time `json:"scaleDownAt,omitempty"`

	// StepIndex is the current canary step; len(steps) when all are done.
	// Blue/green counts its stages the same way: 0 while the
	// pre-promotion analysis judges green, 1 while the switch waits
	// (auto-promotion delay or promote), 2 after the switch while the
	// post-promotion analysis judges green and blue is still stable.
	StepIndex int `json:"stepIndex"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	StepStartedAt time.Time `json:"stepStartedAt,omitempty"`
	// PausedBy says why Phase is Paused: "step", "user", "promotion"
	// (blue/green waiting), "inconclusive" (analysis).
	PausedBy string `json:"pausedBy,omitempty"`

	// Weights are the weights the engine wants; ObservedWeights were last
	// read back from the router (as Argo records status.canary.weights).
	Weights         Weights  `json:"weights"`
	ObservedWeights *Weights `json:"observedWeights,omitempty"`

	// Mirrors are the setMirror routes in force, in the order they were
	// first set; cleared when the release ends.
	// +optional
	Mirrors []MirrorRoute `json:"mirrors,omitempty"`
	// HeaderRoutes are the setHeaderRoute routes in force, in the order
	// their steps first set them: requests that match one go to the
	// canary whatever its weight. Cleared when the release ends.
	// +optional
	HeaderRoutes []SetHeaderRoute `json:"headerRoutes,omitempty"`

	// Baseline is true while a baseline copy of stable runs beside the canary.
	Baseline bool `json:"baseline,omitempty"`

	// CanaryReady: the canary (and its baseline) are observed ready, so
	// steps run. Until first ready every weight stays 0. A canary that was
	// ready and is not any more (a crashed process being restarted, the
	// data plane down) makes it false again, with ReadyLostAt set: steps and
	// their timers wait until it is ready again.
	CanaryReady bool `json:"canaryReady,omitempty"`
	// ReadyLostAt is when a canary (or baseline) that had been ready was
	// seen not ready; zero while it is ready or before it first was.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	ReadyLostAt time.Time `json:"readyLostAt,omitempty"`
	// StableRetries counts how often a stable revision that does not serve
	// (phase Degraded) was started again; StableRetryAt is when it is
	// started next (zero while an attempt is under way).
	StableRetries int `json:"stableRetries,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	StableRetryAt time.Time `json:"stableRetryAt,omitempty"`
	// FullPromotion: promote --full (or an undo of a scaled-down revision)
	// was asked for; the canary takes all traffic as soon as it is ready.
	FullPromotion bool `json:"fullPromotion,omitempty"`
	// PausedAt is when a user paused; resume shifts StepStartedAt by the
	// paused time so a timed pause or an auto-promotion delay continues
	// with the time it had left.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	PausedAt time.Time `json:"pausedAt,omitempty"`

	Message string `json:"message,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	StartedAt time.Time `json:"startedAt,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	UpdatedAt time.Time `json:"updatedAt,omitempty"`

	// The fields below are the cluster's: `kanaria controller` writes them
	// beside the engine's, and the engine neither reads nor writes them.

	// ObservedGeneration is the metadata.generation the controller last
	// acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// ObservedRevision is the spec.revision the controller last acted on: a
	// spec.revision that differs from it starts a release (so an abort or
	// an undo does not start the same revision again).
	// +optional
	ObservedRevision string `json:"observedRevision,omitempty"`
	// LastCommand is the id of the last kanaria.dev/command annotation the
	// controller applied; written with the status, so a restarted controller
	// never applies a command twice.
	// +optional
	LastCommand string `json:"lastCommand,omitempty"`
	// Step ("3/8") and CanaryWeight ("10%") repeat the step index and the
	// canary's weight for kubectl's printer columns.
	// +optional
	Step string `json:"step,omitempty"`
	// +optional
	CanaryWeight string `json:"canaryWeight,omitempty"`
	// Traffic is the assignment in force, as the router traffic provider
	// publishes it for kanaria's router replicas in the cluster.
	// +optional
	Traffic *TrafficStatus `json:"traffic,omitempty"`
	// Conditions: Ready (the stable revision serves; False with the reason
	// when it does not), Progressing, Paused, Invalid (the spec or its target
	// cannot be released). On one machine the engine writes Ready; in a
	// cluster the controller writes them all.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []Condition `json:"conditions,omitempty"`
}

// TrafficStatus is a complete routing assignment for one rollout: who serves
// each role and with what weight.
type TrafficStatus struct {
	// Generation counts the assignments the router traffic provider wrote:
	// it grows with every change, and each router replica reports the
	// generation it applied in its Lease (traffic.AppliedTraffic), so old
	// weights that happen to equal new ones are never taken for a read-back.
	// +optional
	Generation int64         `json:"generation,omitempty"`
	Stable     BackendStatus `json:"stable"`
	// +optional
	Canary *BackendStatus `json:"canary,omitempty"`
	// +optional
	Baseline *BackendStatus `json:"baseline,omitempty"`
	Weights  Weights        `json:"weights"`
	// HeaderRoutes send matching requests to the canary whatever the
	// weights (the status's headerRoutes).
	// +optional
	HeaderRoutes []SetHeaderRoute `json:"headerRoutes,omitempty"`
}

// BackendStatus is one role's revision and the endpoints serving it, as
// the platform reports them (in a cluster, Service URLs such as
// "http://web-canary.shop.svc:8080").
type BackendStatus struct {
	Revision string `json:"revision"`
	// +optional
	Endpoints []string `json:"endpoints,omitempty"`
}

// Condition is one aspect of a Rollout's state, with the same fields and
// meaning as Kubernetes' metav1.Condition (a separate type so this package
// links no Kubernetes code).
//
// +kubebuilder:object:generate=false
type Condition struct {
	// Type: Ready, Progressing, Paused or Invalid.
	Type string `json:"type"`
	// Status is True, False or Unknown.
	// +kubebuilder:validation:Enum=True;False;Unknown
	Status ConditionStatus `json:"status"`
	// ObservedGeneration is the metadata.generation it was set for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastTransitionTime is when Status last changed.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	LastTransitionTime time.Time `json:"lastTransitionTime"`
	// Reason is a CamelCase word; Message says it for people.
	Reason string `json:"reason"`
	// +optional
	Message string `json:"message,omitempty"`
}

// ConditionStatus is True, False or Unknown.
type ConditionStatus string

// Values of Condition.Status.
const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)

// Condition types of a Rollout.
const (
	// ConditionReady is True (reason StableReady) when the stable revision
	// serves, False (StableNotServing) when it cannot, with why.
	ConditionReady       = "Ready"
	ConditionProgressing = "Progressing"
	ConditionPaused      = "Paused"
	ConditionInvalid     = "Invalid"
)

// Reasons of the Ready condition.
const (
	ReasonStableReady      = "StableReady"
	ReasonStableNotServing = "StableNotServing"
)

// FindCondition returns the condition of a type, nil when there is none.
func FindCondition(conds []Condition, typ string) *Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// SetCondition returns conds with c in its type's place (added when new);
// LastTransitionTime is now when the status changes, kept otherwise. conds
// itself is not modified.
func SetCondition(conds []Condition, c Condition, now time.Time) []Condition {
	out := append([]Condition(nil), conds...)
	if old := FindCondition(out, c.Type); old != nil {
		c.LastTransitionTime = old.LastTransitionTime
		if old.Status != c.Status || c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = now
		}
		*old = c
		return out
	}
	c.LastTransitionTime = now
	return append(out, c)
}
