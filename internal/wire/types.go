package wire

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/router/shadow"
)

// DiffReport is GET /v1/rollouts/{name}/diff: the comparison of the
// answers of mirrored requests (shadow traffic), per endpoint and field.
// Its one home is the router's shadow package.
type DiffReport = shadow.Report

// ErrNotFound is an unknown rollout (404).
var ErrNotFound = errors.New("no such rollout")

// ConflictError says a command does not apply in the rollout's state (409).
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return e.Reason }

// InvalidError says a request can never be carried out as asked, whatever
// the rollout's state, such as a start of a revision its platform has no
// endpoints for (400). Nothing was changed.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return e.Reason }

// UnavailableError says a command cannot be carried out now because a part
// kanaria needs is down and being restarted, such as the data plane (503).
// Nothing was changed; the same command succeeds once it is back.
type UnavailableError struct{ Reason string }

func (e *UnavailableError) Error() string { return e.Reason }

// Info describes the control plane (GET /v1/info).
type Info struct {
	Version      string `json:"version"`
	RouterURL    string `json:"routerURL"`
	APIURL       string `json:"apiURL"`
	DashboardURL string `json:"dashboardURL,omitempty"`
	StateDir     string `json:"stateDir"`
}

// RolloutView is a rollout as the API shows it.
type RolloutView struct {
	Name     string                 `json:"name"`
	Strategy string                 `json:"strategy"` // "canary" | "blueGreen"
	Steps    []v1alpha1.Step        `json:"steps,omitempty"`
	Status   v1alpha1.RolloutStatus `json:"status"`
	// RouterURL is where users reach the service through kanaria's router.
	RouterURL string `json:"routerURL,omitempty"`
	// Analysis is the release's current or last analyses with their
	// verdicts (AnalysisRun); absent when none ran.
	Analysis []AnalysisRun `json:"analysis,omitempty"`
	// Traffic is the traffic provider's account of the weights in effect
	// when it is not kanaria's router ("ELB weights canary 1 : stable 9
	// ... = 10%"): what it honours of the weights asked, and its limits.
	Traffic string `json:"traffic,omitempty"`
	// Note is set when a command was already in effect and changed nothing
	// (e.g. pause on a paused rollout): commands are idempotent.
	Note string `json:"note,omitempty"`
}

// Event is one entry of a rollout's history, as the store keeps it.
type Event struct {
	// ID grows with every event of every rollout: a client pages with
	// ?after=ID.
	ID      int64     `json:"id"`
	Rollout string    `json:"rollout"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Message string    `json:"message"`
}

// AnalysisRun is one analysis of a release as the API shows it: the
// current stage's (a canary step, blue/green's pre- or post-promotion) or
// the background analysis's latest report with the numbers behind it.
type AnalysisRun struct {
	// Kind is "step", "background", "prePromotion" or "postPromotion"
	// (blue/green); Step the 1-based step number of a step's analysis.
	Kind string `json:"kind"`
	Step int    `json:"step,omitempty"`
	// Revision is the canary judged; CompareRevision the revision of the
	// version it is compared with (ComparedWith: baseline or stable).
	Revision        string `json:"revision"`
	ComparedWith    string `json:"comparedWith"`
	CompareRevision string `json:"compareRevision,omitempty"`
	// StartedAt is when the analysis began collecting; UpdatedAt when it
	// was last judged.
	StartedAt time.Time `json:"startedAt"`
	UpdatedAt time.Time `json:"updatedAt,omitempty"`
	// Running is false once the step or the release ended; the report is
	// then the last one.
	Running bool `json:"running"`
	// CanaryRequests and CompareRequests are the requests the router saw
	// per version since StartedAt.
	CanaryRequests  int64 `json:"canaryRequests"`
	CompareRequests int64 `json:"compareRequests"`
	// Looks counts evaluations (judge.Config.Look of the latest).
	Looks int `json:"looks"`
	// Report is the judge's latest report.
	Report judge.Report `json:"report"`
}

// HistoryPoint is one second of a rollout's traffic: the weights in force and,
// per version ("stable", "canary", "baseline"), what the router saw finish in
// that second. Charts and `kanaria status -w` draw from these.
//
// Its JSON is flat ({"t": ms, "canaryPPM": n, "baselinePPM": n, "versions":
// {...}}), what the dashboard reads; MarshalJSON writes it.
type HistoryPoint struct {
	// UnixMS is the start of the second, in Unix milliseconds (what
	// JavaScript's Date takes, so the dashboard converts nothing).
	UnixMS int64
	// Weights are the weights in force in the second.
	Weights v1alpha1.Weights
	// Versions by role; a role the release does not have is absent.
	Versions map[string]VersionPoint
}

// historyPointJSON is a HistoryPoint on the wire: the weights as integers
// of ppm beside the time, not nested.
type historyPointJSON struct {
	UnixMS      int64                   `json:"t"`
	CanaryPPM   uint32                  `json:"canaryPPM"`
	BaselinePPM uint32                  `json:"baselinePPM"`
	Versions    map[string]VersionPoint `json:"versions,omitempty"`
}

// MarshalJSON writes {"t": ms, "canaryPPM": n, "baselinePPM": n, "versions": {...}}.
func (p HistoryPoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(historyPointJSON{p.UnixMS, uint32(p.Weights.CanaryPPM), uint32(p.Weights.BaselinePPM), p.Versions})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *HistoryPoint) UnmarshalJSON(b []byte) error {
	var j historyPointJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*p = HistoryPoint{j.UnixMS, v1alpha1.Weights{CanaryPPM: v1alpha1.Weight(j.CanaryPPM), BaselinePPM: v1alpha1.Weight(j.BaselinePPM)}, j.Versions}
	return nil
}

// VersionPoint is one version's traffic in one second.
type VersionPoint struct {
	Revision string `json:"revision,omitempty"`
	// Requests finished in the second, so it is also the rate in req/s.
	Requests int `json:"requests"`
	// Errors are 5xx answers plus connection failures to the upstream.
	Errors int `json:"errors"`
	// ErrorRate is Errors/Requests, 0 when there were no requests.
	ErrorRate float64 `json:"errorRate"`
	// P50Ms and P99Ms are latency percentiles in milliseconds; absent
	// (nil) when there were no requests: no data is not zero latency.
	P50Ms *float64 `json:"p50ms,omitempty"`
	P99Ms *float64 `json:"p99ms,omitempty"`
}

// Server-Sent Event names of the watch streams. Each event's data is one
// line of JSON:
//
//	GET /v1/rollouts/{name}/watch?after=EVENTID
//	    event: rollout  data: RolloutView        (first, then on every change)
//	    event: events   data: []Event            (new events, oldest first)
//	    event: points   data: []HistoryPoint     (new seconds of metrics)
//	    event: problem  data: {"error": "..."}   (the backend failed; the stream goes on)
//	GET /v1/watch
//	    event: rollouts data: []RolloutView      (first, then on every change)
//	    event: problem  data: {"error": "..."}
const (
	WatchRollout  = "rollout"
	WatchEvents   = "events"
	WatchPoints   = "points"
	WatchProblem  = "problem"
	WatchRollouts = "rollouts"
)
