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
