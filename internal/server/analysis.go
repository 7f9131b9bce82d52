package server

import "net/http"

// handleAnalysis serves GET /v1/rollouts/{name}/analysis.
func (s *Server) handleAnalysis(w http.ResponseWriter, r *http.Request) {
	ab, ok := optional[AnalysisBackend](s, w, "this control plane runs no analysis")
	if !ok {
		return
	}
	name := r.PathValue("name")
	runs, err := ab.Analysis(r.Context(), name)
	writeList(s, w, name, runs, err)
}

// handleDiff serves GET /v1/rollouts/{name}/diff.
func (s *Server) handleDiff(w http.ResponseWriter, r *http.Request) {
	db, ok := optional[DiffBackend](s, w, "this control plane mirrors no traffic")
	if !ok {
		return
	}
	name := r.PathValue("name")
	rep, err := db.Diff(r.Context(), name)
	s.writeResult(w, name, rep, err)
}
