package v1alpha1

import "time"

// AnalysisEvidence is what one running analysis has measured so far: all the
// judge needs to go on where it was after a restart of the control plane.
// kanaria up stores it beside the rollout's status (in the same transaction
// as a transition, and as a checkpoint between transitions), so a kill -9
// mid-analysis resumes with the same counts, the same latency reservoir and
// the same number of looks, instead of collecting from zero. It is not part
// of RolloutStatus: it is large (a reservoir of latencies) and changes with
// every request, so it is stored and checkpointed on its own.
//
// The error-rate test is a function of the cumulative counts alone (its
// e-value is computed from them at every look), so the counts are its whole
// state; the latency test needs the samples (a uniform reservoir) and the
// number of looks already taken, since its level is spent over looks.
//
// +kubebuilder:object:generate=false
type AnalysisEvidence struct {
	// Key identifies the analysis run (its kind, revision, release and
	// step); evidence whose key is not the running analysis's is dropped.
	Key string `json:"key"`
	// StartedAt is when the analysis began collecting: samples before it
	// are not counted.
	StartedAt time.Time `json:"startedAt"`
	// Looks is how many times the judge has evaluated the analysis.
	Looks int `json:"looks"`
	// Versions are the router's data per version (canary and the version
	// it is compared with).
	Versions []VersionEvidence `json:"versions,omitempty"`
	// Metrics are the last answers of the threshold metrics whose
	// providers are asked over the network (prometheus, web, cloudwatch).
	// A remote comparison is asked again after a restart: its source
	// keeps the counts for the whole window.
	Metrics []MetricEvidence `json:"metrics,omitempty"`
	// UpdatedAt is when this evidence was taken.
	UpdatedAt time.Time `json:"updatedAt"`
}

// VersionEvidence is one version's router samples since an analysis began.
//
// +kubebuilder:object:generate=false
type VersionEvidence struct {
	// Version is the role: canary, baseline or stable.
	Version string `json:"version"`
	// Revision the data belongs to.
	Revision string `json:"revision"`
	// Statuses count requests per HTTP status (0 = connection failure).
	Statuses []StatusCount `json:"statuses,omitempty"`
	// Total is every request counted.
	Total int64 `json:"total"`
	// Latencies is the uniform reservoir of latencies in milliseconds.
	Latencies []float64 `json:"latencies,omitempty"`
	// LastSample is the finish time (Unix nanoseconds) of the newest router
	// sample counted, so none is counted twice after a restart.
	LastSample int64 `json:"lastSample,omitempty"`
}

// StatusCount is how many requests ended with one HTTP status.
//
// +kubebuilder:object:generate=false
type StatusCount struct {
	Status int   `json:"status"`
	Count  int64 `json:"count"`
}

// MetricEvidence is a remote metric's last answer.
//
// +kubebuilder:object:generate=false
type MetricEvidence struct {
	Name string `json:"name"`
	// Value is the number read; nil when the provider had none.
	Value *float64 `json:"value,omitempty"`
	// Query is the query as run; Error the provider's error, if any.
	Query string `json:"query,omitempty"`
	Error string `json:"error,omitempty"`
	// At is when the answer came.
	At time.Time `json:"at"`
}
