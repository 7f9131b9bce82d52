package server

import (
	"net/http"
	"time"
)

// maxHistoryPoints bounds one history answer (30 minutes at 1 s).
const maxHistoryPoints = 1800

// handleHistory serves GET /v1/rollouts/{name}/history?since=UNIXMS.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	hb, ok := optional[HistoryBackend](s, w, "this control plane keeps no metrics history")
	if !ok {
		return
	}
	name := r.PathValue("name")
	sinceMS, ok := intQuery(w, r, "since", 0, 0, 1<<53)
	if !ok {
		return
	}
	pts, err := hb.History(r.Context(), name, time.UnixMilli(sinceMS))
	if len(pts) > maxHistoryPoints {
		pts = pts[len(pts)-maxHistoryPoints:] // the newest matter most
	}
	writeList(s, w, name, pts, err)
}
