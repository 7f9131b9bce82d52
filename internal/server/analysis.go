package server

import (
	"context"
	"net/http"
	"time"

	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
)

// AnalysisRun is one analysis of a release as the API shows it: the step's
// or the background analysis's latest report with the numbers behind it.
type AnalysisRun struct {
	// Kind is "step" or "background"; Step the 1-based step number.
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

// AnalysisBackend is implemented by backends that run analyses. Optional,
// like HistoryBackend: without it the analysis route answers 404.
type AnalysisBackend interface {
	// Analysis returns a rollout's current or last analyses (background
	// first, then the step's).
	Analysis(ctx context.Context, name string) ([]AnalysisRun, error)
}

// handleAnalysis serves GET /v1/rollouts/{name}/analysis.
func (s *Server) handleAnalysis(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, r.URL.Path+" needs GET")
		return
	}
	ab, ok := s.b.(AnalysisBackend)
	if !ok {
		writeError(w, http.StatusNotFound, "this control plane runs no analysis")
		return
	}
	name := r.PathValue("name")
	runs, err := ab.Analysis(r.Context(), name)
	if err != nil {
		s.backendError(w, name, err)
		return
	}
	if runs == nil {
		runs = []AnalysisRun{}
	}
	writeJSON(w, http.StatusOK, runs)
}
