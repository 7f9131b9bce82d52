package notify

import (
	"strings"
	"time"
)

// Event is one thing that happened to a rollout, as a person should hear it.
type Event struct {
	// Rollout is the rollout's name.
	Rollout string `json:"rollout"`
	// Type is one of the Event* constants, or any other string: routing is
	// by this string, so new event kinds need no change here.
	Type string `json:"type"`
	// Message is a one-line human description ("error rate 4.1% > 1%").
	Message string `json:"message"`
	// Revision is the revision being released.
	Revision string `json:"revision,omitempty"`
	// DashboardURL links the rollout's dashboard page.
	DashboardURL string `json:"dashboardURL,omitempty"`
	// Time is when it happened; Notify fills in now when zero.
	Time time.Time `json:"time"`
	// Fields carries extra detail (step, weight, verdict numbers).
	Fields map[string]string `json:"fields,omitempty"`
}

// The event types the engine emits. Receivers route on the string, compared
// case-insensitively, so "analysisFailed" in a config matches too.
const (
	EventStarted              = "Started"
	EventStepReached          = "StepReached"
	EventPaused               = "Paused"
	EventAnalysisFailed       = "AnalysisFailed"
	EventAnalysisInconclusive = "AnalysisInconclusive"
	EventAborted              = "Aborted"
	EventPromoted             = "Promoted"
	EventFinished             = "Finished"
	// The stable revision does not serve (Degraded) or serves again
	// (Recovered); the data plane was lost and a new one started.
	EventDegraded           = "Degraded"
	EventRecovered          = "Recovered"
	EventDataPlaneLost      = "DataPlaneLost"
	EventDataPlaneRestarted = "DataPlaneRestarted"
)

// Severity says how an event should look to a person: formats pick colour
// and emoji from it.
type Severity int

// Severities, from routine to alarming.
const (
	SeverityInfo Severity = iota
	SeveritySuccess
	SeverityWarning
	SeverityFailure
)

// SeverityOf classifies an event type. Unknown types that mention a failure
// or an error are treated as failures, so a new engine event that reports a
// problem is not shown in green or grey by default.
func SeverityOf(eventType string) Severity {
	t := strings.ToLower(eventType)
	switch t {
	case "analysisfailed", "aborted", "degraded", "dataplanelost":
		return SeverityFailure
	case "analysisinconclusive", "paused", "notready", "restarted":
		return SeverityWarning
	case "promoted", "finished", "recovered", "dataplanerestarted":
		return SeveritySuccess
	case "started", "stepreached":
		return SeverityInfo
	}
	if strings.Contains(t, "fail") || strings.Contains(t, "error") || strings.Contains(t, "abort") {
		return SeverityFailure
	}
	return SeverityInfo
}
