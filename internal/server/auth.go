package server

import (
	"net/http"

	"github.com/kanaria-dev/kanaria/internal/wire/jsonhttp"
)

// requireToken refuses a request without the right bearer token before the
// backend sees it; a dashboard session cookie is the other way in.
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := jsonhttp.Bearer(r)
		if !ok && s.cookieAuth(w, r, next) {
			return // a dashboard session (dashboard.go); the bearer token wins
		}
		if !ok || !s.token.Matches(tok) {
			msg := "missing bearer token (the CLI reads it from STATE_DIR/token)"
			if ok {
				msg = "wrong token"
			}
			jsonhttp.WriteUnauthorized(w, "kanaria", msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}
