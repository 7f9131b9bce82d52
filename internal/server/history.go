package server

import (
	"context"
	"net/http"
	"time"
)

// HistoryPoint is one second of a rollout's traffic: the weights in force and,
// per version ("stable", "canary", "baseline"), what the router saw finish in
// that second. Charts and `kanaria status -w` draw from these.
type HistoryPoint struct {
	// UnixMS is the start of the second, in Unix milliseconds (what
	// JavaScript's Date takes, so the dashboard converts nothing).
	UnixMS      int64  `json:"t"`
	CanaryPPM   uint32 `json:"canaryPPM"`
	BaselinePPM uint32 `json:"baselinePPM"`
	// Versions by role; a role the release does not have is absent.
	Versions map[string]VersionPoint `json:"versions,omitempty"`
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

// HistoryBackend is implemented by backends that keep metrics history. It is
// optional: a Backend without it answers 404 on the history route, and the
// dashboard draws no charts.
type HistoryBackend interface {
	// History returns the points at or after since, oldest first.
	History(ctx context.Context, name string, since time.Time) ([]HistoryPoint, error)
}

// maxHistoryPoints bounds one history answer (30 minutes at 1 s).
const maxHistoryPoints = 1800

// handleHistory serves GET /v1/rollouts/{name}/history?since=UNIXMS.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, r.URL.Path+" needs GET")
		return
	}
	hb, ok := s.b.(HistoryBackend)
	if !ok {
		writeError(w, http.StatusNotFound, "this control plane keeps no metrics history")
		return
	}
	name := r.PathValue("name")
	sinceMS, err := intParam(r.URL.Query().Get("since"), 0, 0, 1<<53)
	if err != nil {
		writeError(w, http.StatusBadRequest, "since: "+err.Error())
		return
	}
	pts, err := hb.History(r.Context(), name, time.UnixMilli(sinceMS))
	if err != nil {
		s.backendError(w, name, err)
		return
	}
	if len(pts) > maxHistoryPoints {
		pts = pts[len(pts)-maxHistoryPoints:] // the newest matter most
	}
	if pts == nil {
		pts = []HistoryPoint{}
	}
	writeJSON(w, http.StatusOK, pts)
}
