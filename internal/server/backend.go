// Package server is kanaria's control-plane HTTP API (JSON, token-authenticated),
// its Prometheus /metrics, and later the dashboard. It serves whatever
// Backend it is given; the control plane is the real one.
//
// Routes (all but /healthz and /metrics need "Authorization: Bearer TOKEN"):
//
//	GET  /healthz                              200 "ok"
//	GET  /metrics                              Prometheus text format
//	GET  /v1/info                              Info
//	GET  /v1/rollouts                          []RolloutView
//	GET  /v1/rollouts/{name}                   RolloutView
//	POST /v1/rollouts/{name}/{command}         body Command JSON (optional) -> RolloutView
//	                                           command is start|promote|pause|resume|abort|undo|stop
//	GET  /v1/rollouts/{name}/events?after=ID&limit=N   []store.Event
//	GET  /v1/rollouts/{name}/logs?revision=R&baseline=bool&tail=N   text/plain
//	GET  /v1/rollouts/{name}/analysis          []AnalysisRun (analysis.go)
//
// Errors are JSON {"error": "..."} with 400 (bad input), 401 (no or wrong
// token), 404 (unknown rollout), 409 (command does not apply now).
package server

import (
	"context"
	"errors"
	"io"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/store"
)

// ErrNotFound is returned by a Backend for an unknown rollout.
var ErrNotFound = errors.New("no such rollout")

// ConflictError says a command does not apply in the rollout's state (409).
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return e.Reason }

// RolloutView is a rollout as the API shows it.
type RolloutView struct {
	Name     string          `json:"name"`
	Strategy string          `json:"strategy"` // "canary" | "blueGreen"
	Steps    []v1alpha1.Step `json:"steps,omitempty"`
	Status   engine.Status   `json:"status"`
	// RouterURL is where users reach the service through kanaria's router.
	RouterURL string `json:"routerURL,omitempty"`
	// Analysis is the release's current or last analyses with their
	// verdicts (AnalysisRun); absent when none ran.
	Analysis []AnalysisRun `json:"analysis,omitempty"`
	// Note is set when a command was already in effect and changed nothing
	// (e.g. pause on a paused rollout): commands are idempotent.
	Note string `json:"note,omitempty"`
}

// Info describes the control plane.
type Info struct {
	Version      string `json:"version"`
	RouterURL    string `json:"routerURL"`
	APIURL       string `json:"apiURL"`
	DashboardURL string `json:"dashboardURL,omitempty"`
	StateDir     string `json:"stateDir"`
}

// Backend is what the API serves.
type Backend interface {
	Info() Info
	List(ctx context.Context) ([]RolloutView, error)
	Get(ctx context.Context, name string) (RolloutView, error)
	// Do applies a command; *ConflictError when it does not apply.
	Do(ctx context.Context, name string, cmd engine.Command) (RolloutView, error)
	Events(ctx context.Context, name string, afterID int64, limit int) ([]store.Event, error)
	// Logs writes the last tail lines of the instances' output.
	Logs(ctx context.Context, name, revision string, baseline bool, tail int, w io.Writer) error
}
