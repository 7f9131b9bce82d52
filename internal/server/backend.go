// Package server is kanaria's control-plane HTTP API (JSON, token-authenticated),
// its Prometheus /metrics, the live watch streams (Server-Sent Events) and the
// dashboard. It serves whatever Backend it is given; the control plane is the
// real one. The routes, types and errors are the contract in internal/wire.
package server

import (
	"context"
	"io"
	"time"

	"github.com/kanaria-dev/kanaria/internal/engine"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

// Backend is what the API serves. Its errors say which status to answer
// with: wire.ErrNotFound (404), *wire.ConflictError (409), anything else
// 500.
type Backend interface {
	Info() wire.Info
	List(ctx context.Context) ([]wire.RolloutView, error)
	Get(ctx context.Context, name string) (wire.RolloutView, error)
	// Do applies a command; *wire.ConflictError when it does not apply.
	Do(ctx context.Context, name string, cmd engine.Command) (wire.RolloutView, error)
	Events(ctx context.Context, name string, afterID int64, limit int) ([]wire.Event, error)
	// Logs writes the last tail lines of the instances' output.
	Logs(ctx context.Context, name, revision string, baseline bool, tail int, w io.Writer) error
}

// HistoryBackend is implemented by backends that keep metrics history. It is
// optional: a Backend without it answers 404 on the history route, and the
// dashboard draws no charts.
type HistoryBackend interface {
	// History returns the points at or after since, oldest first.
	History(ctx context.Context, name string, since time.Time) ([]wire.HistoryPoint, error)
}

// DiffBackend is implemented by backends whose router mirrors requests.
// Optional: without it the diff route answers 404.
type DiffBackend interface {
	// Diff returns the comparison of a rollout's mirrored answers;
	// wire.ErrNotFound for an unknown rollout or one that never mirrored.
	Diff(ctx context.Context, name string) (wire.DiffReport, error)
}

// AnalysisBackend is implemented by backends that run analyses. Optional,
// like HistoryBackend: without it the analysis route answers 404.
type AnalysisBackend interface {
	// Analysis returns a rollout's current or last analyses (background
	// first, then the step's).
	Analysis(ctx context.Context, name string) ([]wire.AnalysisRun, error)
}
